"""Multi-label metrics against sklearn, and the empirical guarantees of the conformal label sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, hamming_loss, precision_score, recall_score

from headwise.exceptions import InputError
from headwise.heads import MultiLabelRidgeHead
from headwise.trust import (
    MultiLabelConformal,
    crc_fnr_threshold,
    false_negative_rate,
    label_lac_thresholds,
    multilabel_metrics,
)


def _toy(n: int, seed: int, L: int = 6, d: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    W = np.random.default_rng(99).normal(size=(d, L))
    X = rng.normal(size=(n, d))
    Y = (X @ W + rng.normal(scale=2.0, size=(n, L)) > 1.5).astype(float)
    return X, Y


def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(0)
    Y = (rng.random((200, 5)) < 0.3).astype(int)
    P = np.where(rng.random(Y.shape) < 0.8, Y, 1 - Y)
    m = multilabel_metrics(Y, P, scores=P + rng.normal(scale=0.1, size=Y.shape))
    assert m.micro_f1 == pytest.approx(f1_score(Y, P, average="micro"))
    assert m.macro_f1 == pytest.approx(f1_score(Y, P, average="macro"))
    assert m.subset_accuracy == pytest.approx(accuracy_score(Y, P))
    assert m.hamming_loss == pytest.approx(hamming_loss(Y, P))
    assert m.per_label_f1 == pytest.approx(list(f1_score(Y, P, average=None)))
    assert m.per_label_precision == pytest.approx(list(precision_score(Y, P, average=None)))
    assert m.per_label_recall == pytest.approx(list(recall_score(Y, P, average=None)))
    assert 0.5 < m.mean_average_precision <= 1.0


def test_metrics_ignore_unknown_entries() -> None:
    Y = np.array([[1.0, np.nan], [0.0, 1.0]])
    m = multilabel_metrics(Y, [[1, 0], [0, 1]])
    assert m.subset_accuracy == 1.0 and m.hamming_loss == 0.0 and m.micro_f1 == 1.0
    assert m.per_label_precision == [1.0, 1.0] and m.per_label_recall == [1.0, 1.0]
    none = multilabel_metrics([[0.0, 1.0]], [[0, 1]])  # label 0: no true, no predicted positive
    assert np.isnan(none.per_label_precision[0]) and np.isnan(none.per_label_recall[0])
    with pytest.raises(InputError, match="shape"):
        multilabel_metrics(Y, [[1, 0]])


def test_crc_threshold_is_the_highest_certified() -> None:
    X, Y = _toy(300, 1)
    s = np.random.default_rng(2).normal(size=Y.shape) + 2 * Y
    for alpha in (0.05, 0.1, 0.3):
        t = crc_fnr_threshold(s, Y, alpha)
        n = int((Y.sum(axis=1) > 0).sum())
        risk = false_negative_rate(s >= t, Y)
        assert n / (n + 1) * risk + 1 / (n + 1) <= alpha + 1e-12
        higher = np.min(s[s > t]) if np.any(s > t) else np.inf
        if np.isfinite(higher):  # the next threshold up is not certified
            assert n / (n + 1) * false_negative_rate(s >= higher, Y) + 1 / (n + 1) > alpha


def test_crc_too_few_rows_gives_every_label() -> None:
    assert crc_fnr_threshold(np.zeros((3, 2)), np.ones((3, 2)), 0.1) == -np.inf


@pytest.mark.parametrize("alpha", [0.1, 0.2])
def test_fnr_controlled_over_200_random_splits(alpha: float) -> None:
    """E[FNR] ≤ α over calibration/test splits (slack: 3 standard errors of the mean)."""
    X, Y = _toy(400, 0)
    head = MultiLabelRidgeHead(alphas=(1.0,), threshold=0.0).fit(X, Y)
    Xp, Yp = _toy(1000, 1)
    Z = head.logits(Xp)
    rng = np.random.default_rng(5)
    fnrs, lac_cov = [], []
    for _ in range(200):
        perm = rng.permutation(1000)
        cal, test = perm[:300], perm[300:]
        t = crc_fnr_threshold(Z[cal], Yp[cal], alpha)
        fnrs.append(false_negative_rate(Z[test] >= t, Yp[test]))
        thr = label_lac_thresholds(Z[cal], Yp[cal], alpha)
        hit = (Z[test] >= thr) & (Yp[test] > 0)
        lac_cov.append(hit.sum(axis=0) / np.maximum((Yp[test] > 0).sum(axis=0), 1))
    fnrs = np.asarray(fnrs)
    slack = 3 * fnrs.std() / np.sqrt(fnrs.size)
    assert fnrs.mean() <= alpha + slack
    assert fnrs.mean() >= alpha - 0.03  # not vacuous: close to the level, not all labels
    cov = np.mean(lac_cov, axis=0)
    assert np.all(cov >= 1 - alpha - 0.02)  # per-label coverage of true labels


def test_wrapper_round_trip() -> None:
    X, Y = _toy(300, 0)
    head = MultiLabelRidgeHead(alphas=(1.0,), threshold=0.0).fit(X, Y)
    Xc, Yc = _toy(200, 3)
    conf = MultiLabelConformal(head, "crc").calibrate(Xc, Yc)
    sets = conf.predict_set(Xc, 0.1)
    assert false_negative_rate(sets, Yc) <= 0.1 + 1e-9
    again = MultiLabelConformal.from_calibration(head, conf.cal_logits_, conf.cal_targets_, "crc")
    np.testing.assert_array_equal(again.predict_set(Xc, 0.1), sets)
    with pytest.raises(InputError, match="method"):
        MultiLabelConformal(head, "aps").calibrate(Xc, Yc)
    with pytest.raises(InputError, match="alpha"):
        conf.predict_set(Xc, 1.5)
