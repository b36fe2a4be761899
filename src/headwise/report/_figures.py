"""Matplotlib figures (Agg, no pyplot state) returned as base64 PNG data URIs."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from ..exceptions import MissingDependencyError

__all__ = [
    "confusion_figure",
    "coverage_figure",
    "curves_figure",
    "incremental_figure",
    "per_class_figure",
    "reliability_figure",
    "set_size_figure",
]


def _figure(w: float, h: float) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "Reports draw their figures with matplotlib: pip install 'headwise[report]'."
        ) from None
    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def reliability_figure(rel: dict[str, Any], binning: str) -> str:
    fig = _figure(9, 4)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, which in zip(axes, ("before", "after"), strict=True):
        r = rel[which]
        edges = np.asarray(r["edges"], dtype=float)
        acc = np.asarray(r["accuracy"], dtype=float)
        conf = np.asarray(r["confidence"], dtype=float)
        width = np.diff(edges)
        ok = np.isfinite(acc)
        ax.bar(edges[:-1][ok], acc[ok], width=width[ok], align="edge", edgecolor="k", alpha=0.7, label="accuracy")
        ax.bar(edges[:-1][ok], (conf - acc)[ok], bottom=acc[ok], width=width[ok], align="edge",
               color="tab:red", alpha=0.3, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top label)")
        ax.set_title(f"{which} temperature scaling")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left")
    fig.suptitle(f"Reliability diagram ({binning})")
    return _uri(fig)


def confusion_figure(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> str:
    c = len(labels)
    m = np.zeros((c, c))
    np.add.at(m, (y, pred), 1)
    m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = min(12.0, 4 + 0.09 * c)
    fig = _figure(size, size)
    ax = fig.subplots()
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, shrink=0.7, label="fraction of true class")
    if c <= 30:
        ax.set_xticks(range(c), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(c), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (row-normalised, test split)")
    return _uri(fig)


def per_class_figure(
    acc: np.ndarray,
    labels: list[str],
    xlabel: str = "accuracy (recall)",
    title: str = "Per-class accuracy, test split (sorted)",
) -> str:
    """Horizontal bars of one score per class (or label), sorted ascending."""
    order = np.argsort(acc)
    c = len(labels)
    fig = _figure(8, max(3.0, 0.16 * c + 1))
    ax = fig.subplots()
    ax.barh(range(c), acc[order], color="tab:blue")
    ax.set_yticks(range(c), [labels[i] for i in order], fontsize=6 if c > 30 else 8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _uri(fig)


def coverage_figure(conformal: dict[str, list[dict[str, float]]]) -> str:
    fig = _figure(9, 4)
    ax1, ax2 = fig.subplots(1, 2)
    for name, rows in conformal.items():
        a = [r["alpha"] for r in rows]
        ax1.plot(a, [r["coverage"] for r in rows], "o-", label=name)
        ax2.plot(a, [r["mean_size"] for r in rows], "o-", label=name)
    grid = np.linspace(0, max(r["alpha"] for rows in conformal.values() for r in rows), 10)
    ax1.plot(grid, 1 - grid, "k--", lw=1, label="target 1 - α")
    ax1.set_xlabel("α")
    ax1.set_ylabel("empirical coverage (test)")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("α")
    ax2.set_ylabel("mean set size")
    ax2.set_yscale("log")
    fig.suptitle("Conformal coverage and set size vs α")
    return _uri(fig)


def set_size_figure(sizes: dict[str, np.ndarray]) -> str:
    fig = _figure(7, 3.5)
    ax = fig.subplots()
    top = int(max(s.max() for s in sizes.values()))
    bins = np.arange(0, top + 2) - 0.5
    for name, s in sizes.items():
        ax.hist(s, bins=bins, alpha=0.5, label=name)
    ax.set_xlabel("prediction set size")
    ax.set_ylabel("test rows")
    ax.set_title("Set sizes at α = 0.1")
    ax.legend(fontsize=8)
    return _uri(fig)


def curves_figure(
    series: dict[str, tuple[list[float], list[float], list[float] | None]],
    xlabel: str,
    ylabel: str,
    title: str,
    logx: bool = False,
) -> str:
    """Lines ``name -> (x, y, band)``; ``band`` is a ± half-width (e.g. a 95% CI) or None."""
    fig = _figure(7, 4)
    ax = fig.subplots()
    for name, (x, y, band) in series.items():
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        ax.plot(xa, ya, "o-", label=name)
        if band is not None:
            b = np.asarray(band, dtype=float)
            ax.fill_between(xa, ya - b, ya + b, alpha=0.2)
    xs = sorted({float(v) for x, _, _ in series.values() for v in x})
    if logx:
        ax.set_xscale("log")
        ax.minorticks_off()
    if len(xs) <= 20:  # shots and layers are integers: label exactly those
        ax.set_xticks(xs, [f"{v:g}" for v in xs])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _uri(fig)


def incremental_figure(heads: dict[str, dict[str, Any]]) -> str:
    series = {
        name: (list(range(1, len(h["accuracy_after_task"]) + 1)), h["accuracy_after_task"], None)
        for name, h in heads.items()
    }
    return curves_figure(series, "tasks seen", "accuracy on seen classes", "Class-incremental accuracy")
