"""The one sweep result: validation and test accuracy of a head at every site of an encoder.

Both sweeps make it: the site sweeps of :mod:`headwise.probing` (layers × poolings, or blocks ×
attention heads of a layered LLM) and the per-layer sweep of a transformer encoder
(:func:`headwise.protocols.layer_sweep_eval`, one column: the encoder's own pooling, plus the
protocol's run record). One plot draws it (:func:`headwise.probing.plot_sweep`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SweepResult"]


@dataclass(frozen=True)
class SweepResult:
    """Accuracy of one head per site; rows are layers, columns poolings or attention heads.

    ``kind == "layers"``: ``rows`` are hidden-state indices (0 = embeddings) and ``columns``
    the poolings. ``kind == "heads"``: ``rows`` are block indices (0-based) and ``columns``
    attention-head indices, all at ``pooling``. ``val_accuracy`` comes from a stratified
    ``validation_fraction`` of the training rows (the head fitted on the rest); ``test_accuracy``
    from the head refitted on all training rows (NaN without test rows). ``best`` is the site with
    the highest validation accuracy (ties: the earlier one), so picking it never sees the test set.
    """

    kind: str  # "layers" or "heads"
    encoder: str  # encoder name
    head: str  # registry name of the head fitted per site
    pooling: str | None  # the pooling of a head sweep; None for a layer sweep
    rows: tuple[int, ...]  # layer (or block) indices
    columns: tuple[Any, ...]  # poolings (layer sweep) or attention-head indices (head sweep)
    val_accuracy: np.ndarray  # (len(rows), len(columns))
    test_accuracy: np.ndarray  # (len(rows), len(columns)); NaN without test rows
    best: tuple[int, Any]  # (row, column) with the best validation accuracy
    best_val_accuracy: float
    best_test_accuracy: float
    n_train: int
    n_val: int  # training rows held out for validation
    n_test: int
    record: Any = None  # the protocol's RunRecord (headwise.protocols), where a protocol ran it

    @classmethod
    def from_grid(
        cls, kind: str, encoder: str, head: str, pooling: str | None, rows: Sequence[int],
        columns: Sequence[Any], val: np.ndarray, test: np.ndarray, n_train: int, n_val: int,
        n_test: int, record: Any = None,
    ) -> SweepResult:
        """The result of a grid of accuracies; ``best`` is the first site of highest ``val``."""
        val, test = np.asarray(val, dtype=np.float64), np.asarray(test, dtype=np.float64)
        i, j = np.unravel_index(int(np.argmax(val)), val.shape)  # first maximum: earliest site
        return cls(
            kind=kind, encoder=encoder, head=head, pooling=pooling, rows=tuple(rows),
            columns=tuple(columns), val_accuracy=val, test_accuracy=test,
            best=(rows[i], columns[j]), best_val_accuracy=float(val[i, j]),
            best_test_accuracy=float(test[i, j]), n_train=n_train, n_val=n_val, n_test=n_test,
            record=record,
        )  # fmt: skip

    @property
    def layers(self) -> tuple[int, ...]:
        """The swept layers (``rows``)."""
        return self.rows

    @property
    def best_layer(self) -> int:
        """The layer of the best site by validation accuracy (the earliest on ties)."""
        return int(self.best[0])

    def top(self, k: int = 10) -> list[tuple[int, Any, float, float]]:
        """The ``k`` best sites by validation accuracy: ``(row, column, val, test)``."""
        flat = [
            (float(self.val_accuracy[i, j]), -i, -j, r, c)
            for i, r in enumerate(self.rows)
            for j, c in enumerate(self.columns)
        ]
        flat.sort(key=lambda x: (x[0], x[1], x[2]), reverse=True)
        out = []
        for v, mi, mj, r, c in flat[:k]:
            out.append((r, c, v, float(self.test_accuracy[-mi, -mj])))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "encoder": self.encoder,
            "head": self.head,
            "pooling": self.pooling,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "val_accuracy": self.val_accuracy.tolist(),
            "test_accuracy": self.test_accuracy.tolist(),
            "best": list(self.best),
            "best_val_accuracy": self.best_val_accuracy,
            "best_test_accuracy": self.best_test_accuracy,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
        }
