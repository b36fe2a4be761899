"""Saving and loading :class:`SufficientStats` (safetensors): the statistics module stays pure.

``SufficientStats.save(path)`` and ``SufficientStats.load(path)`` are these two functions, bound
here, so the statistics themselves import no file IO.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import HeadFormatError
from ._io import atomic_save_safetensors, read_safetensors
from ._stats import SufficientStats

__all__ = ["load_stats", "save_stats"]

STATS_FORMAT = "headwise.stats"
STATS_VERSION = 1


def save_stats(stats: SufficientStats, path: str | Path) -> Path:
    """Write ``stats`` to a safetensors file atomically (temp file + rename)."""
    arrays, meta = stats.to_arrays()
    header = {"format": STATS_FORMAT, "format_version": str(STATS_VERSION), "meta": json.dumps(meta)}
    return atomic_save_safetensors(Path(path), arrays, header)


def load_stats(path: str | Path) -> SufficientStats:
    """Read statistics written by :func:`save_stats`."""
    arrays, header = read_safetensors(Path(path))
    if header.get("format") != STATS_FORMAT:
        raise HeadFormatError(f"{path} is not a headwise statistics file.")
    return SufficientStats.from_arrays(arrays, json.loads(header["meta"]))


def _load(cls: type[SufficientStats], path: str | Path) -> SufficientStats:
    return load_stats(path)


SufficientStats.save = save_stats  # type: ignore[attr-defined]
SufficientStats.load = classmethod(_load)  # type: ignore[attr-defined]
