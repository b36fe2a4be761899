"""HFEncoder on a tiny random BERT saved to disk: fast, no network, exercises every code path."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest

from headwise.encoders import Encoder, TokenEmbeddings, get_encoder
from headwise.exceptions import InputError, MissingDependencyError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from headwise.encoders._hf import HFEncoder  # noqa: E402

TEXTS = [
    "the cat sat on the mat",
    "a dog",
    "good movie, very good!",
    "not bad",
    "the quick brown fox jumps over the lazy dog again and again",
    "x",
    "the dog ran on the mat while the cat sat",
]


def reference_states(directory, texts, layer):
    """Unbatched forward passes straight through transformers: the oracle."""
    tok = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModel.from_pretrained(directory).eval()
    out = []
    with torch.no_grad():
        for t in texts:
            enc = tok(t, return_tensors="pt", truncation=True, max_length=64)
            out.append(model(**enc, output_hidden_states=True).hidden_states[layer][0].numpy())
    return out


def test_defaults_without_sentence_transformers_files(tiny, tiny_dir):
    assert isinstance(tiny, Encoder)
    assert tiny.name == f"hf:{tiny_dir.resolve()}"
    assert (tiny.dim, tiny.n_layers, tiny.layer) == (32, 2, 2)
    assert (tiny.pooling, tiny.normalize, tiny.max_length) == ("mean", False, 64)


def test_defaults_from_sentence_transformers_files(tiny_st_dir):
    enc = get_encoder(f"hf:{tiny_st_dir}", device="cpu")
    assert (enc.pooling, enc.normalize, enc.max_length) == ("cls", True, 16)
    X = enc.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)


def test_env_defaults_to_offline(tiny_dir, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")  # an explicit user setting is kept
    HFEncoder(tiny_dir, device="cpu")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "0"


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_mean_pooling_matches_unbatched_oracle(tiny_dir, layer):
    enc = HFEncoder(tiny_dir, layer=layer, device="cpu")
    X = enc.encode(TEXTS, batch_size=3, progress=False)
    assert X.shape == (len(TEXTS), 32) and X.dtype == np.float32 and X.flags.c_contiguous
    expected = np.stack([h.mean(axis=0) for h in reference_states(tiny_dir, TEXTS, layer)])
    np.testing.assert_allclose(X, expected, atol=2e-5)


def test_order_restored_and_batch_size_irrelevant(tiny):
    X = tiny.encode(TEXTS, batch_size=2)
    perm = np.random.default_rng(0).permutation(len(TEXTS))
    np.testing.assert_allclose(
        tiny.encode([TEXTS[i] for i in perm], batch_size=3), X[perm], atol=1e-5
    )
    np.testing.assert_allclose(tiny.encode(TEXTS, batch_size=1), X, atol=1e-5)
    np.testing.assert_allclose(tiny.encode(TEXTS, batch_size=100), X, atol=1e-5)


def test_tokens_pooling_matches_oracle_and_tokenizer_lengths(tiny_dir):
    enc = HFEncoder(tiny_dir, pooling="tokens", device="cpu")
    te = enc.encode(TEXTS, batch_size=3)
    assert isinstance(te, TokenEmbeddings) and len(te) == len(TEXTS)
    assert te.vectors.dtype == np.float32 and te.offsets.dtype == np.int64
    tok = enc.tokenizer
    lengths = [len(tok(t, truncation=True, max_length=64)["input_ids"]) for t in TEXTS]
    assert te.lengths.tolist() == lengths
    for got, want in zip(te, reference_states(tiny_dir, TEXTS, 2), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-5)
    assert enc.key()["normalize"] is False


def test_cls_pooling_is_first_token(tiny_dir):
    X = HFEncoder(tiny_dir, pooling="cls", device="cpu").encode(TEXTS, batch_size=3)
    te = HFEncoder(tiny_dir, pooling="tokens", device="cpu").encode(TEXTS)
    np.testing.assert_allclose(X, np.stack([t[0] for t in te]), atol=1e-5)


def test_normalize_option(tiny_dir, tiny):
    X = HFEncoder(tiny_dir, normalize=True, device="cpu").encode(TEXTS)
    raw = tiny.encode(TEXTS)
    np.testing.assert_allclose(X, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_encode_layers_equals_separate_calls(tiny_dir, tiny):
    out = tiny.encode_layers(TEXTS, [0, 1, -1], batch_size=4)
    assert sorted(out) == [-1, 0, 1]
    np.testing.assert_allclose(out[-1], tiny.encode(TEXTS), atol=1e-6)
    for layer in (0, 1):
        enc = HFEncoder(tiny_dir, layer=layer, device="cpu")
        np.testing.assert_allclose(out[layer], enc.encode(TEXTS), atol=1e-5)
        assert tiny.key_for_layer(layer) == enc.key()
    assert not np.allclose(out[0], out[-1])
    with pytest.raises(InputError, match="non-empty sequence"):
        tiny.encode_layers(TEXTS, [])
    with pytest.raises(InputError, match=r"in \[-3, 2\]"):
        tiny.encode_layers(TEXTS, [1, 5])
    with pytest.raises(InputError, match=r"in \[-3, 2\]"):
        tiny.encode_layers(TEXTS, ["1"])


def test_encode_layers_with_tokens(tiny_dir):
    enc = HFEncoder(tiny_dir, pooling="tokens", device="cpu")
    out = enc.encode_layers(TEXTS, [1, 2])
    np.testing.assert_allclose(out[2].vectors, enc.encode(TEXTS).vectors, atol=1e-6)
    assert isinstance(out[1], TokenEmbeddings)


def test_truncation(tiny_dir):
    long_text = " ".join(["the cat sat on the mat"] * 100)
    enc = HFEncoder(tiny_dir, pooling="tokens", max_length=8, device="cpu")
    te = enc.encode([long_text, "a dog"])
    assert te.lengths.tolist() == [8, 4]
    X = HFEncoder(tiny_dir, device="cpu").encode([long_text])  # default 64 = position limit
    assert np.isfinite(X).all()


def test_key_is_json_and_tracks_options(tiny_dir, tiny):
    key = tiny.key()
    json.dumps(key)
    assert key["layer"] == 2 and key["truncation"] is True and len(key["revision"]) == 64
    assert HFEncoder(tiny_dir, layer=-1, device="cpu").key() == key
    variants = [
        HFEncoder(tiny_dir, layer=1, device="cpu"),
        HFEncoder(tiny_dir, pooling="cls", device="cpu"),
        HFEncoder(tiny_dir, max_length=16, device="cpu"),
        HFEncoder(tiny_dir, normalize=True, device="cpu"),
    ]
    keys = [key] + [v.key() for v in variants]
    assert len({json.dumps(k, sort_keys=True) for k in keys}) == len(keys)


def test_revision_follows_the_weights(tiny_dir, tiny, tmp_path, save_tiny_bert):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    same = HFEncoder(copy, device="cpu")
    assert same.revision == tiny.revision and same.key()["id"] != tiny.key()["id"]
    other = HFEncoder(save_tiny_bert(tmp_path / "other", seed=1), device="cpu")
    assert other.revision != tiny.revision
    assert other.key()["config_revision"] == tiny.key()["config_revision"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"pooling": "max"}, r"'pooling' option must be one of 'mean', 'cls', 'tokens'. Got 'max'"),
        ({"layer": 3}, r"'layer' option must be an integer in \[-3, 2\] .* 2 layers .* Got 3"),
        ({"layer": -4}, r"in \[-3, 2\]"),
        ({"layer": 1.5}, r"in \[-3, 2\]"),
        ({"max_length": 1}, r"'max_length' option must be an integer in \[2, 64\] .* Got 1"),
        ({"max_length": 65}, r"\[2, 64\]"),
        ({"pooling": "tokens", "normalize": True}, "applies to pooled vectors only"),
        ({"device": "nonsense"}, "must name a torch device"),
        ({"normalize": "yes"}, "'normalize' option must be True or False"),
    ],
)
def test_bad_options(tiny_dir, options, message):
    with pytest.raises(InputError, match=message):
        get_encoder(f"hf:{tiny_dir}", **options)


def test_cuda_requested_without_cuda(tiny_dir):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(InputError, match="CUDA is not available; use device='cpu'"):
        HFEncoder(tiny_dir, device="cuda")


def test_bad_directories(tmp_path, tiny_dir):
    with pytest.raises(InputError, match="does not exist.*local directories only"):
        get_encoder(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(InputError, match="has no config.json"):
        get_encoder(f"hf:{tmp_path}")
    with pytest.raises(InputError, match="is a file"):
        get_encoder(f"hf:{tiny_dir / 'config.json'}")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="has no weight files"):
        get_encoder(f"hf:{tmp_path}")


def test_bad_inputs(tiny):
    with pytest.raises(InputError, match="empty"):
        tiny.encode(["fine", ""])
    with pytest.raises(InputError, match="no value"):
        tiny.encode([None])
    with pytest.raises(InputError, match="No rows"):
        tiny.encode([])
    with pytest.raises(InputError, match="batch_size"):
        tiny.encode(["fine"], batch_size=0)


def test_missing_backend(tiny_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'headwise\[hf\]'"):
        get_encoder(f"hf:{tiny_dir}")
