"""Coverage on real MiniLM embeddings of Banking77 and Emotion (slow: loads the encoder).

The rows are a seeded sample of each set (``REAL_ROWS`` in tests/conftest.py). The head is
fitted once on a fixed 40% of their train split; the remaining train rows and the test split
form a pool that every seed splits at random into calibration and test halves, so calibration
and test rows are exchangeable, as split conformal assumes.
"""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import LDAHead, NCMHead
from headwise.trust import ConformalClassifier, TemperatureScaler, set_coverage

pytestmark = pytest.mark.slow

SEEDS = range(20)


def _fixed_train(labels, splits, frac=0.4, seed=0):
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(splits == "train")
    rng.shuffle(train)
    fit_rows = np.sort(train[: int(frac * train.size)])
    pool = np.setdiff1d(np.arange(labels.size), fit_rows)
    return fit_rows, pool


class _FixedLogits:
    """A fitted head's logits, computed once for every row and passed in place of the rows.

    The head is fixed while the seeds re-split its held-out rows, so each row's logits are the
    same in every split: scoring them once, instead of once per seed and method, leaves the
    conformal procedure under test unchanged and took most of this file's time.
    """

    def __init__(self, classes: np.ndarray) -> None:
        self.classes_ = classes

    def logits(self, Z: np.ndarray) -> np.ndarray:
        return Z


@pytest.mark.parametrize("name", ["banking77", "emotion"])
def test_marginal_and_mondrian_coverage(minilm_embeddings, name):
    X, y, splits = minilm_embeddings(name)
    fit_rows, pool = _fixed_train(y, splits)
    head = LDAHead().fit(X[fit_rows], y[fit_rows])
    Z = head.logits(X)
    fixed = _FixedLogits(head.classes_)
    alphas = (0.1, 0.05)
    for method, mondrian in [("lac", False), ("aps", False), ("lac", True)]:
        cov: dict[float, list[float]] = {alpha: [] for alpha in alphas}
        for seed in SEEDS:
            perm = np.random.default_rng(seed).permutation(pool)
            cal, test = perm[: perm.size // 2], perm[perm.size // 2 :]
            cp = ConformalClassifier(fixed, method=method, mondrian=mondrian)
            cp.calibrate(Z[cal], y[cal])
            for alpha in alphas:
                sets = cp.predict_set(Z[test], alpha)
                cov[alpha].append(set_coverage(sets, np.searchsorted(head.classes_, y[test]))["coverage"])
        for alpha in alphas:
            mean = np.mean(cov[alpha])
            se = np.std(cov[alpha], ddof=1) / np.sqrt(len(cov[alpha]))
            assert mean >= 1 - alpha - 3 * se, (name, method, mondrian, alpha, mean, se)


def test_temperature_scaling_lowers_nll_on_held_out_rows(minilm_embeddings):
    X, y, splits = minilm_embeddings("banking77")
    fit_rows, pool = _fixed_train(y, splits)
    head = LDAHead().fit(X[fit_rows], y[fit_rows])
    perm = np.random.default_rng(0).permutation(pool)
    cal, test = perm[: perm.size // 2], perm[perm.size // 2 :]
    codes = np.searchsorted(head.classes_, y)
    ts = TemperatureScaler().fit(head.logits(X[cal]), codes[cal])
    from headwise.trust import negative_log_likelihood

    z = head.logits(X[test])
    assert negative_log_likelihood(codes[test], ts.predict_proba(z)) < negative_log_likelihood(
        codes[test], head.predict_proba(X[test])
    )


@pytest.mark.parametrize("make_head", [LDAHead, NCMHead], ids=["lda", "ncm"])
def test_banking77_seven_task_class_incremental(minilm_embeddings, make_head):
    X, y, splits = minilm_embeddings("banking77")
    fit_rows, pool = _fixed_train(y, splits)
    tasks = np.array_split(np.random.default_rng(0).permutation(77), 7)
    alpha = 0.1
    n_seeds = 10
    # Every seed learns the same tasks from the same training rows, so the seeds' conformal
    # classifiers share one head (each learns a task once, not once per seed); only their
    # calibration and test rows differ.
    head = make_head()
    splits_by_seed = []
    for seed in range(n_seeds):
        perm = np.random.default_rng(seed).permutation(pool)
        splits_by_seed.append((perm[: perm.size // 2], perm[perm.size // 2 :]))
    cps = [ConformalClassifier(head, method="lac") for _ in range(n_seeds)]
    cov = np.zeros((n_seeds, 7))
    seen: list[int] = []
    for t, task in enumerate(tasks):
        seen += task.tolist()
        tr = fit_rows[np.isin(y[fit_rows], task)]
        cps[0].partial_fit(X[tr], y[tr])  # forwards to the shared head
        for seed, (cp, (cal_all, test_all)) in enumerate(zip(cps, splits_by_seed, strict=True)):
            ca = cal_all[np.isin(y[cal_all], task)]
            cp.calibrate(X[ca], y[ca]) if t == 0 else cp.partial_update(X[ca], y[ca])
            te = test_all[np.isin(y[test_all], seen)]
            sets = cp.predict_set(X[te], alpha)
            cov[seed, t] = set_coverage(sets, np.searchsorted(cp.classes_, y[te]))["coverage"]
    mean = cov.mean(axis=0)
    se = cov.std(axis=0, ddof=1) / np.sqrt(cov.shape[0])
    assert np.all(mean >= 1 - alpha - 3 * se), (mean, se)
