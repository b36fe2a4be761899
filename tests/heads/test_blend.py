"""BlendHead chooses how much to trust the class names on held-out rows."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.encoders import HashEncoder
from headwise.exceptions import InputError
from headwise.heads import BlendHead, ZeroShotHead, load_head, save_head

NAMES = ["alpha", "beta", "delta", "gamma"]  # sorted: the order of classes_ and W0


def _rows(W0: np.ndarray, n: int, swap: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows near their class's prompt vector (``swap``: near another class's), with noise large
    enough that a few rows per class leave the direction uncertain."""
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(len(NAMES)), n)
    centre = W0[(codes + 1) % len(NAMES)] if swap else W0[codes]
    return centre + 0.2 * rng.normal(size=(codes.size, W0.shape[1])), np.array(NAMES)[codes]


@pytest.fixture(scope="module")
def setting():
    enc = HashEncoder(dim=48)
    W0 = ZeroShotHead(enc, templates=("{}",)).fit_names(NAMES).coef_
    return enc, W0


def test_names_that_match_the_rows_get_a_stronger_prior_than_names_that_do_not(setting):
    enc, W0 = setting
    X, y = _rows(W0, 6, swap=False, seed=0)
    Xs, ys = _rows(W0, 6, swap=True, seed=0)
    right = BlendHead(enc, templates=("{}",)).fit(X, y)
    wrong = BlendHead(enc, templates=("{}",)).fit(Xs, ys)
    assert right.prior_strength_ > wrong.prior_strength_
    assert wrong.prior_strength_ <= 0.03
    assert right.prior_grid_.tolist() == sorted(right.prior_grid_.tolist(), reverse=True)
    assert right.prior_scores_.shape == right.prior_grid_.shape
    assert np.isclose(right.prior_scores_.min(),
                      right.prior_scores_[right.prior_grid_ == right.prior_strength_][0], atol=1e-4)
    # with the wrong names, the chosen strength predicts held-out rows better than the old fixed one
    Xt, yt = _rows(W0, 50, swap=True, seed=1)
    fixed = BlendHead(enc, templates=("{}",), prior_strength=1.0).fit(Xs, ys)
    assert np.mean(wrong.predict(Xt) == yt) > np.mean(fixed.predict(Xt) == yt)


def test_one_row_per_class_keeps_the_middle_strength_and_a_given_one_is_used(setting):
    enc, W0 = setting
    X, y = _rows(W0, 1, swap=False, seed=0)
    head = BlendHead(enc, templates=("{}",)).fit(X, y)
    assert head.prior_strength_ == 0.1 and head.prior_scores_.size == 0
    given = BlendHead(enc, templates=("{}",), prior_strength=0.5).fit(*_rows(W0, 6, False, 0))
    assert given.prior_strength_ == 0.5 and given.prior_grid_.size == 0


def test_the_chosen_strength_survives_save_and_load(setting, tmp_path):
    enc, W0 = setting
    X, y = _rows(W0, 6, swap=False, seed=0)
    head = BlendHead(enc, templates=("{}",)).fit(X, y)
    save_head(head, tmp_path / "b.safetensors")
    back = load_head(tmp_path / "b.safetensors")
    assert back.prior_strength_ == head.prior_strength_
    np.testing.assert_allclose(back.predict_proba(X), head.predict_proba(X))


@pytest.mark.parametrize("grid", [(), (-0.1, 1.0), "0.1", (float("nan"),), (True,)])
def test_a_bad_grid_is_an_input_error(setting, grid):
    enc, W0 = setting
    with pytest.raises(InputError, match="prior_strengths"):
        BlendHead(enc, templates=("{}",), prior_strengths=grid).fit(*_rows(W0, 3, False, 0))
