"""`headwise report`: one self-contained HTML page from a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    run: Annotated[Path, typer.Argument(help="Run directory (trust.json, linear.json, fewshot.json, ...).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
) -> None:
    """Write an HTML report (figures embedded) of the results found in RUN."""
    from ..report import build_report

    typer.echo(f"wrote {build_report(run, out)}")
