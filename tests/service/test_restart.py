"""A restarted service serves exactly what was acknowledged: from the log, snapshots or both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_helpers import AUTH, TOKEN, refit_logits

from headwise.encoders import get_encoder
from headwise.exceptions import HeadwiseError
from headwise.service import ServeSettings, create_app
from headwise.service._state import ServiceState

PROBE = ["card declined at the atm", "hotel booking for my trip", "cheese pizza dinner", "crypto"]


def _logits(c: TestClient) -> np.ndarray:
    r = c.post("/v1/models/intents/predict", json={"texts": PROBE, "include_logits": True})
    return np.array([p["logits"] for p in r.json()["predictions"]], dtype=float)


def _write_history(c: TestClient) -> list[tuple[str, str, str]]:
    """Adds (auto roles, a new class), a delete and a rollback; returns the rows left (text, label, role)."""
    rows = [(f"crypto wallet coin {i}", "crypto") for i in range(7)]
    rows += [(f"late flight {i}", "travel") for i in range(3)]
    kept: dict[int, tuple[str, str, str]] = {}
    for start in range(0, len(rows), 2):
        chunk = rows[start : start + 2]
        r = c.post("/v1/models/intents/examples", headers=AUTH,
                   json={"texts": [t for t, _ in chunk], "labels": [y for _, y in chunk]})  # fmt: skip
        assert r.status_code == 201, r.text
        for i, role, (t, y) in zip(r.json()["ids"], r.json()["roles"], chunk, strict=True):
            kept[i] = (t, y, role)
    first = min(kept)
    assert c.delete(f"/v1/models/intents/examples/{first}", headers=AUTH).status_code == 200
    del kept[first]
    return list(kept.values())


def _expected(toy: dict[str, Any], rows: list[tuple[str, str, str]]) -> np.ndarray:
    enc = get_encoder("hash")
    train = [(enc.encode([t])[0].astype(np.float64), y) for t, y, role in rows if role == "train"]
    return refit_logits(toy["X_fit"], toy["y_fit"], train, enc.encode(PROBE))[1]


@pytest.mark.parametrize("snapshot_every", [0, 4, 5])  # 6 versions: tails of 2 and 1
def test_restart_equals_batch_refit(
    models_dir: Path, toy: dict[str, Any], snapshot_every: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from headwise.service import _model

    loaded: list[Any] = []
    real = _model.read_snapshot
    monkeypatch.setattr(_model, "read_snapshot", lambda *a, **k: loaded.append(real(*a, **k)) or loaded[-1])
    s = ServeSettings(models_dir, token=TOKEN, snapshot_every=snapshot_every)
    with TestClient(create_app(s)) as c:
        rows = _write_history(c)
        before, version = _logits(c), c.get("/v1/models/intents").json()["version"]
    snaps = list((s.state_path / "snapshots" / "intents").glob("*.safetensors"))
    assert (len(snaps) > 0) == (snapshot_every > 0) and len(snaps) <= 2
    with TestClient(create_app(s)) as c:
        info = c.get("/v1/models/intents").json()
        assert info["version"] == version and "crypto" in info["classes"]
        assert info["examples"]["train"] + info["examples"]["calibration"] == len(rows)
        after = _logits(c)
    assert [x is not None for x in loaded] == ([True] if snapshot_every else [])
    np.testing.assert_allclose(after, before, atol=1e-8)
    np.testing.assert_allclose(after, _expected(toy, rows), atol=1e-8)


def test_damaged_snapshot_is_skipped(models_dir: Path, toy: dict[str, Any]) -> None:
    s = ServeSettings(models_dir, token=TOKEN, snapshot_every=2)
    with TestClient(create_app(s)) as c:
        rows = _write_history(c)
    for snap in (s.state_path / "snapshots" / "intents").glob("*.safetensors"):
        snap.write_bytes(b"garbage")
    with TestClient(create_app(s)) as c:
        np.testing.assert_allclose(_logits(c), _expected(toy, rows), atol=1e-8)


def test_a_snapshot_with_a_changed_byte_is_skipped(models_dir: Path, toy: dict[str, Any]) -> None:
    # it still parsed, and the restarted model served statistics nobody wrote (labels changed,
    # logits up to 1e151): snapshots now carry the SHA-256 digest that head files do
    s = ServeSettings(models_dir, token=TOKEN, snapshot_every=2)
    with TestClient(create_app(s)) as c:
        rows = _write_history(c)
    snaps = sorted((s.state_path / "snapshots" / "intents").glob("*.safetensors"))
    assert snaps
    for snap in snaps:
        data = bytearray(snap.read_bytes())
        data[-3] ^= 0x40  # one bit of the last array's data: the file still parses
        snap.write_bytes(bytes(data))
    with TestClient(create_app(s)) as c:
        np.testing.assert_allclose(_logits(c), _expected(toy, rows), atol=1e-8)


def test_read_only_restart_serves_the_learned_model(models_dir: Path, toy: dict[str, Any]) -> None:
    s = ServeSettings(models_dir, token=TOKEN)
    with TestClient(create_app(s)) as c:
        rows = _write_history(c)
    with TestClient(create_app(ServeSettings(models_dir, read_only=True))) as c:
        np.testing.assert_allclose(_logits(c), _expected(toy, rows), atol=1e-8)


def test_changed_base_file_is_refused(models_dir: Path) -> None:
    s = ServeSettings(models_dir, token=TOKEN)
    with TestClient(create_app(s)) as c:
        _write_history(c)
    plain = (models_dir / "plain.safetensors").read_bytes()
    (models_dir / "intents.safetensors").write_bytes(plain)
    with pytest.raises(HeadwiseError, match="changed since"):
        ServiceState.open(s)


def test_bad_models_folder(tmp_path: Path) -> None:
    from headwise.exceptions import InputError

    with pytest.raises(InputError, match="does not exist"):
        ServiceState.open(ServeSettings(tmp_path / "none", read_only=True))
    with pytest.raises(InputError, match="no \\*.safetensors"):
        ServiceState.open(ServeSettings(tmp_path, read_only=True))


def test_one_writing_service_per_state_folder(models_dir: Path) -> None:
    s = ServeSettings(models_dir, token=TOKEN)
    first = ServiceState.open(s)
    try:
        with pytest.raises(HeadwiseError, match="Another `headwise serve` is writing"):
            ServiceState.open(s)
        ServiceState.open(ServeSettings(models_dir, read_only=True)).close()  # readers may
    finally:
        first.close()
    ServiceState.open(s).close()  # free again
