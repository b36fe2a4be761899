"""`headwise report`: one self-contained HTML page from a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._progress import working


def report(
    run: Annotated[Path, typer.Argument(help="Run directory (trust.json, linear.json, fewshot.json, ...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write an HTML report (figures embedded) of the results found in RUN."""
    from ..report import build_report

    with working(f"building the report of {run}"):
        page = build_report(run, out)
    typer.echo(f"wrote {page}")
