"""`headwise report`: one self-contained HTML page from a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._progress import working
from ._render import warn


def report(
    run: Annotated[Path, typer.Argument(help="Run directory (trust.json, linear.json, fewshot.json, ...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write an HTML report (figures embedded) of the results found in RUN."""
    from ..report import load_run, write_report

    with working(f"building the report of {run}"):
        data = load_run(run)
        page = write_report(data, out)
    typer.echo(f"wrote {page}")
    for problem in data.problems:
        warn(problem)
