"""`headwise cache ...`: list, verify, remove and locate cached embeddings."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Annotated, Any

import typer

from ..config import cache_dir
from ._options import JsonOpt
from ._render import print_json, print_table

app = typer.Typer(help="Inspect and maintain the embedding cache.", no_args_is_help=True)


def _as_dict(obj: Any) -> dict[str, Any]:
    return asdict(obj) if is_dataclass(obj) else dict(vars(obj))


@app.command("dir")
def where() -> None:
    """Print the cache folder ($HEADWISE_CACHE_DIR or the user cache dir)."""
    typer.echo(str(cache_dir()))


@app.command("list")
def list_entries(as_json: JsonOpt = False) -> None:
    """List cache entries with their encoder, size and completeness."""
    from ..store import EmbeddingStore

    entries = [_as_dict(e) for e in EmbeddingStore().entries()]
    if as_json:
        print_json(entries)
        return
    cols = ["id", "encoder_name", "n", "dim", "dtype", "complete", "size_bytes"]
    print_table(
        f"cache at {cache_dir()} ({len(entries)} entries)",
        ["entry", "encoder", "rows", "dim", "dtype", "complete", "MB"],
        [[e.get(c) if c != "size_bytes" else round(e.get(c, 0) / 2**20, 2) for c in cols] for e in entries],
    )


@app.command("verify")
def verify(
    entry: Annotated[str | None, typer.Argument(help="Entry id or prefix (default: all).")] = None,
    repair: Annotated[bool, typer.Option("--repair", help="Drop damaged shards so they are recomputed.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check every shard's checksum; exit 1 if any entry is damaged (unless repaired)."""
    from ..store import EmbeddingStore

    results = [_as_dict(r) for r in EmbeddingStore().verify(entry, repair=repair)]
    if as_json:
        print_json(results)
    else:
        print_table("cache verify", list(results[0]) if results else ["entry"],
                    [list(r.values()) for r in results])
    bad = [r for r in results if not r.get("ok", True)]
    if bad and not repair:
        typer.echo(f"{len(bad)} damaged entr{'y' if len(bad) == 1 else 'ies'}; run "
                   "`headwise cache verify --repair`.", err=True)
        raise typer.Exit(1)


@app.command("remove")
def remove(entry: Annotated[str, typer.Argument(help="Entry id or unique prefix.")]) -> None:
    """Remove one cache entry."""
    from ..store import EmbeddingStore

    for removed in EmbeddingStore().remove(entry):
        typer.echo(f"removed {removed}")


@app.command("clear")
def clear(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Remove every cache entry."""
    from ..store import EmbeddingStore

    if not yes:
        typer.confirm(f"Remove every entry under {cache_dir()}?", abort=True)
    typer.echo(f"removed {EmbeddingStore().clear()} entries")
