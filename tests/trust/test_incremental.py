"""Conformal validity after class-incremental updates (toy data) and what gets re-scored."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import LDAHead, NCMHead, RidgeHead
from headwise.trust import ConformalClassifier, set_coverage

from ._toy import overlapping_blobs

TASKS = [(0, 1), (2, 3), (4, 5)]


def _task_rows(y: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    return np.isin(y, classes)


@pytest.mark.parametrize(
    "make_head", [NCMHead, LDAHead, lambda: RidgeHead(alphas=(0.1, 1.0, 10.0))], ids=["ncm", "lda", "ridge"]
)
def test_coverage_holds_after_every_task(make_head):
    alpha = 0.1
    cov = np.zeros((30, len(TASKS)))
    for seed in range(30):
        Xtr, ytr = overlapping_blobs(900, n_classes=6, seed=seed)
        Xc, yc = overlapping_blobs(600, n_classes=6, seed=1000 + seed)
        Xs, ys = overlapping_blobs(900, n_classes=6, seed=2000 + seed)
        cp = ConformalClassifier(make_head(), method="aps")
        for t, task in enumerate(TASKS):
            tr, ca = _task_rows(ytr, task), _task_rows(yc, task)
            cp.partial_fit(Xtr[tr], ytr[tr])
            if t == 0:
                cp.calibrate(Xc[ca], yc[ca])
            else:
                cp.partial_update(Xc[ca], yc[ca])
            seen = _task_rows(ys, sum(TASKS[: t + 1], ()))
            cov[seed, t] = set_coverage(cp.predict_set(Xs[seen], alpha), np.searchsorted(cp.classes_, ys[seen]))["coverage"]
    mean = cov.mean(axis=0)
    se = cov.std(axis=0, ddof=1) / np.sqrt(cov.shape[0])
    assert np.all(mean >= 1 - alpha - 3 * se), (mean, se)


class _Spy:
    """Records how many rows each logits call scores."""

    def __init__(self, head):
        self.head = head
        self.calls: list[int] = []

    def __getattr__(self, name):
        return getattr(self.head, name)

    def logits(self, X):
        self.calls.append(len(X))
        return self.head.logits(X)


def test_scores_reused_until_the_head_changes():
    Xtr, ytr = overlapping_blobs(600, n_classes=6, seed=0)
    Xc, yc = overlapping_blobs(300, n_classes=6, seed=1)
    spy = _Spy(NCMHead())
    first = _task_rows(ytr, (0, 1, 2))
    spy.head.partial_fit(Xtr[first], ytr[first])
    cp = ConformalClassifier(spy)
    a = _task_rows(yc, (0, 1))
    cp.calibrate(Xc[a], yc[a])
    cp.calibration_scores()
    assert spy.calls == [a.sum()]
    b = _task_rows(yc, (2,))
    cp.partial_update(Xc[b], yc[b])  # head unchanged: only the new rows are scored
    cp.calibration_scores()
    assert spy.calls == [a.sum(), b.sum()]
    rest = ~first
    spy.head.partial_fit(Xtr[rest], ytr[rest])  # new classes: every stored row is re-scored
    c = _task_rows(yc, (3, 4, 5))
    cp.partial_update(Xc[c], yc[c])
    cp.calibration_scores()
    assert spy.calls[-1] == a.sum() + b.sum() + c.sum()
    # and the scores equal those of a fresh calibration on the same rows
    keep = a | b | c
    order = np.r_[np.flatnonzero(a), np.flatnonzero(b), np.flatnonzero(c)]
    fresh = ConformalClassifier(spy.head).calibrate(Xc[order], yc[order])
    assert np.allclose(fresh.calibration_scores(), cp.calibration_scores())
    assert keep.sum() == order.size
