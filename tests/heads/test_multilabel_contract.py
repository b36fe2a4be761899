"""Contract tests for every registered multi-label head (sklearn's generic checks plus ours)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from headwise.exceptions import EncoderMismatchError, InputError
from headwise.heads import get_head, load_head, save_head

from ._helpers import make_head, multilabel_heads


def toy_multilabel(n: int = 120, d: int = 8, L: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows near up to two of ``L`` centres; a row's labels are the centres it is near."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(L, d))
    Y = np.zeros((n, L))
    Y[np.arange(n), rng.integers(0, L, n)] = 1
    extra = rng.random(n) < 0.4
    Y[np.flatnonzero(extra), rng.integers(0, L, extra.sum())] = 1
    X = Y @ centres / Y.sum(axis=1, keepdims=True) + rng.normal(scale=0.5, size=(n, d)) + 1.0
    return X, Y


@pytest.fixture(params=multilabel_heads())
def ml_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@parametrize_with_checks([make_head(n) for n in multilabel_heads()])
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)


def test_registered() -> None:
    assert {"mlridge", "mllogistic", "mlknn"} <= set(multilabel_heads())


def test_predicts_label_sets(ml_name: str) -> None:
    X, Y = toy_multilabel()
    Xt, Yt = toy_multilabel(60, seed=0)
    head = make_head(ml_name).fit(X, Y)
    z = head.logits(Xt)
    assert z.shape == Yt.shape
    P = head.predict(Xt)
    assert P.shape == Yt.shape and set(np.unique(P)) <= {0, 1}
    np.testing.assert_array_equal(P, (z >= head.thresholds_).astype(int))
    p = head.predict_proba(Xt)
    assert np.all((p >= 0) & (p <= 1))
    assert head.score(Xt, Yt) > 0.8


def test_label_lists_and_names(ml_name: str) -> None:
    X, Y = toy_multilabel()
    names = np.array(["anger", "joy", "love", "zeal"])
    lists = [names[np.flatnonzero(r)].tolist() for r in Y]
    a = make_head(ml_name).fit(X, lists)
    b = make_head(ml_name).fit(X, Y)
    assert a.classes_.tolist() == names.tolist()
    np.testing.assert_allclose(a.logits(X), b.logits(X), rtol=1e-9, atol=1e-12)
    assert all(set(p) <= set(names) for p in a.predict_labels(X[:5]))


def test_top_k(ml_name: str) -> None:
    X, Y = toy_multilabel()
    head = make_head(ml_name, top_k=2).fit(X, Y)
    P = head.predict(X)
    assert np.all(P.sum(axis=1) == 2)
    z = head.logits(X)
    top = np.argsort(-z, axis=1, kind="stable")[:, :2]
    assert np.all(np.take_along_axis(P, top, axis=1) == 1)


def test_save_load_identical(ml_name: str, tmp_path: Any) -> None:
    X, Y = toy_multilabel()
    lists = [np.array(["a", "b", "c", "d"])[np.flatnonzero(r)].tolist() for r in Y]
    head = make_head(ml_name).fit(X, lists)
    key = {"id": "hash:test", "dim": X.shape[1]}
    loaded = load_head(save_head(head, tmp_path / "h.safetensors", encoder_key=key), expected_encoder_key=key)
    assert type(loaded) is type(head)
    np.testing.assert_array_equal(loaded.classes_, head.classes_)
    np.testing.assert_array_equal(loaded.logits(X), head.logits(X))
    np.testing.assert_array_equal(loaded.predict(X), head.predict(X))
    with pytest.raises(EncoderMismatchError):
        load_head(tmp_path / "h.safetensors", expected_encoder_key={"id": "hash:other"})


def test_pickle_and_reproducible(ml_name: str) -> None:
    X, Y = toy_multilabel()
    head = make_head(ml_name).fit(X, Y)
    clone = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(clone.logits(X), head.logits(X))
    np.testing.assert_array_equal(make_head(ml_name).fit(X, Y).logits(X), head.logits(X))


def test_inputs_not_mutated(ml_name: str) -> None:
    X, Y = toy_multilabel()
    Y[0, 1] = -1
    Xc, Yc = X.copy(), Y.copy()
    make_head(ml_name).fit(X, Y).predict(X)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)


def test_errors(ml_name: str) -> None:
    X, Y = toy_multilabel()
    with pytest.raises(NotFittedError):
        make_head(ml_name).predict(X)
    bad = X.copy()
    bad[2, 3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        make_head(ml_name).fit(bad, Y)
    head = make_head(ml_name).fit(X, Y)
    with pytest.raises(InputError, match="expecting 8 features"):
        head.predict(X[:, :5])
    with pytest.raises(InputError, match="indicator"):
        make_head(ml_name).fit(X, Y * 2)
    with pytest.raises(InputError, match="threshold"):
        make_head(ml_name, threshold="best").fit(X, Y)
    with pytest.raises(InputError, match="never seen"):
        head.score(X[:1], [[7]])


def test_unknown_entries_are_not_negatives(ml_name: str) -> None:
    """Masking a label's entries on rows gives the head fitted without those entries' evidence:
    marking every positive of label 0 unknown must not teach it that label 0 never applies."""
    X, Y = toy_multilabel()
    Ym = Y.copy()
    half = np.flatnonzero(Y[:, 0] == 1)[::2]
    Ym[half, 0] = np.nan
    masked = make_head(ml_name, threshold=0.0).fit(X, Ym)
    as_neg = make_head(ml_name, threshold=0.0).fit(X, np.nan_to_num(Ym))
    pos = Y[:, 0] == 1
    assert masked.logits(X)[pos, 0].mean() > as_neg.logits(X)[pos, 0].mean()


def test_single_label_heads_refuse_label_lists() -> None:
    X, Y = toy_multilabel()
    lists = np.empty(len(Y), dtype=object)
    lists[:] = [tuple(np.flatnonzero(r)) for r in Y]
    for name in ("lda", "logistic", "knn"):
        with pytest.raises(InputError, match="multi-label head"):
            get_head(name).fit(X, lists)


def test_partial_fit_feature_change() -> None:
    X, Y = toy_multilabel()
    head = make_head("mlridge").partial_fit(X, Y)
    with pytest.raises(InputError, match="features"):
        head.partial_fit(X[:, :-1], Y)
