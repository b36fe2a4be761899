"""Old home of shared CLI pieces, kept so code written against it keeps importing.

Options live in :mod:`._options`, rendering in :mod:`._render`, errors are mapped once by
:class:`._errors.HeadwiseGroup`, and the library logic that used to live here is in
:mod:`headwise.workflows` (``embed_texts``, ``indices_for``, ``encoder_options``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..workflows import Embedded, embed_texts, encoder_options, indices_for, media_report
from ._options import (
    BatchOpt,
    DataArg,
    DtypeOpt,
    EncoderOpt,
    JsonOpt,
    LabelColOpt,
    LayerOpt,
    MaxLenOpt,
    OnErrorOpt,
    PoolingOpt,
    SplitColOpt,
    TextColOpt,
)
from ._render import console, err_console, print_json, print_table

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "BatchOpt", "DataArg", "DtypeOpt", "EncoderOpt", "Embedded", "JsonOpt", "LabelColOpt",
    "LayerOpt", "MaxLenOpt", "OnErrorOpt", "PoolingOpt", "SplitColOpt", "TextColOpt", "console",
    "embed_texts", "encoder_options", "err_console", "handle_errors", "indices_for",
    "media_report", "print_json", "print_table",
]  # fmt: skip


def handle_errors(fn: F) -> F:
    """No-op: errors are mapped once, at the app (``HeadwiseGroup``); kept for old imports."""
    return fn
