"""Frozen result records shared by the protocols: per-seed scores, mean, 95% interval, provenance.

Every protocol returns one of these dataclasses; ``to_json()`` gives the record written to a run
directory (``RUN/<protocol>.json``), including exactly what ran (:class:`RunRecord`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Summary",
    "RunRecord",
    "LinearHeadResult",
    "LinearResult",
    "FewShotCurve",
    "FewShotResult",
    "MTEBResult",
    "IncrementalCurve",
    "IncrementalResult",
    "ZeroShotResult",
    "summarize",
    "data_hash",
    "head_params",
    "write_json_atomic",
]


def summarize(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t interval of ``scores`` (0 for one score).

    >>> summarize([0.5, 0.7])[0]
    0.6
    """
    a = np.asarray(scores, dtype=np.float64)
    if a.size == 0:
        return float("nan"), float("nan")
    mean = float(a.mean())
    if a.size < 2:
        return mean, 0.0
    from scipy.stats import t

    half = float(t.ppf(0.975, a.size - 1) * a.std(ddof=1) / np.sqrt(a.size))
    return mean, half


def data_hash(*arrays: Any) -> str:
    """SHA-256 (first 16 hex digits) of the arrays' dtypes, shapes and bytes, in order."""
    h = hashlib.sha256()
    for arr in arrays:
        a = np.ascontiguousarray(np.asarray(arr))
        if a.dtype.kind in "OU":
            a = np.asarray([str(v) for v in a.ravel()]).astype("U")
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def head_params(head: Any) -> dict[str, Any]:
    """JSON-able constructor parameters of a head (``repr`` for anything else)."""
    params = head.get_params(deep=False) if hasattr(head, "get_params") else {}
    return json.loads(json.dumps(params, default=repr))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    return obj


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` through the one atomic writer (folder created)."""
    from .._atomic import write_json

    return write_json(path, _jsonable(obj), what="Protocol result", make_parents=True)


@dataclass(frozen=True)
class Summary:
    """Scores of one setting over seeds."""

    per_seed: tuple[float, ...]  # one score per seed, in seed order
    mean: float  # mean over seeds
    ci95: float  # half-width of the 95% t-interval (0 with one seed)

    @classmethod
    def of(cls, scores: Sequence[float]) -> Summary:
        mean, half = summarize(scores)
        return cls(tuple(float(s) for s in scores), mean, half)


class _Curve:
    """What a curve of :class:`Summary` points shares: means, CI half-widths, per-seed JSON."""

    scores: tuple[Summary, ...]  # one Summary per point of the curve

    @property
    def mean(self) -> list[float]:
        return [s.mean for s in self.scores]

    @property
    def ci95(self) -> list[float]:
        return [s.ci95 for s in self.scores]

    def _curve_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "ci95": self.ci95, "per_seed": [list(s.per_seed) for s in self.scores]}


@dataclass(frozen=True)
class RunRecord:
    """Exactly what ran: enough to reproduce a result or to refuse comparing unlike ones."""

    protocol: str  # "linear", "fewshot", "mteb", "incremental", "sweep", "zeroshot", ...
    encoder: Mapping[str, Any] | None  # the encoder's cache key, when known
    data_hash: str  # data_hash() of the embeddings and labels the protocol saw
    seeds: tuple[int, ...]  # seeds used, in order
    heads: Mapping[str, Mapping[str, Any]]  # head name -> constructor parameters
    settings: Mapping[str, Any] = field(default_factory=dict)  # protocol options (shots, tasks...)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LinearHeadResult:
    val_accuracy: float  # validation accuracy of the chosen setting
    test_accuracy: float  # mean test accuracy over seeds
    macro_f1: float  # mean test macro-F1 over seeds
    fit_seconds: float  # mean wall time of the final refit
    chosen: Mapping[str, Any]  # parameters picked on validation (first seed)
    test: Summary  # test accuracy per seed


@dataclass(frozen=True)
class LinearResult:
    heads: Mapping[str, LinearHeadResult]
    n_train: int
    n_val: int
    n_test: int
    n_dropped_overlap: int  # test rows dropped because they also appear in train/validation
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        heads = {n: {**asdict(r), "ci95": r.test.ci95} for n, r in self.heads.items()}
        return _jsonable({"protocol": "linear", **extra, "heads": heads, "n_train": self.n_train,
                          "n_val": self.n_val, "n_test": self.n_test,
                          "n_dropped_overlap": self.n_dropped_overlap,
                          "record": self.record.to_json()})


@dataclass(frozen=True)
class FewShotCurve(_Curve):
    shots: tuple[int, ...]  # labelled examples per class
    scores: tuple[Summary, ...]  # test accuracy per shot count

    def to_json(self) -> dict[str, Any]:
        return {"shots": list(self.shots), **self._curve_json()}


@dataclass(frozen=True)
class FewShotResult:
    heads: Mapping[str, FewShotCurve]
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return _jsonable({"protocol": self.record.protocol, **extra,
                          "heads": {n: c.to_json() for n, c in self.heads.items()},
                          "record": self.record.to_json()})


@dataclass(frozen=True)
class MTEBResult:
    """MTEB's classification protocol and headwise heads on the very same sampled rows."""

    samples_per_label: int
    n_experiments: int
    heads: Mapping[str, Summary]  # "mteb-logreg" first, then headwise heads; one score per experiment
    sampled: tuple[tuple[int, ...], ...]  # train-row indices of every experiment
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        heads = {n: {"shots": [self.samples_per_label], "mean": [s.mean], "ci95": [s.ci95],
                     "per_seed": [list(s.per_seed)]} for n, s in self.heads.items()}
        return _jsonable({"protocol": "fewshot", "preset": "mteb", **extra, "heads": heads,
                          "samples_per_label": self.samples_per_label,
                          "n_experiments": self.n_experiments, "record": self.record.to_json()})


@dataclass(frozen=True)
class IncrementalCurve:
    accuracy_after_task: tuple[float, ...]  # accuracy on all classes seen so far (mean over seeds)
    average: float  # average incremental accuracy (mean of the curve)
    final: float  # accuracy after the last task
    forgetting: float  # mean drop from best to final accuracy on each earlier task's classes
    average_summary: Summary  # average incremental accuracy per seed

    def to_json(self) -> dict[str, Any]:
        return {"accuracy_after_task": list(self.accuracy_after_task), "average": self.average,
                "final": self.final, "forgetting": self.forgetting,
                "average_ci95": self.average_summary.ci95,
                "average_per_seed": list(self.average_summary.per_seed)}


@dataclass(frozen=True)
class IncrementalResult:
    n_tasks: int
    task_classes: tuple[tuple[Any, ...], ...]  # classes of each task (first seed)
    heads: Mapping[str, IncrementalCurve]
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return _jsonable({"protocol": "incremental", **extra, "n_tasks": self.n_tasks,
                          "task_classes": [list(t) for t in self.task_classes],
                          "heads": {n: c.to_json() for n, c in self.heads.items()},
                          "record": self.record.to_json()})


@dataclass(frozen=True)
class ZeroShotResult:
    accuracy: float
    macro_f1: float
    n_test: int
    class_names: tuple[str, ...]
    templates: tuple[str, ...]
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return _jsonable({"protocol": "zeroshot", **extra, "accuracy": self.accuracy,
                          "macro_f1": self.macro_f1, "n_test": self.n_test,
                          "class_names": list(self.class_names),
                          "templates": list(self.templates), "record": self.record.to_json()})
