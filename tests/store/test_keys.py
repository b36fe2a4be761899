"""Cache keys: what changes a key, what is refused, and the pinned key recipe."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.store._keys import (
    ID_LENGTH,
    canonical_json,
    content_digest,
    encoder_key,
    entry_key,
    normalize_dtype,
)


def _key(encoder, inputs, dtype="float32"):
    return entry_key(encoder_key(encoder), normalize_dtype(dtype), content_digest(inputs)[1])


def test_key_changes_with_encoder_key_dtype_content_and_order(make_encoder):
    enc = make_encoder()
    base = _key(enc, ["a", "b"])
    assert base == _key(make_encoder(), ["a", "b"])  # deterministic, new object
    assert base != _key(make_encoder(revision="r2"), ["a", "b"])
    assert base != _key(make_encoder(pooling="cls"), ["a", "b"])
    assert base != _key(enc, ["a", "b"], dtype="float16")
    assert base != _key(enc, ["a", "c"])
    assert base != _key(enc, ["b", "a"])
    assert base != _key(enc, ["a", "b", "b"])
    assert base != _key(enc, ["ab"])  # per-input digests: no concatenation ambiguity


def test_key_is_independent_of_sequence_type(make_encoder):
    enc = make_encoder()
    assert _key(enc, ["a", "b"]) == _key(enc, ("a", "b")) == _key(enc, np.array(["a", "b"]))


def test_key_recipe_is_pinned():
    # Golden value: changing the recipe orphans every user's cache, so it must be deliberate.
    h = hashlib.sha256
    digest = h(h(b"a").digest() + h("é".encode()).digest()).hexdigest()
    assert content_digest(["a", "é"])[1] == digest
    payload = {"format_version": 1, "encoder": {"name": "x"}, "dtype": "float32", "content": digest}
    expected = h(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert entry_key({"name": "x"}, "float32", digest) == expected
    assert expected[:ID_LENGTH] == "f06153c95676073cc3efc88d"


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ([], "inputs is empty"),
        ("just one string", "single str"),
        (["ok", 3], "Input 1 is int, expected str"),
        (["ok", None], "Input 1 is NoneType"),
        ([b"bytes"], "Input 0 is bytes"),
        (["ok", "\ud800"], "Input 1 is not valid Unicode"),
    ],
)
def test_unhashable_inputs_raise(inputs, match):
    with pytest.raises(InputError, match=match):
        content_digest(inputs)


def test_encoder_key_must_be_json(make_encoder):
    enc = make_encoder()
    enc.key = lambda: {"weights": np.float32(1.0)}
    with pytest.raises(InputError, match="not JSON-serialisable"):
        encoder_key(enc)
    enc.key = lambda: {"nan": float("nan")}
    with pytest.raises(InputError, match="not JSON-serialisable"):
        encoder_key(enc)
    enc.key = lambda: ["not", "a", "dict"]
    with pytest.raises(InputError, match="must return a dict"):
        encoder_key(enc)


def test_encoder_key_normalises_tuples(make_encoder):
    enc = make_encoder()
    enc.key = lambda: {"b": (1, 2), "a": "x"}
    assert encoder_key(enc) == {"a": "x", "b": [1, 2]}
    assert canonical_json(encoder_key(enc)) == '{"a":"x","b":[1,2]}'


def test_dtype_must_be_float32_or_float16():
    assert normalize_dtype("float16") == "float16"
    assert normalize_dtype(np.float32) == "float32"
    with pytest.raises(InputError, match="'float32' or 'float16'. Got 'float64'"):
        normalize_dtype("float64")
    with pytest.raises(InputError, match="'float32' or 'float16'"):
        normalize_dtype("nonsense")
