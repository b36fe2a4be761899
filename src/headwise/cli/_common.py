"""Old home of shared CLI pieces, kept so code written against it keeps importing.

Options live in :mod:`._options`, rendering in :mod:`._render`, errors are mapped once by
:class:`._errors.HeadwiseGroup`, and the library logic that used to live here is in
:mod:`headwise.workflows` (``embed_texts``, ``indices_for``, ``encoder_options``). Any name
that used to be importable from here is looked up in those three places.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """No-op: errors are mapped once, at the app (``HeadwiseGroup``); kept for old imports."""
    return fn


def load_data(data: Any, encoder: str, *, quiet: bool = False, **settings: Any) -> Any:
    """``headwise.workflows.load_inputs`` plus the list of skipped media files on stderr."""
    from ..workflows import load_inputs
    from ._render import media_notes

    table = load_inputs(data, encoder, **settings)
    if not quiet:
        media_notes(table)
    return table


def __getattr__(name: str) -> Any:
    from .. import workflows
    from . import _options, _render

    for home in (_options, _render, workflows):
        if hasattr(home, name):
            return getattr(home, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
