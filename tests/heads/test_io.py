"""Saving and loading heads: safetensors + JSON, encoder-key checks, format errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from headwise.exceptions import EncoderMismatchError, HeadFormatError, InputError, OutputError
from headwise.heads import load_head, save_head
from headwise.heads._io import atomic_save_safetensors, read_safetensors
from headwise.heads._lda import LDAHead
from headwise.heads._ridge import RidgeHead


def test_array_parameters_are_saved(tmp_path, blobs, blobs_test):  # regression: ndarray params
    X, y = blobs
    head = LDAHead(priors=np.array([0.2, 0.3, 0.5])).fit(X, y)
    loaded = load_head(save_head(head, tmp_path / "lda.safetensors"))
    np.testing.assert_allclose(loaded.priors, [0.2, 0.3, 0.5])
    np.testing.assert_array_equal(loaded.logits(blobs_test[0]), head.logits(blobs_test[0]))


def test_loaded_stats_head_keeps_learning(tmp_path, blobs):
    X, y = blobs
    head = RidgeHead(alphas=(0.1, 1.0)).partial_fit(X[:45], y[:45])
    loaded = load_head(save_head(head, tmp_path / "ridge.safetensors"))
    loaded.partial_fit(X[45:], y[45:])
    ref = RidgeHead(alphas=(0.1, 1.0)).fit(X, y)
    np.testing.assert_allclose(loaded.logits(X), ref.logits(X), rtol=1e-9, atol=1e-12)


def test_saved_file_holds_no_pickle(tmp_path, blobs):
    head = RidgeHead().fit(*blobs)
    arrays, header = read_safetensors(save_head(head, tmp_path / "h.safetensors"))
    assert header["head"] == "ridge"
    assert json.loads(header["params"])["alpha_selection"] == "gcv"
    assert "coef_" in arrays and "stats_.gram" in arrays


def test_encoder_key_is_kept_and_checked(tmp_path, blobs):
    key = {"id": "hf:org/model", "revision": "abc123", "dim": 8}
    path = save_head(RidgeHead().fit(*blobs), tmp_path / "h.safetensors", encoder_key=key)
    assert load_head(path).encoder_key_ == key
    assert load_head(path, expected_encoder_key=key).encoder_key_ == key
    with pytest.raises(EncoderMismatchError, match="Refit the head"):
        load_head(path, expected_encoder_key={**key, "revision": "def456"})


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_head(tmp_path / "nope.safetensors")


def test_not_a_head_file(tmp_path):
    path = atomic_save_safetensors(tmp_path / "x.safetensors", {"a": np.zeros(2)}, {})
    with pytest.raises(HeadFormatError, match="not a headwise head file"):
        load_head(path)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 20)
    with pytest.raises(HeadFormatError, match="not a readable head file"):
        load_head(garbage)


def test_newer_format_version_is_refused(tmp_path, blobs):
    path = save_head(RidgeHead().fit(*blobs), tmp_path / "h.safetensors")
    arrays, header = read_safetensors(path)
    header["format_version"] = "99"
    atomic_save_safetensors(path, arrays, header)
    with pytest.raises(HeadFormatError, match="Upgrade headwise"):
        load_head(path)


def test_save_into_missing_folder(tmp_path, blobs):
    with pytest.raises(OutputError, match="in a folder that does not exist"):
        save_head(RidgeHead().fit(*blobs), tmp_path / "no" / "h.safetensors")


def test_a_changed_byte_is_caught_not_loaded(tmp_path, blobs, blobs_test):
    # a flipped bit in the weights loaded silently and predicted with the damaged weights
    path = save_head(LDAHead().fit(*blobs), tmp_path / "h.safetensors")
    good = path.read_bytes()
    header_len = int.from_bytes(good[:8], "little")
    for where in (len(good) - 3, 8 + header_len + 1):  # in the arrays: last and first bytes
        bad = bytearray(good)
        bad[where] ^= 0x10
        path.write_bytes(bytes(bad))
        with pytest.raises(HeadFormatError, match="is damaged: its contents no longer match"):
            load_head(path)
    # an edited header entry (valid JSON, so only the digest can tell)
    arrays, header = read_safetensors(_write(path, good))
    from safetensors.numpy import save

    edited = {**header, "params": header["params"].replace("1e-08", "1e-07")}
    assert edited != header
    path.write_bytes(save(arrays, metadata=edited))
    with pytest.raises(HeadFormatError, match="is damaged"):
        load_head(path)
    path.write_bytes(good)
    assert load_head(path).predict(blobs_test[0]).tolist() == \
        LDAHead().fit(*blobs).predict(blobs_test[0]).tolist()


def _write(path, data):
    path.write_bytes(data)
    return path


def test_a_file_saved_before_the_digest_loads(tmp_path, blobs):
    from safetensors.numpy import save

    path = save_head(RidgeHead().fit(*blobs), tmp_path / "h.safetensors")
    arrays, header = read_safetensors(path)
    del header["digest"]
    path.write_bytes(save(arrays, metadata=header))
    assert load_head(path).predict(blobs[0][:3]).shape == (3,)
