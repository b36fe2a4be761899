"""Heatmap of a sweep's accuracy matrix (matplotlib, optional)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import MissingDependencyError

__all__ = ["plot_sweep"]


def plot_sweep(result: Any, path: str | Path, *, which: str = "test") -> Path:
    """Save ``result``'s accuracy matrix (``which``: "test" or "val") as an image at ``path``.

    Rows are layers (bottom to top), columns poolings or attention heads; the validation-chosen
    site is outlined.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "Plotting needs matplotlib, which is not installed: pip install matplotlib"
        ) from None
    acc = np.asarray(result.test_accuracy if which == "test" else result.val_accuracy)
    if which == "test" and np.isnan(acc).all():
        acc, which = np.asarray(result.val_accuracy), "val"
    wide = result.kind == "heads"
    fig, ax = plt.subplots(figsize=(5.5 if wide else 3.5, max(4.0, 0.22 * len(result.rows) + 1.5)))
    im = ax.imshow(acc, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(result.columns)), [str(c) for c in result.columns])
    step = max(1, len(result.rows) // 15)
    ax.set_yticks(range(0, len(result.rows), step), [str(r) for r in result.rows[::step]])
    ax.set_xlabel("attention head" if wide else "pooling")
    ax.set_ylabel("layer (block)" if wide else "layer (hidden state)")
    i = result.rows.index(result.best[0])
    j = result.columns.index(result.best[1])
    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2))
    what = f"{result.pooling} pooling, " if result.pooling else ""
    ax.set_title(f"{result.encoder}: {which} accuracy ({what}{result.head})", fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
