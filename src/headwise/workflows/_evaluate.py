"""Evaluate over a protocol registry: name → run function → frozen result with ``to_rows()``.

Built-in protocols (linear, fewshot, transductive, incremental, zeroshot, ood) register
themselves in ``_protocol_runs`` through the same :func:`register_protocol` a plugin would use;
``headwise.workflows`` imports that module, so the registry is full before anyone reads it, and
this module imports none of them (no circle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from .._validation import check_int_range
from ..datasets import Table
from ..exceptions import InputError

__all__ = [
    "EvalRequest",
    "EvalResult",
    "MeanCI",
    "evaluate",
    "get_protocol",
    "list_protocols",
    "register_protocol",
]


class MeanCI(NamedTuple):
    """A mean with the half-width of its 95% confidence interval (a table cell)."""

    mean: float
    ci95: float


@dataclass(frozen=True)
class EvalRequest:
    """Every setting a protocol may read; each protocol reads the ones it needs."""

    encoder: str = "minilm"  # encoder id
    options: dict[str, Any] = field(default_factory=dict)  # encoder options (layer, pooling, ...)
    heads: str | None = None  # comma list of heads (None: the protocol's default)
    shots: tuple[int, ...] = (1, 2, 4, 8, 16)  # few-shot: labelled rows per class
    seeds: int = 10  # seeds 0..seeds-1
    tasks: int = 10  # incremental: number of tasks
    preset: str | None = None  # few-shot: "mteb" reproduces MTEB's protocol
    drop_overlap: bool = False  # linear: drop test rows that also occur in train
    transductive: bool = False  # few-shot: also score the transductive refinement
    batch_size: int = 64  # inputs per forward pass when embedding
    alpha: float = 0.1  # ood: allowed false-alarm rate on known classes
    holdout_classes: int | None = None  # ood: random classes held out (None: 5, fewer on few classes)
    out_classes: tuple[str, ...] = ()  # ood: named classes held out instead
    calib_frac: float = 0.2  # ood: train fraction used for calibration
    seed: int = 0  # ood: seeds the held-out classes
    strategies: str = "random,entropy,coreset,pcoreset"  # active: query strategies (comma list)
    rounds: int = 5  # active: rounds of queries
    budget: int | None = None  # active: rows queried per round (None: one per class)
    start: int = 1  # active: labels per class at the start (0: zero-shot start)
    imbalance: float | None = None  # longtail: imbalance ratio R of the long-tailed train split
    progress: bool | None = None  # progress bars (None: HEADWISE_PROGRESS decides)


@dataclass(frozen=True)
class EvalResult:
    """A protocol's outcome: a JSON payload plus a table of rows a person reads."""

    protocol: str  # registry name
    title: str  # one line saying what ran on what
    columns: tuple[str, ...]  # column names of :meth:`to_rows`
    rows: tuple[tuple[Any, ...], ...]  # one row per head (or method)
    payload: dict[str, Any] = field(repr=False)  # the full JSON result (as written to RUN/<name>.json)
    result: Any = field(default=None, repr=False, compare=False)  # the protocol's own dataclass
    notes: tuple[str, ...] = ()  # lines worth showing under the table (overlap dropped, ...)
    warnings: tuple[str, ...] = ()  # results that stand but deserve a look (test rows in train)

    def to_rows(self) -> list[list[Any]]:
        """The table body, one list per row, in :attr:`columns` order."""
        return [list(r) for r in self.rows]

    def to_json(self) -> dict[str, Any]:
        return self.payload

    def write(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/<protocol>.json`` atomically (the folder is created)."""
        from .._atomic import write_json

        run = Path(run_dir)
        return write_json(run / f"{self.payload.get('protocol', self.protocol)}.json", self.payload, make_parents=True)


ProtocolFn = Callable[[Table, EvalRequest], EvalResult]
_REGISTRY: dict[str, ProtocolFn] = {}


def register_protocol(name: str) -> Callable[[ProtocolFn], ProtocolFn]:
    """Decorator: make ``fn(table, request) -> EvalResult`` available as ``evaluate(name, ...)``."""

    def deco(fn: ProtocolFn) -> ProtocolFn:
        _REGISTRY[name] = fn
        return fn

    return deco


def list_protocols() -> list[str]:
    """Registered protocol names.

    >>> "linear" in list_protocols()
    True
    """
    return list(_REGISTRY)


def get_protocol(name: str) -> ProtocolFn:
    if name not in _REGISTRY:
        raise InputError(f"Unknown protocol '{name}'. Available: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def evaluate(
    protocol: str, table: Table, request: EvalRequest | None = None, *,
    run_dir: str | Path | None = None, **settings: Any,
) -> EvalResult:
    """Run ``protocol`` on ``table`` (embedded through the cache) and return its frozen result.

    Settings are an :class:`EvalRequest` or its fields as keywords; with ``run_dir`` the JSON
    result is also written to ``run_dir/<protocol>.json``.
    """
    fn = get_protocol(protocol)
    req = replace(request or EvalRequest(), **settings)
    from ..protocols import MAX_SEEDS

    check_int_range(req.seeds, "--seeds", 1, MAX_SEEDS, "(each seed is a fit per head and shot count)")
    if req.preset is not None and req.preset != "mteb":
        raise InputError(f"Unknown preset '{req.preset}'. Available: mteb.")
    result = fn(table, req)
    if run_dir is not None:
        result.write(run_dir)
    return result
