"""AutoHead: choice on held-out training rows only, refit on all rows, save/load, errors."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError, UnknownHeadError
from headwise.heads import get_head, load_head, save_head
from headwise.heads._auto import AutoHead
from headwise.heads._holdout import stratified_holdout

from ._helpers import toy_blobs

FAST = {"logistic": {"C": 1.0}}


def _anisotropic(n=300, seed=0):
    """Classes that differ along a low-variance direction: LDA beats nearest class mean."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)) * np.array([8.0, 8.0, 8.0, 0.3, 0.3])
    X[:, 3] += 1.5 * y
    return X + 4.0, y


def test_registered():
    assert isinstance(get_head("auto"), AutoHead)


def test_picks_the_best_validation_score_and_refits_on_all_rows():
    X, y = _anisotropic()
    head = AutoHead(candidates=("ncm", "lda", "logistic"), candidate_params=FAST).fit(X, y)
    assert set(head.scores_) == {"ncm", "lda", "logistic"}
    assert head.scores_["lda"] > head.scores_["ncm"]
    assert head.best_name_ == max(head.scores_, key=head.scores_.__getitem__)
    # The scores are those of heads fitted on the training part, scored on the held-out part.
    tr, va = stratified_holdout(y, 0.15, 0)
    ncm = get_head("ncm").fit(X[tr], y[tr])
    assert head.scores_["ncm"] == pytest.approx(np.mean(ncm.predict(X[va]) == y[va]))
    # The winner is refitted on every row and logits delegate to it.
    best = get_head(head.best_name_, **FAST.get(head.best_name_, {})).fit(X, y)
    np.testing.assert_allclose(head.logits(X), best.logits(X))
    np.testing.assert_array_equal(head.classes_, best.classes_)
    assert head.best_estimator_.n_features_in_ == 5


def test_ties_go_to_the_earlier_candidate():
    X, y = toy_blobs()  # separable: every head is perfect on the held-out rows
    head = AutoHead(candidates=("lda", "ncm")).fit(X, y)
    assert head.scores_ == {"lda": 1.0, "ncm": 1.0}
    assert head.best_name_ == "lda"


@pytest.mark.parametrize("scoring", ["accuracy", "balanced_accuracy", "neg_log_loss"])
def test_scorings(scoring):
    X, y = _anisotropic()
    head = AutoHead(candidates=("ncm", "lda"), scoring=scoring).fit(X, y)
    assert head.best_name_ == "lda"
    if scoring == "neg_log_loss":
        assert all(s < 0 for s in head.scores_.values())


def test_one_row_per_class_uses_the_first_candidate():
    X, y = toy_blobs(n_per_class=1)
    head = AutoHead(candidates=("ncm", "lda")).fit(X, y)
    assert head.best_name_ == "ncm"
    assert all(np.isnan(s) for s in head.scores_.values())
    np.testing.assert_array_equal(head.predict(X), y)


def test_save_load_round_trip(tmp_path):
    X, y = _anisotropic()
    labels = np.array(["x", "y", "z"])[y]
    head = AutoHead(candidates=("ncm", "lda", "logistic"), candidate_params=FAST).fit(X, labels)
    loaded = load_head(save_head(head, tmp_path / "auto.safetensors"))
    assert type(loaded) is AutoHead
    assert type(loaded.best_estimator_) is type(head.best_estimator_)
    assert loaded.best_name_ == head.best_name_
    assert loaded.scores_ == head.scores_
    assert loaded.candidate_params == FAST
    np.testing.assert_array_equal(loaded.classes_, head.classes_)
    np.testing.assert_array_equal(loaded.logits(X), head.logits(X))
    np.testing.assert_array_equal(loaded.predict(X), head.predict(X))


@pytest.mark.parametrize("best", ["ncm", "ridge", "logistic"])
def test_save_load_every_winner(tmp_path, best):
    X, y = _anisotropic()
    head = AutoHead(candidates=(best,), candidate_params={best: FAST.get(best, {})}).fit(X, y)
    loaded = load_head(save_head(head, tmp_path / "a.safetensors"))
    np.testing.assert_array_equal(loaded.logits(X), head.logits(X))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"candidates": ()}, InputError, "'candidates' parameter of AutoHead must be a non-empty"),
        ({"candidates": ("ncm", "nosuchhead")}, UnknownHeadError, "Unknown head 'nosuchhead'"),
        ({"candidates": ("auto",)}, InputError, "cannot be its own candidate"),
        ({"candidates": ("lda", "lda")}, InputError, "lists a head twice"),
        ({"validation_fraction": 1.5}, InputError, "'validation_fraction' parameter of AutoHead"),
        ({"scoring": "f1"}, InputError, "'scoring' parameter of AutoHead must be one of"),
        ({"candidate_params": {"knn": {}}}, InputError, "candidate_params names ['knn']"),
    ],
)
def test_bad_parameters_raise_at_fit(params, error, message):
    head = AutoHead(**params)
    with pytest.raises(error) as info:
        head.fit(*toy_blobs())
    assert message in str(info.value)


def test_bad_candidate_params_surface_the_candidates_error():
    with pytest.raises(InputError, match="'C' parameter of LogisticHead"):
        AutoHead(candidates=("logistic",), candidate_params={"logistic": {"C": -1}}).fit(
            *toy_blobs()
        )
