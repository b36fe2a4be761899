"""Statistics snapshots: a model's training statistics at one version, in one safetensors file.

Written with the atomic writer (temp file, fsync, rename), so a crash leaves the old snapshot or
the new one, never half of one, and with the SHA-256 digest every head file carries; a snapshot
that does not load, or whose bytes no longer match its digest, is skipped and the model is
rebuilt from an older one or from its base file.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..heads import SufficientStats, atomic_save_safetensors, read_safetensors

__all__ = ["read_snapshot", "write_snapshot"]

_FORMAT = "headwise.serve.snapshot"


def write_snapshot(path: Path, stats: SufficientStats, *, model: str, version: int, digest: str) -> Path:
    arrays, meta = stats.to_arrays()
    header = {
        "format": _FORMAT,
        "model": model,
        "version": str(version),
        "base_digest": digest,
        "meta": json.dumps(meta),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save_safetensors(path, arrays, header)


def read_snapshot(path: Path, *, model: str, version: int, digest: str) -> SufficientStats | None:
    """The statistics in ``path``, or ``None`` when it is missing, damaged or not this one."""
    try:
        arrays, header = read_safetensors(path)  # checks the content digest
        ok = (
            "digest" in header  # written by this version: a snapshot without one is not trusted
            and header.get("format") == _FORMAT
            and header.get("model") == model
            and header.get("version") == str(version)
            and header.get("base_digest") == digest
        )
        return SufficientStats.from_arrays(arrays, json.loads(header["meta"])) if ok else None
    except Exception:  # noqa: BLE001 (any damage: skip it, an older snapshot or the journal rebuilds it)
        return None
