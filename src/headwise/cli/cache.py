"""`headwise cache ...`: list, verify, gc, remove and locate cached embeddings."""

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
    rows = []
    for e in entries:
        used = ", ".join(f"{d['name'] or d['id']} ({d['n']})" for d in e["datasets"][:3])
        more = len(e["datasets"]) - 3
        used += f", +{more} more" if more > 0 else ""
        if e["layout"] == "v1":
            used = "v1 entry" + ("" if e["complete"] else ", incomplete") + (
                f": {e['error']}" if e["error"] else "")
        rows.append([e["id"], e["encoder_name"], e["n"], e["dim"], e["dtype"],
                     round(e["size_bytes"] / 2**20, 2), used])
    print_table(
        f"cache at {cache_dir()} ({len(entries)} encoder keys)",
        ["entry", "encoder", "rows", "dim", "dtype", "MB", "datasets"], rows,
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
        print_table("cache verify", ["entry", "ok", "shards", "damaged", "leftovers", "repaired"],
                    [[r["id"], r["ok"], r["n_shards_checked"], len(r["bad_shards"]),
                      len(r["strays"]), r["repaired"]] for r in results])
        for r in results:
            for problem in r["problems"]:
                typer.echo(problem)

    bad = [r for r in results if not r.get("ok", True)]
    if bad and not repair:
        typer.echo(f"{len(bad)} damaged entr{'y' if len(bad) == 1 else 'ies'}; run "
                   "`headwise cache verify --repair`.", err=True)
        raise typer.Exit(1)


@app.command("gc")
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what would go.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove cached rows that no embedded dataset references (e.g. from interrupted runs)."""
    from ..store import EmbeddingStore

    results = [_as_dict(r) for r in EmbeddingStore().gc(dry_run=dry_run)]
    if as_json:
        print_json(results)
        return
    print_table("cache gc" + (" (dry run)" if dry_run else ""),
                ["entry", "rows removed", "shards removed", "shards rewritten", "MB freed"],
                [[r["id"], r["rows_removed"], r["shards_removed"], r["shards_rewritten"],
                  round(r["bytes_freed"] / 2**20, 2)] for r in results])


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
