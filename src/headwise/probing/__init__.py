"""Probing a model's internals: layer and attention-head sweeps with linear heads.

>>> from headwise.probing import parse_layers
>>> parse_layers("0,2-3", 30)
[0, 2, 3]
"""

from ._features import site_features
from ._plot import plot_sweep
from ._result import SweepResult
from ._sweep import head_sweep, layer_sweep, parse_layers

__all__ = ["SweepResult", "head_sweep", "layer_sweep", "parse_layers", "plot_sweep", "site_features"]
