"""HashEncoder: deterministic, numpy-only, word-overlap-aware."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.encoders import Encoder, HashEncoder, get_encoder
from headwise.exceptions import InputError

TEXTS = [
    "the cat sat on the mat",
    "a dog sat on the mat",
    "stock prices fell sharply",
    "The CAT sat on the MAT!",
]


def test_is_an_encoder():
    enc = HashEncoder()
    assert isinstance(enc, Encoder)
    assert (enc.name, enc.dim, enc.pooling) == ("hash", 32, "mean")


@pytest.mark.parametrize("dim", [1, 8, 32, 300])
def test_shape_dtype_contiguity_and_unit_norm(dim):
    X = HashEncoder(dim).encode(TEXTS)
    assert X.shape == (len(TEXTS), dim)
    assert X.dtype == np.float32
    assert X.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-6)


def test_deterministic_across_calls_and_instances():
    a = HashEncoder(16).encode(TEXTS)
    b = HashEncoder(16).encode(TEXTS, batch_size=1, progress=False)
    np.testing.assert_array_equal(a, b)


def test_golden_values():
    """Pins the format: any change here must bump the encoder's version (it is in key())."""
    expected = [
        -0.1733332,
        0.7674764,
        0.2756445,
        -0.0498452,
        -0.1188376,
        -0.0894381,
        0.2040671,
        -0.4885757,
    ]
    np.testing.assert_allclose(HashEncoder(8).encode(["Hello world"])[0], expected, atol=1e-6)


def test_deterministic_across_processes():
    code = "import json; from headwise.encoders import HashEncoder; print(json.dumps(HashEncoder(16).encode({!r}).tolist()))"
    here = HashEncoder(16).encode(TEXTS)
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code.format(TEXTS)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        np.testing.assert_array_equal(np.asarray(json.loads(out.stdout), dtype=np.float32), here)


def test_shared_words_make_texts_similar():
    X = HashEncoder(64).encode(TEXTS)
    sim = X @ X.T
    assert sim[0, 1] > sim[0, 2] + 0.3
    assert sim[0, 3] > 0.8  # same words up to case and punctuation
    assert sim[0, 3] < 1.0 - 1e-4  # but not the same text


def test_dims_differ_and_key_records_them():
    assert HashEncoder(8).key() != HashEncoder(16).key()
    key = HashEncoder(8).key()
    assert key["dim"] == 8 and key["id"] == "hash" and "version" in key
    json.dumps(key)


@pytest.mark.parametrize("bad", [[""], ["ok", "   "], [None], ["ok", 3], []])
def test_bad_inputs_raise_input_error(bad):
    with pytest.raises(InputError):
        HashEncoder().encode(bad)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True, "8"])
def test_bad_dim(dim):
    with pytest.raises(InputError, match="'dim' option of the hash encoder"):
        HashEncoder(dim)


def test_bad_batch_size():
    with pytest.raises(InputError, match="batch_size"):
        HashEncoder().encode(["a"], batch_size=0)


def test_spec_forms():
    assert get_encoder("hash").dim == 32
    assert get_encoder("hash:64").dim == 64
    assert get_encoder("hash", dim=8).dim == 8
    assert get_encoder("hash:8", dim=8).dim == 8
    assert get_encoder("hash", device="cpu").dim == 32  # device is accepted and ignored
    with pytest.raises(InputError, match="the part after 'hash:' is the dimension"):
        get_encoder("hash:big")
    with pytest.raises(InputError, match="give the dimension once"):
        get_encoder("hash:8", dim=16)


texts_strategy = st.lists(
    st.text(min_size=1, max_size=30).filter(
        lambda t: any(c.isprintable() and not c.isspace() for c in t)),  # a visible character
    min_size=1, max_size=12
)


@settings(max_examples=50, deadline=None)
@given(texts=texts_strategy, data=st.data())
def test_row_order_and_batching_do_not_matter(texts, data):
    enc = HashEncoder(8)
    X = enc.encode(texts)
    perm = data.draw(st.permutations(range(len(texts))))
    np.testing.assert_array_equal(enc.encode([texts[i] for i in perm]), X[list(perm)])
    np.testing.assert_array_equal(enc.encode(texts[:1]), X[:1])
    assert np.isfinite(X).all()
