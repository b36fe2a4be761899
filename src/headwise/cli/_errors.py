"""The CLI's one error map: known errors become one line (or one JSON object) and exit 1.

Commands raise; nothing here is pasted on them. :class:`HeadwiseGroup` is the click group of
the ``headwise`` app, so every command and sub-command runs inside its ``invoke``, the one place
where a :class:`~headwise.exceptions.HeadwiseError` is turned into output (the pattern of
huggingface_hub's ``cli/_errors.py``). ``HEADWISE_DEBUG=1`` prints the traceback as well.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import typer
from typer.core import TyperGroup

from ..config import debug_enabled
from ..exceptions import (
    CacheError,
    EncoderMismatchError,
    HeadFormatError,
    HeadwiseError,
    MissingDependencyError,
    OutputError,
    UnknownEncoderError,
    UnknownHeadError,
)

__all__ = ["DEBUG_LINE", "HeadwiseGroup", "error_payload", "hint_for", "json_requested", "set_json"]

DEBUG_LINE = "(set HEADWISE_DEBUG=1 for a traceback)"
_JSON_KEY = "headwise.json"

# Most specific first: the first class the error is an instance of gives the hint.
_HINTS: tuple[tuple[type[BaseException], str], ...] = (
    (UnknownEncoderError, "`headwise encoders list` shows every encoder."),
    (UnknownHeadError, "`headwise heads` lists the heads."),
    (MissingDependencyError, "install the extra the message names, then run the command again."),
    (CacheError, "`headwise cache verify --repair` drops damaged entries; they are recomputed."),
    (HeadFormatError, "pass a head file written by `headwise fit`."),
    (EncoderMismatchError, "score a head with the encoder it was fitted on (see `headwise fit -e`)."),
    (OutputError, "choose a writable path with --out / --run-dir."),
)


def hint_for(exc: BaseException) -> str | None:
    """What to try next for an error of this kind (None when the message says it all)."""
    for cls, hint in _HINTS:
        if isinstance(exc, cls):
            return hint
    return None


def error_payload(exc: BaseException) -> dict[str, Any]:
    """``{"error": message, "hint": hint or None, "type": class name}`` for ``--json`` output."""
    return {"error": " ".join(str(exc).split()), "hint": hint_for(exc), "type": type(exc).__name__}


def set_json(ctx: click.Context, _param: Any, value: bool) -> bool:
    """Callback of every ``--json`` option: errors of this run are printed as JSON too."""
    if value:
        ctx.meta[_JSON_KEY] = True
    return value


def json_requested(ctx: click.Context | None) -> bool:
    return bool(ctx is not None and ctx.meta.get(_JSON_KEY))


def _report(exc: BaseException, as_json: bool) -> None:
    if debug_enabled():
        traceback.print_exc()
    if as_json:
        sys.stdout.write(json.dumps(error_payload(exc)) + "\n")
        sys.stdout.flush()
        return
    message = " ".join(str(exc).split())
    hint = hint_for(exc)
    # plain text: rich would read "[plot]" in "pip install headwise[plot]" as markup
    typer.echo(f"error: {message}" + (f" ({hint})" if hint and hint not in message else ""), err=True)
    typer.echo(DEBUG_LINE, err=True)


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Python warnings raised under a command (sklearn's, numpy's, ours) become one line each on
    stderr, ``warning: <message>``, once per message: no source path, no code line, no repeats.
    ``HEADWISE_DEBUG=1`` keeps Python's own format (where the warning came from)."""
    if debug_enabled():
        yield
        return
    seen: set[str] = set()

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


class HeadwiseGroup(TyperGroup):
    """The root group: runs the command, maps known errors to output and exit code 1, and
    prints Python warnings as plain lines (:func:`warnings_as_lines`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings_as_lines():
                return super().invoke(ctx)
        except HeadwiseError as exc:
            _report(exc, json_requested(ctx))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
