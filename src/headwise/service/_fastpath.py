"""The hot path of ``POST /v1/models/{name}/predict``, answered in the ASGI guard.

Under load most of the event loop's time per predict request went to FastAPI's layers (middleware,
routing, dependency injection, pydantic validation of the body), measured with py-spy on
``bench/serve.py``; on two cores that time is taken from the encoder. A well-formed predict request
skips them: one ``json.loads`` and checks by hand of exactly the types and ranges that
:class:`~headwise.service.schemas.PredictRequest` accepts, then the very function the FastAPI route
calls (:func:`~headwise.service.routes.answer_predict`).

Anything else is handed on, body included, to the FastAPI route: invalid JSON, an unknown field, a
value of another type (such as ``"top_k": "3"``, which the strict schema refuses too), an out-of-range
``alpha``. So every validation error keeps its wording and status, and the fast path can differ
from the full one only in speed. Errors raised while answering (unknown model 404, no calibration
409, too many rows 413, a text too long 422, encoder busy 503) are rendered by the same
:func:`~headwise.service._errors.error_body` as the app's handler.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sklearn.exceptions import NotFittedError
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from ..exceptions import HeadwiseError
from ._errors import error_body, hint_for
from .routes import answer_predict, render_json

__all__ = ["PredictFastPath", "parse_predict"]

log = logging.getLogger("headwise.serve")

_PREFIX, _SUFFIX = "/v1/models/", "/predict"
_FIELDS = frozenset({"texts", "embeddings", "alpha", "top_k", "include_logits"})


def _number(v: object) -> bool:
    return type(v) is float or type(v) is int  # bool is a subclass of int: excluded on purpose


def parse_predict(body: bytes) -> dict[str, Any] | None:
    """The fields of a predict body, or ``None`` when the full route must judge it.

    ``None`` for anything :class:`~headwise.service.schemas.PredictRequest` would refuse or
    coerce, so that the route answers it with its own message.

    >>> parse_predict(b'{"texts": ["hi"], "top_k": 2}')["top_k"]
    2
    >>> parse_predict(b'{"texts": ["hi"], "top_k": "2"}') is None
    True
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if type(data) is not dict or not data.keys() <= _FIELDS:
        return None
    texts, rows = data.get("texts"), data.get("embeddings")
    if (texts is None) == (rows is None):
        return None
    if texts is not None:
        if type(texts) is not list or not texts or not all(type(t) is str for t in texts):
            return None
    elif (
        type(rows) is not list
        or not rows
        or not all(type(r) is list and all(_number(v) for v in r) for r in rows)
    ):
        return None
    alpha = data.get("alpha")
    if alpha is not None and not (_number(alpha) and 0 < alpha < 1):
        return None
    top_k = data.get("top_k", 3)
    if type(top_k) is not int or not 1 <= top_k <= 1000:
        return None
    include_logits = data.get("include_logits", False)
    if type(include_logits) is not bool:
        return None
    return {"texts": texts, "embeddings": rows, "alpha": alpha, "top_k": top_k,
            "include_logits": include_logits}  # fmt: skip


async def _send_json(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class PredictFastPath:
    """Serve well-formed predict requests without FastAPI's layers (see the module docstring).

    ``service()`` returns the running :class:`~headwise.service.ServiceState` or ``None``;
    ``route`` is the FastAPI route of the endpoint (put in the scope, so metrics and the log line
    name the route as for any other request).
    """

    def __init__(self, service: Callable[[], Any], route: Any) -> None:
        self.service = service
        self.route = route

    def model_name(self, scope: Scope) -> str | None:
        """The model of a ``POST /v1/models/{name}/predict`` this path may take, else ``None``."""
        path: str = scope["path"]
        if scope["method"] != "POST" or scope.get("root_path") or not path.endswith(_SUFFIX):
            return None
        if not path.startswith(_PREFIX):
            return None
        name = path[len(_PREFIX) : -len(_SUFFIX)]
        return name if name and "/" not in name else None

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, name: str, fallback: Any
    ) -> None:
        """Answer the request, or call ``fallback(scope, receive, send)`` (the full app) with a
        ``receive`` that replays the body already read."""
        service = self.service()
        ctype = dict(scope["headers"]).get(b"content-type", b"")
        if service is None or not service.ready or not ctype.startswith(b"application/json"):
            await fallback(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            more = True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client left
                    await fallback(scope, _replay(b"".join(chunks), receive, message), send)
                    return
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
        except HTTPException as exc:  # the guard's body-size limit
            body = {"error": str(exc.detail), "hint": hint_for(exc, exc.status_code) or "See /docs."}
            await _send_json(send, exc.status_code, render_json(body))
            return
        raw = b"".join(chunks)
        fields = parse_predict(raw)
        if fields is None:
            await fallback(scope, _replay(raw, receive), send)
            return
        scope["route"] = self.route
        try:
            reply = await answer_predict(
                service, name, fields["texts"], fields["embeddings"], alpha=fields["alpha"],
                top_k=fields["top_k"], include_logits=fields["include_logits"],
                note=scope.setdefault("headwise", {}),
            )  # fmt: skip
        except (HeadwiseError, NotFittedError) as exc:
            status, body = error_body(exc)
            await _send_json(send, status, render_json(body))
            return
        except Exception as exc:  # a bug: a 500 with the traceback in the log, as in the app
            log.exception("unhandled error on POST %s", scope["path"])
            body = {"error": f"Internal error ({type(exc).__name__}).", "hint": "See the service log."}
            await _send_json(send, 500, render_json(body))
            return
        await _send_json(send, 200, reply)


def _replay(body: bytes, receive: Receive, last: Message | None = None) -> Receive:
    """``receive`` that first gives back the body already read (then ``last``, if any)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last is not None:
        pending.append(last)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again
