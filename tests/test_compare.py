from __future__ import annotations

import numpy as np
import pytest

from headwise.compare import compare_heads, stratified_holdout
from headwise.exceptions import InputError


def test_selection_uses_validation_only(blobs) -> None:
    X, y = blobs
    Xte, yte = X[:30], y[:30]
    lb = compare_heads(X, y, Xte, yte, heads=("ncm", "lda"), baseline=False)
    assert {r.head for r in lb.rows} == {"ncm", "lda"}
    best = max(lb.rows, key=lambda r: (r.val_accuracy, -("ncm", "lda").index(r.head)))
    assert lb.best == best.head
    assert lb.best_head is not None and lb.best_head.predict(Xte).shape == (30,)


def test_test_labels_do_not_change_the_choice(blobs) -> None:
    X, y = blobs
    a = compare_heads(X, y, X[:30], y[:30], heads=("ncm", "lda"), baseline=False)
    b = compare_heads(X, y, X[:30], np.roll(y[:30], 1), heads=("ncm", "lda"), baseline=False)
    assert a.best == b.best


def test_unseen_test_labels_are_refused(blobs) -> None:
    X, y = blobs
    with pytest.raises(InputError, match="never appear in train"):
        compare_heads(X, y, X[:5], np.full(5, 9), heads=("ncm",), baseline=False)


def test_holdout_is_stratified_and_disjoint() -> None:
    y = np.repeat(np.arange(4), 25)
    fit_idx, val_idx = stratified_holdout(y, 0.2, random_state=1)
    assert np.intersect1d(fit_idx, val_idx).size == 0
    assert np.bincount(y[val_idx]).tolist() == [5, 5, 5, 5]
    with pytest.raises(InputError, match="fraction"):
        stratified_holdout(y, 1.5)
