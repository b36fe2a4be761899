"""Environment-driven defaults."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["cache_dir", "debug_enabled", "progress_enabled"]


def cache_dir() -> Path:
    """Where embeddings are cached: ``$HEADWISE_CACHE_DIR``, else the user cache dir.

    >>> isinstance(cache_dir(), Path)
    True
    """
    env = os.environ.get("HEADWISE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("headwise")) / "embeddings"


def debug_enabled() -> bool:
    """``HEADWISE_DEBUG=1`` makes the CLI show full tracebacks."""
    return os.environ.get("HEADWISE_DEBUG", "") not in ("", "0", "false", "False")


def progress_enabled() -> bool:
    """``HEADWISE_PROGRESS=0`` turns progress bars off."""
    return os.environ.get("HEADWISE_PROGRESS", "1") not in ("0", "false", "False")
