"""Calibration saved inside the head file: round trip, and plain files still load."""

from __future__ import annotations

import numpy as np

from headwise.heads import LDAHead, load_head
from headwise.heads._io import load_head_extras, save_head
from headwise.trust import (
    ConformalClassifier,
    TrustCalibration,
    load_calibrated_head,
    save_calibrated_head,
)

from ._toy import overlapping_blobs


def test_round_trip_gives_identical_sets(tmp_path):
    X, y = overlapping_blobs(900, seed=3)
    labels = np.array(list("vwxyz"))[y]
    head = LDAHead().fit(X[:500], labels[:500])
    cal = TrustCalibration(1.7, X[500:700], labels[500:700], np.linspace(0, 1, 200), {"seed": 0})
    path = save_calibrated_head(head, tmp_path / "h.safetensors", cal, encoder_key={"id": "x"})
    head2, cal2 = load_calibrated_head(path)
    assert cal2 is not None and cal2.temperature == 1.7 and cal2.info == {"seed": 0}
    assert np.array_equal(cal2.y_cal, cal.y_cal)
    for method in ("lac", "aps", "raps"):
        a = cal.conformal(head, method, mondrian=True).predict_set(X[700:], 0.1)
        b = cal2.conformal(head2, method, mondrian=True).predict_set(X[700:], 0.1)
        assert np.array_equal(a, b)  # X_cal stored as float32; scores agree to the same sets here
    assert np.array_equal(load_head(path).predict(X[700:]), head.predict(X[700:]))


def test_plain_head_files_have_no_calibration(tmp_path):
    X, y = overlapping_blobs(300, seed=4)
    path = save_head(LDAHead().fit(X, y), tmp_path / "plain.safetensors")
    assert load_head_extras(path) == ({}, None)
    assert load_calibrated_head(path)[1] is None


def test_conformal_wrapper_needs_a_fitted_head():
    import pytest
    from sklearn.exceptions import NotFittedError

    X, y = overlapping_blobs(50, seed=5)
    with pytest.raises(NotFittedError):
        ConformalClassifier(LDAHead()).calibrate(X, y)
