"""`headwise encoders [list]`: every encoder with its modality, width, layers, licence and extra."""

from __future__ import annotations

import typer

from ._options import JsonOpt, WideOpt
from ._render import note, print_json, print_table

app = typer.Typer(
    help="Encoders: `headwise encoders list` (or just `headwise encoders`) shows them all.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _install(row: dict) -> str:
    return row.get("install") or (f"pip install 'headwise[{row['extra']}]'" if row.get("extra") else "")


def _list(as_json: bool, wide: bool = False) -> None:
    from ..encoders import describe_encoders

    rows = describe_encoders()
    if as_json:
        print_json([{**r, "install": _install(r) or None} for r in rows])
        return
    cols = ["encoder", "modality", "dim", "layers", "extra", "available"] + (["licence"] if wide else [])
    body = [[r["name"], r["modality"], r["dim"], r["layers"], r["extra"], bool(r["available"]),
             *([r["licence"]] if wide else [])] for r in rows]  # fmt: skip
    print_table("encoders (available: libraries and weights installed)", cols, body, wide=wide)
    for r in rows:
        if not r["available"]:
            note(f"{r['name']}: {r.get('problem') or 'not installed'}; {_install(r)}".rstrip("; "))
    extras = sorted({r["extra"] for r in rows if r.get("extra") not in (None, "", "-")})
    if extras:
        note(f"install an extra with pip install 'headwise[EXTRA]' (EXTRA: {', '.join(extras)}); "
             "--wide adds the licences")  # fmt: skip


@app.callback()
def encoders(ctx: typer.Context, wide: WideOpt = False, as_json: JsonOpt = False) -> None:
    """List encoders (the bare command is the same as `headwise encoders list`)."""
    if ctx.invoked_subcommand is None:
        _list(as_json, wide)


@app.command("list")
def list_(wide: WideOpt = False, as_json: JsonOpt = False) -> None:
    """List every encoder: modality, dimension, layers, install extra, availability (licence: --wide)."""
    _list(as_json, wide)
