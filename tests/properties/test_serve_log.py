"""Any history of writes (adds with new classes, deletes, rollbacks) leaves the served model equal
to a batch refit on the rows it holds, live and after a restart from the journal."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from service_helpers import TOKEN, make_models  # noqa: E402

from headwise.heads import LDAHead  # noqa: E402
from headwise.service import ServeSettings  # noqa: E402
from headwise.service._journal import JOURNAL_NAME, Journal  # noqa: E402
from headwise.service._model import ServedModel  # noqa: E402

LABELS = ["card", "food", "travel", "crypto", "pets"]  # the last two are new classes
OP = st.one_of(
    st.tuples(st.just("add"), st.lists(st.integers(0, 4), min_size=1, max_size=4),
              st.sampled_from(["auto", "train", "calibration"])),  # fmt: skip
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.booleans()),
    st.tuples(st.just("rollback"), st.integers(0, 10**6)),
)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="hw-serve-prop-"))
    return {**make_models(folder), "folder": folder}


def _refit_logits(base: dict[str, Any], model: ServedModel, probe: np.ndarray) -> np.ndarray:
    train = [r for r in model.active.values() if r.role == "train"]
    X = np.vstack([base["X_fit"], *[r.x[None, :] for r in train]])
    y = np.concatenate([base["y_fit"], np.array([r.label for r in train], dtype=str)]).astype(str)
    head = LDAHead(shrinkage=0.2).fit(X, y)
    assert head.classes_.tolist() == model.state.head.classes_.tolist()
    return head.logits(probe)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OP, min_size=1, max_size=8), seed=st.integers(0, 1000), snap=st.sampled_from([0, 2]))
def test_any_history_equals_a_batch_refit(base: dict[str, Any], ops: list[Any], seed: int, snap: int) -> None:
    rng = np.random.default_rng(seed)
    probe = base["X"][::7]
    with tempfile.TemporaryDirectory() as state:
        s = ServeSettings(base["folder"], token=TOKEN, state_dir=Path(state), snapshot_every=snap)
        journal = Journal(Path(state) / JOURNAL_NAME)
        model = ServedModel("intents", base["folder"] / "intents.safetensors", s)
        model.restore(journal)
        for op in ops:
            try:
                if op[0] == "add":
                    X = rng.normal(size=(len(op[1]), 32)) * 0.3 + base["X"][rng.integers(0, 90, len(op[1]))]
                    model.add(journal, X, [LABELS[k] for k in op[1]], None, op[2])
                elif op[0] == "delete" and model.active:
                    ids = sorted(model.active)
                    model.remove(journal, ids[op[1] % len(ids)], op[2])
                elif op[0] == "rollback":
                    model.rollback(journal, op[1] % (model.state.version + 1))
            except Exception as exc:  # only the documented refusals are allowed
                assert type(exc).__name__ == "Conflict", exc
        live = model.state.head.logits(probe)
        np.testing.assert_allclose(live, _refit_logits(base, model, probe), atol=1e-8)
        n_cal = 18 + sum(r.role == "calibration" and r.label in model.state.head.classes_ for r in model.active.values())
        assert model.state.n_calibration == n_cal
        journal.close()
        journal = Journal(Path(state) / JOURNAL_NAME)
        again = ServedModel("intents", base["folder"] / "intents.safetensors", s)
        again.restore(journal)
        journal.close()
        assert again.state.version == model.state.version and set(again.active) == set(model.active)
        np.testing.assert_allclose(again.state.head.logits(probe), live, atol=1e-8)
