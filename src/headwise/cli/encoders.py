"""`headwise encoders [list]`: every encoder with its modality, width, layers, licence and extra."""

from __future__ import annotations

import typer

from ._options import JsonOpt
from ._render import console, note, print_json

app = typer.Typer(
    help="Encoders: `headwise encoders list` (or just `headwise encoders`) shows them all.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _list(as_json: bool) -> None:
    from ..encoders import describe_encoders

    rows = describe_encoders()
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title="encoders", title_justify="left")
    table.add_column("encoder", no_wrap=True, min_width=max(len(r["name"]) for r in rows))
    for c in ("modality", "dim", "layers", "licence", "extra", "available"):
        table.add_column(c, no_wrap=c != "licence", overflow="fold" if c == "licence" else "ellipsis")
    for r in rows:
        cells = [r["modality"], r["dim"], r["layers"], r["licence"], r["extra"]]
        table.add_row(r["name"], *["–" if v is None else str(v) for v in cells],
                      "yes" if r["available"] else "no")  # fmt: skip
    console.print(table)
    missing = [r for r in rows if not r["available"]]
    for r in missing:
        how = r.get("install") or (f"pip install 'headwise[{r['extra']}]'" if r["extra"] else "")
        note(f"{r['name']}: {r.get('problem') or 'not installed'}; {how}".rstrip("; "))


@app.callback()
def encoders(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List encoders (the bare command is the same as `headwise encoders list`)."""
    if ctx.invoked_subcommand is None:
        _list(as_json)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List every encoder: modality, dimension, layers, licence, install extra, availability."""
    _list(as_json)
