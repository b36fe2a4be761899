from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import LDAHead, NCMHead
from headwise.protocols import LeakageError, linear_eval

from ._helpers import blobs


def test_linear_scores_and_record():
    Xtr, ytr, Xte, yte = blobs()
    res = linear_eval("ncm,lda,ridge", Xtr, ytr, Xte, yte, seeds=(0, 1))
    assert set(res.heads) == {"ncm", "lda", "ridge"}
    for r in res.heads.values():
        assert r.test_accuracy > 0.9 and len(r.test.per_seed) == 2
    assert res.record.seeds == (0, 1) and res.record.protocol == "linear"
    assert res.n_test == len(yte) and res.n_val > 0
    assert res.heads["lda"].chosen["shrinkage"] in ("oas", 0.01, 0.1, 0.3)
    js = res.to_json(dataset="toy")
    assert set(js["heads"]["ncm"]) >= {"val_accuracy", "test_accuracy", "macro_f1", "fit_seconds"}


def test_linear_is_reproducible():
    Xtr, ytr, Xte, yte = blobs(seed=3)
    a = linear_eval({"lda": LDAHead()}, Xtr, ytr, Xte, yte, seeds=3)
    b = linear_eval({"lda": LDAHead()}, Xtr, ytr, Xte, yte, seeds=3)
    assert a.heads["lda"] == b.heads["lda"] or a.heads["lda"].test == b.heads["lda"].test
    assert a.record.data_hash == b.record.data_hash


def test_selection_never_sees_test_rows():
    """Corrupting the test labels cannot change the validation scores or the chosen settings."""
    Xtr, ytr, Xte, yte = blobs(seed=1)
    a = linear_eval("ncm,lda", Xtr, ytr, Xte, yte)
    b = linear_eval("ncm,lda", Xtr, ytr, Xte, np.roll(yte, 7))
    for name in ("ncm", "lda"):
        assert a.heads[name].val_accuracy == b.heads[name].val_accuracy
        assert a.heads[name].chosen == b.heads[name].chosen


def test_leakage_refused_then_dropped():
    Xtr, ytr, Xte, yte = blobs()
    Xte2 = np.r_[Xte, Xtr[:3]]
    yte2 = np.r_[yte, ytr[:3]]
    with pytest.raises(LeakageError, match="3 of .* test rows also appear"):
        linear_eval({"ncm": NCMHead()}, Xtr, ytr, Xte2, yte2)
    res = linear_eval({"ncm": NCMHead()}, Xtr, ytr, Xte2, yte2, drop_overlap=True)
    assert res.n_dropped_overlap == 3 and res.n_test == len(yte)


def test_leakage_by_text_keys_and_validation_overlap():
    Xtr, ytr, Xte, yte = blobs()
    tk = np.asarray([f"t{i}" for i in range(len(ytr))])
    ek = np.asarray([f"e{i}" for i in range(len(yte))])
    ek[0] = tk[5]  # same text, different embedding (e.g. another augmentation)
    with pytest.raises(LeakageError):
        linear_eval("ncm", Xtr, ytr, Xte, yte, train_keys=tk, test_keys=ek)
    Xva, yva = Xte[:4] + 0.0, yte[:4]  # validation rows equal to test rows: used in selection
    with pytest.raises(LeakageError):
        linear_eval("ncm", Xtr, ytr, Xte, yte, X_val=Xva, y_val=yva)


def test_given_validation_split_is_used():
    Xtr, ytr, Xte, yte = blobs()
    Xva, yva = Xtr[::5] + 0.01, ytr[::5]
    res = linear_eval("ncm", Xtr, ytr, Xte, yte, X_val=Xva, y_val=yva)
    assert res.n_val == len(yva) and res.n_train == len(ytr)


def test_logistic_uses_its_own_c_search_not_a_private_grid():
    from headwise.heads import LogisticHead
    from headwise.protocols.linear import DEFAULT_GRIDS

    assert "logistic" not in DEFAULT_GRIDS  # one C grid, in the head
    Xtr, ytr, Xte, yte = blobs(seed=2)
    res = linear_eval("logistic", Xtr, ytr, Xte, yte, seeds=(0,))
    chosen = res.heads["logistic"].chosen
    assert set(chosen) == {"C"} and chosen["C"] > 0
    # a user's fixed C is kept as given, not overwritten by the self-tuned value
    fixed = linear_eval({"logistic": LogisticHead(C=0.5)}, Xtr, ytr, Xte, yte, seeds=(0,))
    assert fixed.heads["logistic"].chosen == {}
