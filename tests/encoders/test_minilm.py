"""The bundled all-MiniLM-L6-v2 through HFEncoder (loads the real model: marked slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headwise.encoders import TokenEmbeddings, get_encoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts(sst2_texts):
    """A shorter sample for the checks that do not compare against sentence-transformers."""
    return sst2_texts[:10]


def test_matches_sentence_transformers(minilm, minilm_path, sst2_texts):
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(minilm_path), device="cpu")
    inputs = [*sst2_texts, " ".join(sst2_texts)]  # the last one is truncated to 256 tokens
    expected = reference.encode(inputs, normalize_embeddings=True, convert_to_numpy=True)
    X = minilm.encode(inputs, batch_size=8)
    assert X.shape == (len(inputs), 384) and X.dtype == np.float32 and X.flags.c_contiguous
    cosine = (X * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


def test_identity_and_defaults(minilm):
    assert (minilm.name, minilm.dim, minilm.n_layers, minilm.layer) == ("minilm", 384, 6, 6)
    assert (minilm.pooling, minilm.normalize, minilm.max_length) == ("mean", True, 256)
    key = minilm.key()
    json.dumps(key)
    assert key["id"] == "minilm" and len(key["revision"]) == 64 and key["layer"] == 6


def test_order_restored_despite_length_sorting(minilm, texts):
    X = minilm.encode(texts, batch_size=4)
    perm = np.random.default_rng(0).permutation(len(texts))
    Y = minilm.encode([texts[i] for i in perm], batch_size=4)
    np.testing.assert_allclose(Y, X[perm], atol=1e-5)


def test_layer_selection_and_encode_layers(minilm, texts):
    layer3 = get_encoder("minilm", layer=3, device="cpu", precision="fp32")
    X3, X6 = layer3.encode(texts), minilm.encode(texts)
    assert not np.allclose(X3, X6, atol=1e-2)
    both = minilm.encode_layers(texts, [3, 6])
    np.testing.assert_allclose(both[3], X3, atol=1e-5)
    np.testing.assert_allclose(both[6], X6, atol=1e-5)
    assert minilm.key_for_layer(3) == layer3.key()
    assert layer3.key() != minilm.key()


def test_cls_and_tokens_pooling(minilm_path, texts):
    cls = get_encoder("minilm", pooling="cls", device="cpu", precision="fp32")
    tokens = get_encoder("minilm", pooling="tokens", device="cpu", precision="fp32")
    te = tokens.encode(texts)
    assert isinstance(te, TokenEmbeddings) and te.vectors.shape[1] == 384
    lengths = [
        len(tokens.tokenizer(t, truncation=True, max_length=256)["input_ids"]) for t in texts
    ]
    assert te.lengths.tolist() == lengths
    assert te.offsets[0] == 0 and te.offsets[-1] == sum(lengths)
    X = cls.encode(texts)
    first = np.stack([t[0] for t in te])
    np.testing.assert_allclose(X, first / np.linalg.norm(first, axis=1, keepdims=True), atol=1e-5)
    assert len({json.dumps(e.key(), sort_keys=True) for e in (cls, tokens)}) == 2


def test_truncation_to_max_length(minilm, texts):
    long_text = " ".join(texts * 20)
    tokens = get_encoder("minilm", pooling="tokens", max_length=32, device="cpu", precision="fp32")
    assert tokens.key()["max_length"] == 32
    assert tokens.encode([long_text, "short"]).lengths.tolist() == [32, 3]
    X = minilm.encode([long_text, "short"])
    assert np.isfinite(X).all()
    assert minilm.key() != get_encoder("minilm", max_length=32, device="cpu", precision="fp32").key()


def test_hf_spec_on_the_minilm_directory(minilm, minilm_path, texts):
    enc = get_encoder(f"hf:{minilm_path}", device="cpu")
    assert enc.name.startswith("hf:") and enc.name == f"hf:{minilm_path.resolve()}"
    assert enc.revision == minilm.revision
    np.testing.assert_allclose(enc.encode(texts), minilm.encode(texts), atol=1e-6)
