"""`create_app(settings)`: the FastAPI application of `headwise serve`.

The lifespan loads models and encoders once (or takes a :class:`ServiceState` opened already, as
the CLI does so that a bad models folder fails before a port is bound) and starts one
micro-batcher per encoder. One pure-ASGI guard around everything limits the body size, times the
request, counts it for ``/metrics`` and writes one JSON log line; it also answers well-formed
predict requests itself, without FastAPI's layers (``_fastpath.py``: same code, same answers).
Every known error becomes ``{"error": ..., "hint": ...}`` with its status; anything else is a 500
with the traceback in the log (never a 4xx in disguise). Extra routers (a labelling page, say) plug in through ``routers``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sklearn.exceptions import NotFittedError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..exceptions import HeadwiseError
from ._errors import error_body, hint_for
from ._fastpath import PredictFastPath
from ._state import ServiceState
from .routes import router
from .settings import ServeSettings

__all__ = ["create_app"]

log = logging.getLogger("headwise.serve")


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once the body passes the limit (FastAPI re-raises HTTP errors)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


_RUN_ID = uuid.uuid4().hex[:8]  # this process's prefix: ids stay unique across restarts
_request_numbers = itertools.count(1)


def _next_request_id() -> str:
    """A request id unique to this process run (a counter: no random bytes per request)."""
    return f"{_RUN_ID}{next(_request_numbers):08x}"


def _error(status: int, message: str, hint: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint}, status_code=status, headers=headers)


_JSON_PATHS = ("/v1/", "/label/v1/")  # POST bodies under these paths are JSON


def _is_json(ctype: bytes) -> bool:
    """``application/json`` or a ``+json`` type, with or without parameters (charset)."""
    mime = ctype.split(b";", 1)[0].strip()
    return mime == b"application/json" or (mime.startswith(b"application/") and mime.endswith(b"+json"))


class RequestGuard:
    """Body-size limit, timing, metrics and one structured log line per HTTP request."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, service: Any, fast: PredictFastPath | None = None
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.service = service  # a callable returning the ServiceState (or None)
        self.fast = fast  # the predict endpoint's hot path (None: every request goes to FastAPI)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or _next_request_id()
        status = 500
        received = 0
        started = False

        async def send_wrapped(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        async def receive_guarded() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(self.max_body)
            return message

        unsupported = None
        if scope["path"].startswith(_JSON_PATHS) and scope["method"] == "POST":
            # Every body posted here is JSON: accept curl's default form content type
            # (`curl -d '{...}'`); another declared type gets a 415 that says so (FastAPI read
            # such a body as no body: "Input should be a valid dictionary").
            ctype = headers.get(b"content-type", b"").lower()
            if not ctype or ctype.startswith(b"application/x-www-form-urlencoded"):
                scope["headers"] = [
                    *[(k, v) for k, v in scope["headers"] if k != b"content-type"],
                    (b"content-type", b"application/json"),
                ]
            elif not _is_json(ctype):
                unsupported = ctype.decode("latin-1")
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        try:
            if unsupported is not None:
                await _error(
                    415, f"The body is declared as {unsupported!r}; this endpoint reads JSON.",
                    "Send the body as JSON with Content-Type: application/json.",
                )(scope, receive, send_wrapped)  # fmt: skip
            elif declared > self.max_body:
                await _error(
                    413, f"The request body is {declared} bytes; the limit is {self.max_body}.",
                    hint_for(Exception(), 413),
                )(scope, receive, send_wrapped)  # fmt: skip
            elif self.fast is not None and (name := self.fast.model_name(scope)) is not None:
                await self.fast(scope, receive_guarded, send_wrapped, name, self.app)
            else:
                await self.app(scope, receive_guarded, send_wrapped)
        except Exception as exc:
            # Starlette answers an unhandled error with the 500 of `_bug` (which logs it) and
            # then re-raises it, and the server drops the connection: the client's next request
            # on that keep-alive connection was reset. The answer stands; the error ends here.
            if not started:
                log.exception("unhandled error on %s %s", scope["method"], scope["path"])
                body = _error(500, f"Internal error ({type(exc).__name__}).", "See the service log.")
                await body(scope, receive, send_wrapped)
        finally:
            self._record(scope, status, time.perf_counter() - start, rid)

    def _record(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        service = self.service()
        if service is not None:
            service.metrics.request(route, scope["method"], status, seconds)
        if not log.isEnabledFor(logging.INFO):
            return  # the line is built only when it is written
        client = scope.get("client")
        line = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "request",
            "request_id": rid,
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000.0, 3),
            "client": client[0] if client else None,
            **scope.get("headwise", {}),
        }
        log.info(json.dumps(line, default=str))


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON."
    parts = []
    for e in errors[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return 422, "Invalid request: " + "; ".join(parts) + more + "."


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HeadwiseError)
    async def _known(request: Request, exc: HeadwiseError) -> JSONResponse:
        status, body = error_body(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(NotFittedError)
    async def _not_fitted(request: Request, exc: NotFittedError) -> JSONResponse:
        return _error(409, str(exc), hint_for(exc, 409))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return _error(status, message, hint_for(exc, status))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No endpoint at {request.url.path}."
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
        return _error(exc.status_code, message, hint_for(exc, exc.status_code) or "See /docs.")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, f"Internal error ({type(exc).__name__}).", "See the service log.")


def create_app(
    settings: ServeSettings,
    *,
    state: ServiceState | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The FastAPI app serving every head in ``settings.models_dir``.

    ``state`` is an already opened :class:`ServiceState` (else the lifespan opens one);
    ``routers`` are mounted after the built-in ones and reach the service through
    :func:`headwise.service.get_service`.
    """
    holder: dict[str, ServiceState | None] = {"state": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = state if state is not None else await asyncio.to_thread(ServiceState.open, settings)
        holder["state"] = service
        service.start()
        app.state.service = service
        try:
            yield
        finally:
            await service.stop()
            service.close()
            app.state.service = None

    app = FastAPI(
        title="headwise serve",
        version=__version__,
        description="Predict with calibrated sets, learn from labelled rows, lose nothing.",
        lifespan=lifespan,
    )
    app.state.service = None
    app.state.settings = settings
    app.include_router(router)
    for extra in routers:
        app.include_router(extra)
    _install_handlers(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # CORS headers come from a middleware the fast path would skip: with CORS, no fast path.
    predict_route = next(r for r in router.routes if getattr(r, "name", None) == "predict")
    fast = None if settings.cors_origins else PredictFastPath(lambda: holder["state"], predict_route)
    app.add_middleware(
        RequestGuard, max_body_bytes=settings.max_body_bytes, service=lambda: holder["state"],
        fast=fast,
    )  # fmt: skip
    return app
