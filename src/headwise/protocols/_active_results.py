"""Frozen results of the active-learning protocol: learning curves and their areas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._results import RunRecord, Summary, _Curve, _jsonable

__all__ = ["ActiveCurve", "ActiveResult", "area_under_curve"]


def area_under_curve(n_labels: Sequence[float], accuracy: Sequence[float]) -> float:
    """Trapezoid area under accuracy vs labels, divided by the label range (0..1 for accuracy).

    The normalised area is the mean accuracy over the labelling budget, so strategies run at
    equal budgets compare directly. With a single point it is that point's accuracy.

    >>> area_under_curve([10, 20, 30], [0.5, 0.7, 0.7])
    0.65
    """
    x = np.asarray(n_labels, dtype=np.float64)
    a = np.asarray(accuracy, dtype=np.float64)
    if x.size < 2 or x[-1] == x[0]:
        return float(a[-1])
    return float(np.sum((a[1:] + a[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


@dataclass(frozen=True)
class ActiveCurve(_Curve):
    """One strategy's learning curve over seeds."""

    n_labels: tuple[int, ...]  # labelled rows after each round (round 0 first)
    scores: tuple[Summary, ...]  # test accuracy at each point, over seeds
    aulc: Summary  # normalised area under each seed's curve, over seeds
    refits: Mapping[str, int]  # how the head was updated: {"partial_fit": n, "fit": n}

    def to_json(self) -> dict[str, Any]:
        return {"n_labels": list(self.n_labels), **self._curve_json(),
                "aulc": {"mean": self.aulc.mean, "ci95": self.aulc.ci95,
                         "per_seed": list(self.aulc.per_seed)},
                "refits": dict(self.refits)}  # fmt: skip


@dataclass(frozen=True)
class ActiveResult:
    strategies: Mapping[str, ActiveCurve]  # strategy name -> curve
    head: str  # the head refitted every round
    start: int  # labelled rows per class at round 0 (0: the teacher alone, zero-shot)
    budget: int  # rows queried per round
    rounds: int
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return _jsonable({"protocol": self.record.protocol, **extra, "head": self.head,
                          "start": self.start, "budget": self.budget, "rounds": self.rounds,
                          "strategies": {n: c.to_json() for n, c in self.strategies.items()},
                          "record": self.record.to_json()})  # fmt: skip
