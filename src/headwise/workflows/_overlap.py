"""Train/test overlap: rows scored that also occur among the rows a head learned from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datasets import Table

__all__ = ["Overlap", "check_overlap", "overlap_warnings"]


@dataclass(frozen=True)
class Overlap:
    """How many scored rows also appear (same normalised text, or same embedding) in training."""

    n_scored: int  # rows scored before dropping
    n_overlap: int  # of those, rows also found in the training rows
    dropped: bool  # True when the overlapping rows were removed from scoring
    keep: np.ndarray  # positions into the scored rows that remain scored

    def warning(self) -> str | None:
        """One line for the user, or None when nothing overlaps."""
        if not self.n_overlap:
            return None
        if self.dropped:
            return f"dropped {self.n_overlap} of {self.n_scored} test rows that also occur in train"
        return (
            f"{self.n_overlap} of {self.n_scored} test rows also occur in train, so the score is "
            "optimistic; pass --drop-overlap to leave them out"
        )


def check_overlap(
    table: Table, train: np.ndarray, scored: np.ndarray, X: np.ndarray | None = None, *, drop: bool = False
) -> Overlap:
    """Compare the ``scored`` rows of ``table`` against its ``train`` rows.

    Texts are compared after folding case and white space; media rows by their embedding bytes.
    """
    from ..splits import overlap_mask, row_keys

    texts = all(isinstance(t, str) for t in table.texts)
    if texts:
        keys = row_keys(texts=table.texts)
    else:
        if X is None:
            return Overlap(int(scored.size), 0, False, np.arange(scored.size))
        keys = row_keys(X=X)
    mask = overlap_mask([keys[train]], keys[scored]) if train.size and scored.size else np.zeros(scored.size, bool)
    n = int(mask.sum())
    keep = np.flatnonzero(~mask) if drop else np.arange(scored.size)
    return Overlap(int(scored.size), n, bool(drop and n), keep)


def overlap_warnings(table: Table, tr: np.ndarray, te: np.ndarray, payload: dict[str, Any],
                      X: np.ndarray) -> tuple[str, ...]:
    """For protocols that keep every test row (few-shot, as MTEB does; incremental, long-tail,
    active, OOD): test rows that also occur in train (same text, or same embedding for media)
    are counted in the payload and named in a warning, since the protocol may train on them."""
    ov = check_overlap(table, tr, te, X)
    payload["n_test_overlap"] = ov.n_overlap
    if not ov.n_overlap:
        return ()
    return (f"{ov.n_overlap} of {ov.n_scored} test rows also occur in train, so these scores can "
            "be optimistic (MTEB's protocol keeps them; `--protocol linear --drop-overlap` "
            "scores without them)",)
