"""Errors the service answers with: an HTTP status, one line saying what was wrong, and a hint.

Plain exceptions (no FastAPI import), so the model state and the journal can raise them too.
:func:`status_for` maps the library's own :class:`~headwise.exceptions.HeadwiseError` subclasses
to the same statuses, so one handler in ``app.py`` turns every known error into
``{"error": ..., "hint": ...}``.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

from ..exceptions import (
    CacheError,
    EncoderMismatchError,
    HeadwiseError,
    InputError,
    MissingDependencyError,
    OutputError,
    UnknownEncoderError,
)

__all__ = [
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "ServiceError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "error_body",
    "hint_for",
    "status_for",
]

_HINTS = {
    400: "Send a JSON body with Content-Type: application/json.",
    401: "Send the header 'Authorization: Bearer <token>' (the token the service was started with).",
    403: "Check the token; a service started with --read-only accepts no writes.",
    404: "GET /v1/models lists the served models.",
    409: "GET /v1/models/{name} shows what the model supports.",
    413: "Split the request into smaller ones.",
    422: "Fix the request body; GET /docs shows every field.",
    503: "Retry shortly; GET /health/ready says when the service can answer.",
}


class ServiceError(HeadwiseError):
    """An error with an HTTP status and an optional hint (else the status's generic hint)."""

    status = 500

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class Invalid(ServiceError, InputError):
    status = 422


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class Unavailable(ServiceError):
    status = 503


def status_for(exc: BaseException) -> int | None:
    """The HTTP status of a known error, or ``None`` for a bug (which stays a 500)."""
    if isinstance(exc, ServiceError):
        return exc.status
    if isinstance(exc, NotFittedError):
        return 409
    if isinstance(exc, MissingDependencyError | OutputError | CacheError):
        return 503
    if isinstance(exc, InputError | EncoderMismatchError | UnknownEncoderError | HeadwiseError):
        return 422
    return None


def hint_for(exc: BaseException, status: int) -> str:
    hint = getattr(exc, "hint", None)
    return hint or _HINTS.get(status, "")


def error_body(exc: BaseException) -> tuple[int, dict[str, str]]:
    """Status and ``{"error", "hint"}`` body of a known error (the app's handler and the predict
    fast path answer with this one rendering)."""
    status = status_for(exc) or 422
    return status, {"error": str(exc).replace("\n", " "), "hint": hint_for(exc, status)}
