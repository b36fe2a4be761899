"""Rendering: tables that fit the terminal (80 columns by default), numbers formatted one way.

Accuracies and rates print as percentages, seconds with 2–3 significant digits, sizes in MB,
``±`` columns are 95% confidence intervals and say so. Nothing here computes a result.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table as RichTable

from ..workflows import MeanCI

__all__ = ["console", "err_console", "fmt", "note", "print_json", "print_record", "print_table"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

_PCT_WORDS = ("acc", "f1", "coverage", "alarm", "detected", "forgetting", "average", "final")
_TEXT_COLUMNS = ("head", "label", "text", "entry", "encoder", "method", "dataset", "chosen", "file",
                 "modality", "layers", "extra", "available", "licence", "class", "dtype", "complete")


def kind_of(column: str) -> str:
    """How a column's numbers are shown: pct, ci, sec, mb or plain."""
    c = column.lower()
    if c.startswith("±"):
        return "ci"
    if c.endswith((" s", "seconds", " time")) or c == "s":
        return "sec"
    if c.endswith("mb"):
        return "mb"
    if any(w in c for w in _PCT_WORDS) or c.endswith(("val", "test", "-shot")) or c in ("min", "max", "mean"):
        return "pct"
    return "plain"


def seconds(v: float) -> str:
    """2–3 significant digits: ``0.012 s``, ``1.5 s``, ``152 s``."""
    if v < 0.001:
        return "<0.001 s"
    return f"{v:.2g} s" if v < 10 else f"{v:.3g} s" if v < 1000 else f"{v:.0f} s"


def fmt(v: Any, kind: str = "plain") -> str:
    """One cell."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, MeanCI):
        return f"{100 * v.mean:.1f} ± {100 * v.ci95:.1f}"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if kind == "pct":
            return f"{100 * v:.1f}%"
        if kind == "ci":
            return f"±{100 * v:.1f}"
        if kind == "sec":
            return seconds(v)
        if kind == "mb":
            return f"{v:.1f}"
        return f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        shown = ", ".join(map(str, v[:5])) + (", …" if len(v) > 5 else "")
        return "{" + shown + "}"
    return str(v)


def _console(wide: bool) -> Console:
    if not wide:
        return console
    return Console(highlight=False, width=max(console.width, 400))


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    wide: bool = False,
    kinds: Mapping[str, str] | None = None,
    caption: str | None = None,
) -> None:
    """A table that wraps its cells to the terminal width (``wide``: never wraps)."""
    t = RichTable(caption=caption, caption_justify="left")
    col_kinds = [(kinds or {}).get(c, kind_of(c)) for c in columns]
    for c in columns:
        left = c.lower() in _TEXT_COLUMNS or c.lower().startswith(("prediction", "accuracy after"))
        ident = c.lower() in ("entry", "id")  # ids stay whole on one line; other cells wrap
        t.add_column(c, justify="left" if left else "right", overflow="fold", no_wrap=ident,
                     min_width=24 if ident else None)
    for r in rows:
        t.add_row(*[fmt(v, k) for v, k in zip(r, col_kinds, strict=True)])
    out = _console(wide)
    out.print(title, style="italic", markup=False)  # wraps at the terminal, not the table
    out.print(t)


def print_record(title: str, record: Mapping[str, Any], *, kinds: Mapping[str, str] | None = None) -> None:
    """One result as ``name  value`` lines under a title (fits any width)."""
    t = RichTable(show_header=False, box=None, padding=(0, 2, 0, 0))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in record.items():
        t.add_row(k, fmt(v, (kinds or {}).get(k, kind_of(k))))
    console.print(title, style="italic", markup=False, soft_wrap=False)
    console.print(t)


def say_line(text: str) -> None:
    """A line of the result on stdout, wrapped at the terminal width."""
    console.print(text, markup=False)


def note(text: str) -> None:
    """A dim line on stderr (what was written, what was skipped)."""
    err_console.print(text, style="dim", markup=False)


def warn(text: str) -> None:
    """A yellow line on stderr: the result stands but deserves a look."""
    err_console.print(f"warning: {text}", style="yellow", markup=False, soft_wrap=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as strict JSON: NaN and infinities (not JSON) become ``null``."""
    text = json.dumps(_strict(obj), indent=2, default=_json_default, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _strict(o: Any) -> Any:
    if isinstance(o, float | np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.ndarray):
        return _strict(o.tolist())
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_strict(v) for v in o]
    return o


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(type(o))


def media_notes(table: Any) -> None:
    """Rows a table left out (unlabelled rows, unreadable media), counted on stderr, never silent."""
    if getattr(table, "n_dropped", 0):
        err_console.print(f"{table.n_dropped} row(s) without a label left out.", style="yellow", markup=False)
    for what, rows in (("skipped (unreadable)", getattr(table, "skipped", [])),
                       ("ignored (not media)", getattr(table, "ignored", []))):  # fmt: skip
        if rows:
            err_console.print(f"{len(rows)} file(s) {what}:", style="yellow", markup=False)
            for r in rows[:20]:
                err_console.print(f"  {r.source}: {r.reason}", markup=False, soft_wrap=True)
            if len(rows) > 20:
                err_console.print(f"  ... and {len(rows) - 20} more", markup=False)
