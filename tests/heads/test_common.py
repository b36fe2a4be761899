"""Contract tests over the head registry: sklearn's estimator checks plus headwise's own."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from headwise.exceptions import EncoderMismatchError, InputError
from headwise.heads import load_head, save_head

from ._helpers import contract_heads, make_head, toy_blobs

# Extra settings worth their own pass through sklearn's checks (cheap closed-form heads).
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("ncm", {"metric": "euclidean"}),
    ("lda", {"shrinkage": None}),
    ("lda", {"shrinkage": "ledoit-wolf"}),
    ("ridge", {"alphas": (0.1, 1.0, 10.0), "alpha_selection": "val"}),
    ("knn", {"n_neighbors": 3, "weights": "uniform"}),
]

_LW_PARTIAL_FIT = (
    "partial_fit refuses shrinkage='ledoit-wolf' by design: it needs fourth moments that the "
    "sufficient statistics do not hold (tested in test_lda.py)."
)


_TRANSDUCTIVE = (
    "TransductiveHead predicts from the whole query batch by design (soft k-means over it), so "
    "a row's prediction depends on the other rows scored with it."
)


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """Checks that do not apply to one configuration, each with the reason."""
    if type(estimator).__name__ == "FourierHead":
        return {
            "check_classifiers_regression_target": (
                "FourierHead bins real-valued targets by design (a distribution over ordered bins)."
            ),
        }
    if type(estimator).__name__ == "TransductiveHead":
        return {
            "check_methods_subset_invariance": _TRANSDUCTIVE,
        }
    if type(estimator).__name__ == "LDAHead" and estimator.shrinkage == "ledoit-wolf":
        return {
            "check_fit_score_takes_y": _LW_PARTIAL_FIT,
            "check_n_features_in_after_fitting": _LW_PARTIAL_FIT,
            "check_estimators_partial_fit_n_features": _LW_PARTIAL_FIT,
        }
    return {}


def _all_instances() -> list[Any]:
    return [make_head(name) for name in contract_heads()] + [
        make_head(name, **params) for name, params in VARIANTS
    ]


@parametrize_with_checks(_all_instances(), expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator: Any, check: Any) -> None:
    check(estimator)


# ---------------------------------------------------------------- headwise's own contract


def _fit(name: str, X: np.ndarray, y: np.ndarray) -> Any:
    return make_head(name).fit(X, y)


def test_logits_shape_and_column_order(head_name, blobs, blobs_test):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    head = _fit(head_name, X, labels)
    z = head.logits(blobs_test[0])
    assert z.shape == (blobs_test[0].shape[0], 3)
    assert head.classes_.tolist() == ["ant", "bee", "cat"]
    np.testing.assert_array_equal(head.predict(blobs_test[0]), head.classes_[z.argmax(axis=1)])
    np.testing.assert_allclose(head.predict_proba(blobs_test[0]).sum(axis=1), 1.0)
    accuracy = np.mean(
        head.predict(blobs_test[0]) == np.array(["ant", "bee", "cat"])[blobs_test[1]]
    )
    assert accuracy > 0.9


def test_pickle_round_trip(head_name, blobs, blobs_test):
    head = _fit(head_name, *blobs)
    clone = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(clone.predict(blobs_test[0]), head.predict(blobs_test[0]))
    np.testing.assert_array_equal(clone.logits(blobs_test[0]), head.logits(blobs_test[0]))


def test_inputs_not_mutated(head_name, blobs, blobs_test):
    X, y = blobs
    X32 = X.astype(np.float32)
    X_copy, X32_copy, y_copy = X.copy(), X32.copy(), y.copy()
    head = _fit(head_name, X, y)
    head.fit(X32, y)
    if hasattr(head, "partial_fit"):
        try:
            head.partial_fit(X, y)
        except InputError:  # e.g. LDA with ledoit-wolf; not the point here
            pass
    Xt = blobs_test[0].copy()
    Xt_copy = Xt.copy()
    head.predict_proba(Xt)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(X32, X32_copy)
    np.testing.assert_array_equal(y, y_copy)
    np.testing.assert_array_equal(Xt, Xt_copy)


def test_save_load_identical_logits(head_name, blobs, blobs_test, tmp_path):
    X, y = blobs
    head = _fit(head_name, X, np.array(["ant", "bee", "cat"])[y])
    key = {"id": "hash:test", "dim": X.shape[1]}
    path = save_head(head, tmp_path / "head.safetensors", encoder_key=key)
    loaded = load_head(path, expected_encoder_key=key)
    assert type(loaded) is type(head)
    assert loaded.get_params().keys() == head.get_params().keys()
    np.testing.assert_array_equal(loaded.classes_, head.classes_)
    np.testing.assert_array_equal(loaded.logits(blobs_test[0]), head.logits(blobs_test[0]))
    np.testing.assert_array_equal(loaded.predict(blobs_test[0]), head.predict(blobs_test[0]))


def test_load_refuses_other_encoder(head_name, blobs, tmp_path):
    head = _fit(head_name, *blobs)
    path = save_head(head, tmp_path / "head.safetensors", encoder_key={"id": "hash:a", "dim": 8})
    with pytest.raises(EncoderMismatchError, match="hash:a"):
        load_head(path, expected_encoder_key={"id": "hash:b", "dim": 8})


def test_dimension_mismatch_message(head_name, blobs):
    head = _fit(head_name, *blobs)
    with pytest.raises(InputError, match="features") as info:
        head.predict(np.zeros((2, 5)))
    assert "different encoder" in str(info.value)
    assert "expecting 8 features" in str(info.value)


def test_nan_rejected(head_name, blobs):
    X, y = blobs
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        make_head(head_name).fit(bad, y)
    head = _fit(head_name, X, y)
    with pytest.raises(InputError, match="NaN"):
        head.predict(bad)


def test_single_class_rejected(head_name, blobs):
    X, _ = blobs
    with pytest.raises(InputError, match="class"):
        make_head(head_name).fit(X, np.zeros(X.shape[0], dtype=int))


def test_predict_before_fit(head_name, blobs):
    with pytest.raises(NotFittedError):
        make_head(head_name).predict(blobs[0])


def test_partial_fit_feature_change(head_name, blobs):
    head = make_head(head_name)
    if not hasattr(head, "partial_fit"):
        pytest.skip(f"{head_name} has no partial_fit")
    X, y = blobs
    head.partial_fit(X, y)
    with pytest.raises(InputError, match="features"):
        head.partial_fit(X[:, :-1], y)


def test_refit_is_reproducible(head_name, blobs, blobs_test):
    a = _fit(head_name, *blobs).logits(blobs_test[0])
    b = _fit(head_name, *blobs).logits(blobs_test[0])
    np.testing.assert_array_equal(a, b)


def test_refit_forgets_previous_data(head_name, blobs, blobs_test):
    X, y = blobs
    head = make_head(head_name).fit(X[::-1] + 5.0, y[::-1])
    head.fit(X, y)
    np.testing.assert_allclose(
        head.logits(blobs_test[0]), _fit(head_name, X, y).logits(blobs_test[0]), rtol=1e-9
    )


@pytest.mark.parametrize("name", contract_heads())
@pytest.mark.parametrize("big", [1e200, 1e308])
def test_rows_far_off_the_fit_scale_are_refused_not_scored_nan(name, big):
    # nb, mlp and fourier returned NaN probabilities at 1e308 (or 1e300), transductive raised
    # sklearn's ValueError, the others confident answers from overflowed arithmetic
    X, y = toy_blobs()
    head = make_head(name).fit(X, y)
    probe = np.vstack([X[:1], np.full((1, X.shape[1]), big)])
    with pytest.raises(InputError, match=r"Row 1 has values up to .* times the scale"):
        head.predict_proba(probe)
    assert np.isfinite(head.predict_proba(X[:3])).all()


def test_scores_that_overflow_are_refused(monkeypatch):
    X, y = toy_blobs()
    head = make_head("nb").fit(X, y)
    z = head.logits(X[:3])
    z[2, 0] = np.nan
    monkeypatch.setattr(type(head), "_logits", lambda self, X: z)
    with pytest.raises(InputError, match=r"Row 2 has no usable class scores"):
        head.predict_proba(X[:3])


@pytest.mark.parametrize("name", contract_heads())
def test_a_training_row_far_off_the_others_is_refused(name):
    # one row of 1e300 among unit rows: the common scale made the others ~1e-300 and the head
    # predicted at chance, silently
    X, y = toy_blobs()
    X = X.copy()
    X[5] = 1e300
    with pytest.raises(InputError, match=r"Row 5 has values up to 1e\+300, .* times the typical"):
        make_head(name).fit(X, y)


def test_rows_learnt_later_must_be_on_the_first_rows_scale():
    X, y = toy_blobs()
    head = make_head("lda").partial_fit(X, y)
    with pytest.raises(InputError, match=r"Row 0 has values up to 1e\+300 times the scale"):
        head.partial_fit(np.full((1, X.shape[1]), 1e300), y[:1])
    assert np.isfinite(head.predict_proba(X)).all()
