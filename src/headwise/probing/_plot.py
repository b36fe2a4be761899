"""The one sweep plot (matplotlib, optional): a heatmap of a site sweep, or accuracy by layer.

:func:`plot_sweep` takes a :class:`~headwise.probing.SweepResult`: a site sweep (layers × poolings
or attention heads) is drawn as a heatmap; per-layer results of
:func:`headwise.protocols.layer_sweep_eval` (one head each, alone or in a list) as lines by layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import MissingDependencyError

__all__ = ["plot_sweep"]


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "Plotting needs matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'headwise[plot]')"
        ) from None
    return plt


def _save(fig: Any, plt: Any, path: str | Path) -> Path:
    from .._atomic import atomic_write

    fig.tight_layout()
    out = atomic_write(path, lambda fh: fig.savefig(fh, dpi=120, format=Path(path).suffix.lstrip(".") or "png"),
                       what="Plot")  # fmt: skip
    plt.close(fig)
    return out


def _layer_lines(results: Sequence[Any], path: str | Path) -> Path:
    """Accuracy by layer (validation dashed, test solid), one line pair per head."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in results:
        (line,) = ax.plot(r.layers, r.test_accuracy[:, 0], marker="o", label=f"{r.head} test")
        ax.plot(r.layers, r.val_accuracy[:, 0], ls="--", color=line.get_color(), label=f"{r.head} val")
    ax.set_xlabel("layer")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, plt, path)


def plot_sweep(result: Any, path: str | Path, *, which: str = "test") -> Path:
    """Save a sweep as an image at ``path`` (``which``: "test" or "val" accuracy of a heatmap).

    A site sweep is a heatmap: rows are layers (bottom to top), columns poolings or attention
    heads, the validation-chosen site outlined. A list of per-layer results is drawn as lines.
    """
    if isinstance(result, (list, tuple)):
        return _layer_lines(result, path)
    if result.record is not None:  # a per-layer protocol sweep: one curve, drawn as lines
        return _layer_lines([result], path)
    plt = _pyplot()
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
    return _save(fig, plt, path)
