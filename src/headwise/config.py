"""Environment-driven defaults."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["cache_dir", "debug_enabled", "onnx_cache_dir", "progress_enabled"]


def cache_dir() -> Path:
    """Where embeddings are cached: ``$HEADWISE_CACHE_DIR``, else the user cache dir.

    >>> isinstance(cache_dir(), Path)
    True
    """
    env = os.environ.get("HEADWISE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("headwise")) / "embeddings"


def onnx_cache_dir() -> Path:
    """Where exported ONNX models are kept: ``onnx/`` beside the embeddings.

    That is ``$HEADWISE_CACHE_DIR/onnx`` when the variable is set (so one variable isolates every
    cache), else ``<user cache dir>/headwise/onnx``. The embedding store only uses ``v1/`` and
    ``v2/`` under its root, so the two never collide.

    >>> onnx_cache_dir().name
    'onnx'
    """
    env = os.environ.get("HEADWISE_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "onnx"
    return Path(platformdirs.user_cache_dir("headwise")) / "onnx"


def debug_enabled() -> bool:
    """``HEADWISE_DEBUG=1`` makes the CLI show full tracebacks."""
    return os.environ.get("HEADWISE_DEBUG", "") not in ("", "0", "false", "False")


def progress_enabled() -> bool:
    """``HEADWISE_PROGRESS=0`` turns progress bars off."""
    return os.environ.get("HEADWISE_PROGRESS", "1") not in ("0", "false", "False")
