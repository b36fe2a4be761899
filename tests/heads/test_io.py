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
