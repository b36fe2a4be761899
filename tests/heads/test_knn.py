"""KNNHead: oracle against sklearn's brute-force cosine KNeighborsClassifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from headwise.exceptions import InputError
from headwise.heads import get_head
from headwise.heads._knn import KNNHead


def _data(seed=0, n=150, d=6, n_classes=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = rng.normal(size=(n, d)) + 1.5 * np.eye(d)[y % d]
    Xt = rng.normal(size=(60, d)) + 0.5
    return X, y, Xt


def test_registered():
    assert isinstance(get_head("knn"), KNNHead)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [1, 5, 12])
def test_matches_sklearn_cosine_brute(weights, k):
    X, y, Xt = _data()
    head = KNNHead(n_neighbors=k, weights=weights).fit(X, y)
    oracle = KNeighborsClassifier(
        n_neighbors=k, weights=weights, metric="cosine", algorithm="brute"
    ).fit(X, y)
    np.testing.assert_array_equal(head.predict(Xt), oracle.predict(Xt))
    np.testing.assert_allclose(head.predict_proba(Xt), oracle.predict_proba(Xt), atol=1e-4)


def test_logits_are_log_vote_fractions():
    X, y, Xt = _data()
    head = KNNHead(n_neighbors=4, weights="uniform").fit(X, y)
    fractions = np.exp(head.logits(Xt)) - 1e-9
    np.testing.assert_allclose(fractions * 4, np.round(fractions * 4), atol=1e-6)
    np.testing.assert_allclose(fractions.sum(axis=1), 1.0, atol=1e-6)


def test_exact_match_takes_the_vote(blobs):
    X, y = blobs
    head = KNNHead(n_neighbors=10).fit(X, y)
    proba = head.predict_proba(X[:5])
    np.testing.assert_allclose(proba[np.arange(5), y[:5]], 1.0, atol=1e-6)


def test_partial_fit_appends_and_equals_fit():
    X, y, Xt = _data(n_classes=5)
    order = np.argsort(y, kind="stable")  # classes arrive one chunk after another
    X, y = X[order], y[order]
    head = KNNHead(n_neighbors=7)
    for part in np.array_split(np.arange(len(y)), 5):
        head.partial_fit(X[part], y[part])
    batch = KNNHead(n_neighbors=7).fit(X, y)
    np.testing.assert_array_equal(head.classes_, batch.classes_)
    np.testing.assert_array_equal(head.train_codes_, batch.train_codes_)
    np.testing.assert_array_equal(head.logits(Xt), batch.logits(Xt))


def test_partial_fit_with_announced_classes():
    X, y, Xt = _data()
    head = KNNHead().partial_fit(X, y, classes=[0, 1, 2, 3, 9])
    assert head.classes_.tolist() == [0, 1, 2, 3, 9]
    assert 9 not in head.predict(Xt)


def test_string_labels_inserted_in_order():
    X, y, Xt = _data()
    labels = np.array(["d", "b", "c", "a"])[y]
    head = KNNHead().partial_fit(X[labels != "a"], labels[labels != "a"])
    head.partial_fit(X[labels == "a"], labels[labels == "a"])
    batch = KNNHead().fit(
        X[np.r_[np.flatnonzero(labels != "a"), np.flatnonzero(labels == "a")]],
        np.r_[labels[labels != "a"], labels[labels == "a"]],
    )
    assert head.classes_.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(head.predict(Xt), batch.predict(Xt))


def test_batch_size_does_not_change_results():
    X, y, Xt = _data()
    a = KNNHead(batch_size=7).fit(X, y).logits(Xt)
    b = KNNHead(batch_size=4096).fit(X, y).logits(Xt)
    np.testing.assert_array_equal(a, b)


def test_more_neighbours_than_rows_uses_all_rows():
    X = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0]])
    head = KNNHead(n_neighbors=50, weights="uniform").fit(X, [0, 0, 1])
    np.testing.assert_allclose(head.predict_proba(np.array([[1.0, 1.0]])), [[2 / 3, 1 / 3]])


def test_stores_normalised_float32_rows(blobs):
    X, y = blobs
    head = KNNHead().fit(X, y)
    assert head.train_embeddings_.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(head.train_embeddings_, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_neighbors": 0}, "'n_neighbors' parameter"),
        ({"batch_size": 2.5}, "'batch_size' parameter"),
        ({"weights": "rank"}, "'weights' parameter"),
        ({"metric": "euclidean"}, "'metric' parameter"),
    ],
)
def test_bad_parameters(blobs, params, match):
    with pytest.raises(InputError, match=match):
        KNNHead(**params).fit(*blobs)
