"""OOD scores, AUROC against sklearn, and the conformal false-alarm guarantee."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp, softmax
from sklearn.metrics import roc_auc_score

from headwise.exceptions import InputError
from headwise.heads import LDAHead, NCMHead
from headwise.trust import OODDetector, ood_auroc, ood_scores

from ._toy import overlapping_blobs


def _in_out(seed: int):
    """Known classes 0-3; OOD rows from classes 4-5 pulled between the known centres."""
    X, y = overlapping_blobs(3000, n_classes=6, seed=seed, spread=3.0)
    known = y < 4
    middle = X[known].mean(axis=0)
    return X[known], y[known], middle + 0.5 * (X[~known] - X[~known].mean(axis=0))


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)
    b = rng.integers(2, 8, 150).astype(float)
    expected = roc_auc_score(np.r_[np.zeros(200), np.ones(150)], np.r_[a, b])
    assert ood_auroc(a, b) == pytest.approx(expected)


def test_scores_closed_form():
    X, y, _ = _in_out(0)
    head = NCMHead().fit(X, y)
    z = head.logits(X[:10])
    assert np.allclose(ood_scores(head, X[:10], "msp"), 1 - softmax(z, axis=1).max(1))
    assert np.allclose(ood_scores(head, X[:10], "energy", temperature=2.0), -2.0 * logsumexp(z / 2.0, axis=1))


def test_mahalanobis_matches_direct_formula():
    X, y, _ = _in_out(0)
    head = LDAHead(shrinkage=0.2).fit(X, y)
    from headwise.heads._lda import shrink

    cov = shrink(head.stats_.within_scatter() / head.stats_.n_samples, 0.2)
    P = np.linalg.inv(cov)
    diffs = X[:5, None, :] - head.means_[None]
    d2 = np.einsum("ncd,de,nce->nc", diffs, P, diffs).min(axis=1)
    assert np.allclose(ood_scores(head, X[:5], "mahalanobis"), d2)


@pytest.mark.parametrize("method", ["msp", "energy", "mahalanobis"])
def test_held_out_classes_are_detected(method):
    X, y, X_out = _in_out(1)
    n = X.shape[0] // 2
    head = LDAHead().fit(X[:n], y[:n])
    s_in, s_out = ood_scores(head, X[n:], method), ood_scores(head, X_out, method)
    assert ood_auroc(s_in, s_out) > 0.75


def test_conformal_false_alarm_rate_on_average():
    alpha = 0.1
    rates = []
    for seed in range(30):
        X, y, _ = _in_out(seed)
        third = X.shape[0] // 3
        head = LDAHead().fit(X[:third], y[:third])
        det = OODDetector(head, "energy").calibrate(X[third : 2 * third])
        rates.append(det.is_ood(X[2 * third :], alpha).mean())
    mean, se = np.mean(rates), np.std(rates, ddof=1) / np.sqrt(len(rates))
    assert mean <= alpha + 3 * se
    pv = det.pvalues(X[2 * third :])
    assert np.all((pv > 0) & (pv <= 1))
    # p-value <= alpha exactly when flagged
    assert np.array_equal(pv <= alpha, det.is_ood(X[2 * third :], alpha))


def test_errors():
    X, y, _ = _in_out(0)
    with pytest.raises(InputError, match="LDA"):
        ood_scores(NCMHead().fit(X, y), X, "mahalanobis")
    with pytest.raises(InputError, match="Unknown OOD method"):
        ood_scores(NCMHead().fit(X, y), X, "odin")
    with pytest.raises(InputError, match="alpha"):
        OODDetector(LDAHead().fit(X, y)).calibrate(X).threshold(2.0)
    with pytest.raises(InputError, match="at least one"):
        ood_auroc([], [1.0])
