"""Metrics against hand-computed values and sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, f1_score, log_loss

from headwise.exceptions import InputError
from headwise.trust import (
    brier_score,
    calibration_metrics,
    classwise_ece,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
)


def test_ece_hand_computed():
    # 10 bins. Confidences 0.95 (bin 9), 0.95, 0.65 (bin 6), 0.25 (bin 2; top label wins at 0.25
    # only when four classes tie-break, so use a 4-class row).
    proba = np.array(
        [
            [0.95, 0.05, 0.0, 0.0],  # correct
            [0.05, 0.95, 0.0, 0.0],  # wrong (y=0)
            [0.65, 0.35, 0.0, 0.0],  # correct
            [0.25, 0.25, 0.25, 0.25],  # argmax 0, y=3: wrong
        ]
    )
    y = np.array([0, 0, 0, 3])
    # bin 9: conf 0.95, acc 0.5 -> |0.45| * 2; bin 6: |1 - 0.65| = 0.35; bin 2: |0 - 0.25|
    expected = (2 * 0.45 + 0.35 + 0.25) / 4
    assert expected_calibration_error(y, proba, n_bins=10) == pytest.approx(expected)


def test_bin_edges_are_right_closed():
    r = reliability_bins([0.0, 0.1, 0.1000001, 1.0], [1, 1, 1, 1], n_bins=10)
    assert r["count"].tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]


def test_classwise_ece_hand_computed():
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    y = np.array([0, 0])
    # class 0: p=0.8 (bin 7, hit 1) gap 0.2; p=0.4 (bin 3, hit 1) gap 0.6 -> 0.4
    # class 1: p=0.2 (hit 0) gap 0.2; p=0.6 (hit 0) gap 0.6 -> 0.4
    assert classwise_ece(y, proba, n_bins=10) == pytest.approx(0.4)


def test_nll_brier_f1_match_sklearn():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=200)
    y = rng.integers(0, 4, 200)
    assert negative_log_likelihood(y, p) == pytest.approx(log_loss(y, p, labels=range(4)))
    onehot_brier = np.mean([brier_score_loss(y == k, p[:, k]) for k in range(4)]) * 4
    assert brier_score(y, p) == pytest.approx(onehot_brier)
    m = calibration_metrics(y, p)
    assert m.macro_f1 == pytest.approx(f1_score(y, p.argmax(1), average="macro"))
    assert m.n_bins == 15 and "equal-width" in m.binning


def test_perfectly_calibrated_ece_small():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3) * 0.5, size=50_000)
    y = np.array([rng.choice(3, p=row) for row in p[:5000]])
    assert expected_calibration_error(y, p[:5000]) < 0.03


def test_bad_inputs():
    with pytest.raises(InputError, match="integer class codes"):
        expected_calibration_error(np.array([0.5]), np.array([[0.5, 0.5]]))
    with pytest.raises(InputError, match="shape"):
        brier_score([0, 1], [[0.5, 0.5]])
    with pytest.raises(InputError, match="n_bins"):
        calibration_metrics([0], [[1.0, 0.0]], n_bins=0)
