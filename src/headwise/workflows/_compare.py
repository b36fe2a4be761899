"""Quickstart: embed a labelled table, fit every standard head, rank them, save the best."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validation import check_open_fraction
from ..compare import STANDARD_HEADS, Leaderboard, compare_heads
from ..datasets import Table
from ..exceptions import InputError
from ._data import require_splits
from ._embed import NAMED_HEADS, Embedded, embed_table, zero_shot_prior
from ._overlap import Overlap, check_overlap

__all__ = ["CompareResult", "compare_table"]


@dataclass(frozen=True)
class CompareResult:
    leaderboard: Leaderboard = field(repr=False)
    embedded: Embedded = field(repr=False)
    out: Path | None  # where the best head was saved
    overlap: Overlap  # test rows that also occur in train
    seconds: float  # the whole run

    def to_dict(self) -> dict[str, Any]:
        return {**self.leaderboard.to_dict(), "saved": None if self.out is None else str(self.out),
                "embed_seconds": self.embedded.seconds, "cache_hit": self.embedded.cached,
                "total_seconds": self.seconds, "encoder": self.embedded.encoder_key,
                "n_overlap": self.overlap.n_overlap, "overlap_dropped": self.overlap.dropped}  # fmt: skip


def compare_table(
    table: Table,
    *,
    encoder: str = "minilm",
    heads: Sequence[str] = STANDARD_HEADS,
    options: dict[str, Any] | None = None,
    validation_fraction: float = 0.1,
    seed: int = 0,
    baseline: bool = True,
    out: str | Path | None = None,
    overwrite: bool = False,
    drop_overlap: bool = False,
    batch_size: int = 64,
    on_step: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> CompareResult:
    """Embed ``table`` (cached), fit every head in ``heads``, choose on validation, save the best.

    The best head is chosen on a validation split carved from train (never on test); every head
    is then refit on all train rows and scored once on test. An existing ``out`` is refused
    unless ``overwrite``.
    """
    t_start = time.perf_counter()
    if out is not None and Path(out).exists() and not overwrite:
        raise InputError(f"{out} already exists; pass --force to replace it, or another --out.")
    check_open_fraction(validation_fraction, "--validation-fraction", "of the training rows")
    tr, va, te = require_splits(table, "quickstart")
    assert table.labels is not None
    say = on_step or (lambda _m: None)
    say(f"{len(table)} rows from {table.path.name}; embedding with {encoder} (cached after the first run)")
    emb = embed_table(table, encoder, options, batch_size=batch_size, progress=progress)
    say(f"embeddings {emb.X.shape} in {emb.seconds:.1f}s ({'cache hit' if emb.cached else 'computed'})")
    overlap = check_overlap(table, tr, te, emb.X, drop=drop_overlap)
    te = te[overlap.keep]
    X, y = emb.X, table.labels
    priors = {h: zero_shot_prior(h, encoder, emb) for h in heads if h in NAMED_HEADS}  # as fit_head
    lb = compare_heads(
        X[tr], y[tr], X[te], y[te], heads=tuple(heads), head_params=priors,
        X_val=X[va] if va.size else None, y_val=y[va] if va.size else None,
        validation_fraction=validation_fraction, random_state=seed, baseline=baseline, on_step=say,
    )  # fmt: skip
    saved = None
    if out is not None:
        saved = Path(out)
        saved.parent.mkdir(parents=True, exist_ok=True)
        lb.best_head.encoder_spec_ = emb.encoder_spec
        lb.best_head.save(saved, encoder_key=emb.encoder_key)
    return CompareResult(lb, emb, saved, overlap, time.perf_counter() - t_start)
