"""Temperature scaling against a brute-force grid, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from headwise.exceptions import InputError
from headwise.trust import TemperatureScaler, temperature_nll


def _logits(seed: int, scale: float, n: int = 600, c: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    z = 2.0 * np.eye(c)[y] + rng.normal(size=(n, c))
    return scale * z, y


@pytest.mark.parametrize(("seed", "scale"), [(0, 0.2), (1, 1.0), (2, 4.0), (3, 10.0)])
def test_matches_brute_force_grid(seed, scale):
    z, y = _logits(seed, scale)
    ts = TemperatureScaler().fit(z, y)
    grid = np.exp(np.linspace(np.log(1e-2), np.log(1e2), 3001))
    nll = np.array([temperature_nll(z, y, t) for t in grid])
    t_grid = grid[np.argmin(nll)]
    assert ts.temperature_ == pytest.approx(t_grid, rel=4e-3)  # grid step 0.3%
    assert ts.nll_after_ <= nll.min() + 1e-9
    assert ts.nll_after_ <= ts.nll_before_ + 1e-12


def test_overconfident_logits_get_t_above_one():
    z, y = _logits(5, 6.0)
    assert TemperatureScaler().fit(z, y).temperature_ > 1.5


def test_argmax_unchanged_and_minus_inf_columns():
    z, y = _logits(6, 3.0)
    z[:, 4] = -np.inf  # a known class without rows
    y = np.where(y == 4, 0, y)
    ts = TemperatureScaler().fit(z, y)
    p = ts.predict_proba(z)
    assert np.array_equal(p.argmax(1), z.argmax(1))
    assert np.all(p[:, 4] == 0.0)
    assert np.allclose(p.sum(1), 1.0)


def test_separable_data_hits_the_lower_bound():
    y = np.array([0, 1, 0, 1])
    z = np.array([[1.0, -1.0], [-1.0, 1.0], [2.0, 0.0], [0.0, 2.0]])
    ts = TemperatureScaler(bounds=(1e-2, 1e2)).fit(z, y)
    assert ts.temperature_ == pytest.approx(1e-2, rel=1e-3)


def test_errors():
    with pytest.raises(NotFittedError):
        TemperatureScaler().transform(np.zeros((2, 2)))
    with pytest.raises(InputError, match="bounds"):
        TemperatureScaler(bounds=(2.0, 1.0)).fit(np.zeros((2, 2)), [0, 1])
    with pytest.raises(InputError, match="-inf"):
        TemperatureScaler().fit(np.array([[0.0, -np.inf]]), np.array([1]))
    with pytest.raises(InputError, match="integer class codes"):
        TemperatureScaler().fit(np.zeros((2, 2)), np.array(["a", "b"]))
