"""Statistics snapshots: a model's training statistics at one version, in one safetensors file.

Written with the atomic writer (temp file, fsync, rename), so a crash leaves the old snapshot or
the new one, never half of one; a snapshot that does not load is skipped and the model is
rebuilt from an older one or from its base file.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._atomic import atomic_write
from ..exceptions import HeadwiseError
from ..heads import SufficientStats

__all__ = ["read_snapshot", "write_snapshot"]

_FORMAT = "headwise.serve.snapshot"


def write_snapshot(path: Path, stats: SufficientStats, *, model: str, version: int, digest: str) -> Path:
    from safetensors.numpy import save

    arrays, meta = stats.to_arrays()
    header = {
        "format": _FORMAT,
        "model": model,
        "version": str(version),
        "base_digest": digest,
        "meta": json.dumps(meta),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, save(arrays, metadata=header), what="Snapshot")


def read_snapshot(path: Path, *, model: str, version: int, digest: str) -> SufficientStats | None:
    """The statistics in ``path``, or ``None`` when it is missing, damaged or not this one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            header = dict(fh.metadata() or {})
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
        ok = (
            header.get("format") == _FORMAT
            and header.get("model") == model
            and header.get("version") == str(version)
            and header.get("base_digest") == digest
        )
        return SufficientStats.from_arrays(arrays, json.loads(header["meta"])) if ok else None
    except (OSError, ValueError, KeyError, HeadwiseError, Exception):  # any damage: skip it
        return None
