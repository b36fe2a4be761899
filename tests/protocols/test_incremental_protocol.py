from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads import LDAHead, NCMHead, RandomProjectionRidgeHead, RidgeHead
from headwise.protocols import class_incremental_eval, forgetting, split_tasks

from ._helpers import blobs


def test_split_tasks_is_seeded_partition():
    classes = np.arange(10)
    a = split_tasks(classes, 3, seed=0)
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    assert [len(t) for t in a] == [4, 3, 3]
    assert [t.tolist() for t in a] == [t.tolist() for t in split_tasks(classes, 3, seed=0)]
    with pytest.raises(InputError, match="between 1 and the number of classes"):
        split_tasks(classes, 11, seed=0)


def test_forgetting_definition():
    acc = np.array([[1.0, np.nan, np.nan], [0.8, 0.9, np.nan], [0.7, 0.6, 1.0]])
    assert forgetting(acc) == pytest.approx(((1.0 - 0.7) + (0.9 - 0.6)) / 2)


@pytest.mark.parametrize(
    "head",
    [NCMHead(), LDAHead(shrinkage="oas"), RidgeHead(alphas=(1.0,)),
     RandomProjectionRidgeHead(n_components=64, alphas=(1.0,))],
    ids=["ncm", "lda", "ridge", "rpridge"],
)
def test_incremental_updates_equal_batch_refit(head):
    """After the last task, the head learned task by task equals one fitted on all rows."""
    Xtr, ytr, Xte, _ = blobs(n_classes=6)
    from sklearn.base import clone

    inc = clone(head)
    for task in split_tasks(np.unique(ytr), 3, seed=0):
        rows = np.isin(ytr, task)
        inc.partial_fit(Xtr[rows], ytr[rows])
    batch = clone(head).fit(Xtr, ytr)
    np.testing.assert_allclose(inc.logits(Xte), batch.logits(Xte), rtol=1e-7, atol=1e-8)


def test_incremental_eval_reports_curve():
    Xtr, ytr, Xte, yte = blobs(n_classes=6)
    res = class_incremental_eval("ncm,lda,ridge", Xtr, ytr, Xte, yte, n_tasks=3, seeds=(0, 1))
    for c in res.heads.values():
        assert len(c.accuracy_after_task) == 3
        assert c.final == c.accuracy_after_task[-1]
        assert c.average == pytest.approx(np.mean(c.accuracy_after_task))
        assert 0.0 <= c.forgetting <= 1.0
        assert c.final > 0.9
    assert len(res.task_classes) == 3
    js = res.to_json()
    assert set(js["heads"]["ncm"]) >= {"accuracy_after_task", "average", "final", "forgetting"}


def test_incremental_refuses_head_without_partial_fit():
    Xtr, ytr, Xte, yte = blobs()
    with pytest.raises(InputError, match="no partial_fit"):
        class_incremental_eval("logistic", Xtr, ytr, Xte, yte, n_tasks=2)


def test_forgetting_leaves_out_a_task_without_test_rows() -> None:
    # one such task made the whole metric NaN (null in the CLI) and printed numpy's
    # "All-NaN slice encountered"
    import warnings

    from headwise.protocols import forgetting

    acc = np.array([[np.nan, np.nan, np.nan], [np.nan, 0.8, np.nan], [np.nan, 0.6, 0.9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert forgetting(acc) == pytest.approx(0.2)
        assert np.isnan(forgetting(np.array([[np.nan, np.nan], [np.nan, 0.9]])))
