"""verify: the full sha256 check of an entry's shards, and the repair that drops bad ones."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import CacheError
from ._io import (
    clean_strays,
    damaged_shard_error,
    file_sha256,
    find_strays,
    now,
    read_manifest,
    shard_problem,
    write_manifest,
)

__all__ = ["VerifyResult", "verify_entry"]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one entry's shards against the sha256 sums in its manifest."""

    id: str
    ok: bool
    n_shards_checked: int
    bad_shards: tuple[int | str, ...]  # shards (v1: indices, v2: file names) found damaged
    problems: tuple[str, ...]  # one line per problem found
    repaired: bool  # bad shards dropped (or a broken entry removed)
    strays: tuple[str, ...] = ()  # temp files and orphan shards found (removed when repairing)


def verify_entry(path: Path, repair: bool) -> tuple[VerifyResult, bool]:
    """Check one entry (under its lock when repairing); also say whether it is beyond repair."""
    eid = path.name
    try:
        manifest = read_manifest(path)
    except CacheError as exc:
        return VerifyResult(eid, False, 0, (), (str(exc),), repair), True
    if manifest is None:
        missing = f"Cache entry {eid} has no manifest (a run stopped before writing it)."
        return VerifyResult(eid, False, 0, (), (missing,), repair), True
    bad: dict[int, str] = {}
    for shard in manifest["shards"]:
        problem = shard_problem(path, shard)
        records: list[dict[str, Any]] = shard["files"] if problem is None else []
        for rec in records:
            if file_sha256(path / rec["name"]) != rec["sha256"]:
                problem = f"is corrupt ({rec['name']} does not match its sha256 checksum)"
                break
        if problem is not None:
            bad[shard["index"]] = str(damaged_shard_error(eid, shard["index"], problem))
    strays = find_strays(path, manifest)
    if repair:
        clean_strays(path, manifest)
    n_total = math.ceil(manifest["n"] / manifest["shard_size"])
    overclaimed = manifest["complete"] and len(manifest["shards"]) != n_total
    problems = list(bad.values())
    if strays and not repair:
        problems.append(
            f"Cache entry {eid} holds {len(strays)} leftover temp or orphan files "
            f"({', '.join(strays[:3])}); `headwise cache verify --repair` removes them."
        )
    if overclaimed:
        problems.append(f"Cache entry {eid} is marked complete but lacks shards.")
    repaired = repair and bool(problems)
    if repaired:
        for shard in manifest["shards"]:
            if shard["index"] in bad:
                for rec in shard["files"]:
                    with contextlib.suppress(FileNotFoundError):
                        (path / rec["name"]).unlink()
        manifest["shards"] = [s for s in manifest["shards"] if s["index"] not in bad]
        manifest["complete"] = len(manifest["shards"]) == n_total
        manifest["updated"] = now()
        write_manifest(path, manifest)
    checked = len(manifest["shards"]) + (len(bad) if repaired else 0)
    result = VerifyResult(
        eid, not problems, checked, tuple(sorted(bad)), tuple(problems), repaired, tuple(strays)
    )
    return result, False
