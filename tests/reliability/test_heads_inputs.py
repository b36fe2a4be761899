"""Every row head: extreme feature scales fit like ordinary ones; bad X/y raise InputError."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads import get_head, is_multilabel_head, list_heads, name_of_head
from headwise.heads._registry import is_token_head

ROW_HEADS = [h for h in list_heads() if not is_token_head(h)]
# zeroshot fits from class-name prompts (it needs an encoder) and L2-normalises X: scale-free
SCALE_HEADS = [h for h in ROW_HEADS if h != "zeroshot"]
# Defaults, except where they only add cost: rpridge's default 2048-wide projection makes each
# fit a 2048x2048 eigendecomposition (seconds, four fits per scale), while the input scaling
# under test happens before the projection and does not depend on its width.
SCALE_PARAMS = {"rpridge": {"n_components": 128}}


def blobs(seed: int = 0, n: int = 60, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    centers = np.random.default_rng(42).standard_normal((3, d)) * 4
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n // 3)
    return (centers[y] + rng.standard_normal((n, d))).astype(np.float32), y


def _labels(head, X):
    """One label per row: ``predict`` for single-label heads, the top-scoring label for
    multi-label heads (whose ``predict`` is an indicator matrix)."""
    if is_multilabel_head(name_of_head(type(head))):
        return head.classes_[np.argmax(head.logits(X), axis=1)]
    return head.predict(X)


@pytest.mark.parametrize("scale", [1e20, 1e-20])
@pytest.mark.parametrize("name", SCALE_HEADS)
def test_extreme_scale_fits_like_unit_scale(name, scale):
    X, y = blobs()
    Xt, yt = blobs(seed=1)
    params = SCALE_PARAMS.get(name, {})
    base = get_head(name, **params).fit(X, y)
    scaled = get_head(name, **params).fit(X * scale, y)
    proba = scaled.predict_proba(Xt * scale)
    assert np.isfinite(proba).all()
    acc_base = (_labels(base, Xt) == yt).mean()
    acc_scaled = (_labels(scaled, Xt * scale) == yt).mean()
    assert acc_scaled >= acc_base - 0.05, (acc_base, acc_scaled)
    assert acc_scaled > 0.6  # far above chance (1/3)


def test_ordinary_scale_is_untouched():
    X, y = blobs()
    head = get_head("ridge").fit(X, y)
    assert head.input_scale_ == 1.0


BAD_FITS = [
    ("None labels", lambda X, y: (X, np.array(["a", None] * 30, dtype=object)), "missing label"),
    ("NaN labels", lambda X, y: (X, np.where(np.arange(60) == 7, np.nan, y.astype(float))), "rows 7"),
    ("y is None", lambda X, y: (X, None), "target y is None"),
    ("length mismatch", lambda X, y: (X, y[:-1]), "60 rows but y has 59"),
    ("1-D X", lambda X, y: (X[:, 0], y), "2-D array"),
    ("empty X", lambda X, y: (X[:0], y[:0]), "0 sample"),
    ("no features", lambda X, y: (X[:, :0], y), "0 feature"),
    ("NaN in X", lambda X, y: (np.where(np.arange(60)[:, None] == 3, np.nan, X), y), "NaN"),
    ("strings as X", lambda X, y: (np.array([["a"] * 6] * 60), y), ""),
    ("mixed label types", lambda X, y: (X, np.array([1, "1", "2"] * 20, dtype=object)), "label type"),
]


@pytest.mark.parametrize(("case", "make", "match"), BAD_FITS, ids=[c[0] for c in BAD_FITS])
@pytest.mark.parametrize("name", ROW_HEADS)
def test_bad_fit_inputs_raise_input_error(name, case, make, match):
    X, y = make(*blobs())
    with pytest.raises(InputError, match=match):
        get_head(name).fit(X, y)
