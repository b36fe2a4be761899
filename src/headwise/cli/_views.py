"""Views of workflow results shared by more than one command (a command never imports another)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..workflows import EvalResult, ScoreResult, media_report
from ._render import media_notes, note, print_json, print_record, print_table, warn

__all__ = ["show_eval", "show_score"]


def show_score(res: ScoreResult, table: Any, as_json: bool) -> None:
    """``headwise score`` (and ``eval --model``): accuracy and macro-F1 of a saved head."""
    if as_json:
        print_json({**res.to_dict(), **media_report(table)})
        return
    media_notes(table)
    shown = {"split": res.split, "rows": res.n, "accuracy": res.accuracy, "macro-F1": res.macro_f1}
    print_record(f"{Path(res.model).name} on {table.path.name}", shown)
    if w := res.overlap_warning:
        warn(w)


def show_eval(res: EvalResult, as_json: bool, *, wide: bool = False, run_dir: Path | None = None) -> None:
    """A protocol's result: its JSON payload, or its rows as a table."""
    if run_dir is not None:
        note(f"wrote {run_dir / (res.payload.get('protocol', res.protocol) + '.json')}")
    if as_json:
        print_json(res.to_json())
        return
    print_table(res.title, res.columns, res.to_rows(), wide=wide)
    for line in res.notes:
        note(line)
    for line in res.warnings:
        warn(line)
