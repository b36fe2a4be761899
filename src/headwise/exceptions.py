"""Exception types raised by headwise.

Every error a user can cause derives from :class:`HeadwiseError`; the CLI turns these into one
line and exit code 1, the service into 4xx responses. Bugs surface as ordinary exceptions.
"""

from __future__ import annotations

__all__ = [
    "HeadwiseError",
    "InputError",
    "InputTypeError",
    "UnknownEncoderError",
    "UnknownHeadError",
    "CacheError",
    "EncoderMismatchError",
    "MissingDependencyError",
    "HeadFormatError",
    "HeadFileError",
    "OutputError",
]


class HeadwiseError(Exception):
    """Base class for errors a user can cause and fix."""


class InputError(HeadwiseError, ValueError):
    """Bad data: missing column, empty text, NaN embeddings, wrong dimension, one class..."""


class InputTypeError(InputError, TypeError):
    """Bad data of the wrong type (e.g. objects where numbers are expected); also a TypeError."""


class UnknownEncoderError(HeadwiseError, KeyError):
    """An encoder id that no registered encoder (built-in or plugin) answers to."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownHeadError(HeadwiseError, KeyError):
    """A head name that is not in the head registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CacheError(HeadwiseError, OSError):
    """A cache entry that is missing, truncated, corrupt or unwritable."""


class EncoderMismatchError(HeadwiseError, ValueError):
    """A head fitted on embeddings from one encoder applied to embeddings from another."""


class HeadFormatError(HeadwiseError, ValueError):
    """A saved head file that is not a headwise head or has an unsupported format version."""


class HeadFileError(HeadFormatError):
    """A head file whose contents fail the schema check on load (edited or damaged metadata,
    missing or misshapen arrays, non-finite values); the message names what is wrong."""


class MissingDependencyError(HeadwiseError, ImportError):
    """An optional backend that is not installed; the message says which extra to install."""


class OutputError(HeadwiseError, OSError):
    """A file headwise was asked to write could not be written (read-only, permission, disk full,
    missing or wrong kind of folder); the message names the path and what to do."""
