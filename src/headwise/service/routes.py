"""The HTTP endpoints: parse the body, call the model state, render the answer (no logic here)."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response

from .._validation import check_embeddings, check_n_features, check_texts
from ._errors import Conflict, Forbidden, Invalid, TooLarge, Unauthorized, Unavailable
from ._metrics import CONTENT_TYPE
from ._model import ServedModel
from ._predict import PredictJob
from ._state import ServiceState
from .schemas import (
    DeleteResponse,
    EmbedRequest,
    EmbedResponse,
    ErrorBody,
    ExamplesList,
    ExamplesRequest,
    ExamplesResponse,
    ModelInfo,
    ModelList,
    PredictRequest,
    PredictResponse,
    RollbackRequest,
    VersionsResponse,
)

__all__ = ["answer_predict", "get_service", "render_json", "require_writer", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 404, 409, 413, 422, 503)
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS, 401: {"model": ErrorBody}, 403: {"model": ErrorBody}
}


async def get_service(request: Request) -> ServiceState:
    """The running service (503 while it starts or stops).

    ``async`` although it never awaits: FastAPI runs a plain ``def`` dependency in its thread
    pool, a thread hop per request that cost more than the whole check.
    """
    state: ServiceState | None = getattr(request.app.state, "service", None)
    if state is None or not state.ready:
        raise Unavailable("The service is starting or stopping.")
    return state


Service = Annotated[ServiceState, Depends(get_service)]


async def require_writer(request: Request, service: Service) -> ServiceState:
    """Writes need ``Authorization: Bearer <token>`` (compared in constant time; ``async`` for the
    reason given in :func:`get_service`)."""
    settings = service.settings
    if settings.read_only or settings.token is None:
        raise Forbidden("This service was started with --read-only; it accepts no writes.")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("This endpoint changes a model and needs a bearer token.")
    if not hmac.compare_digest(token.strip().encode("latin-1"), settings.token.encode("ascii")):
        raise Forbidden("The bearer token is not the one this service was started with.")
    return service


Writer = Annotated[ServiceState, Depends(require_writer)]
router = APIRouter()


def render_json(content: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (non-finite floats refused: the rows carry ``None`` for them)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _note(request: Request, **info: Any) -> None:
    """Details for the request's log line (model, rows, version)."""
    request.scope.setdefault("headwise", {}).update(info)


def check_rows(service: ServiceState, texts: list[str] | None, n_rows: int) -> None:
    s = service.settings
    if n_rows > s.max_rows:
        raise TooLarge(f"The request holds {n_rows} rows; this service takes at most {s.max_rows}.")
    if texts is not None:
        check_texts(texts)
        long = [i for i, t in enumerate(texts) if len(t) > s.max_text_chars]
        if long:
            raise Invalid(
                f"Text {long[0]} has {len(texts[long[0]])} characters; the limit is "
                f"{s.max_text_chars}.",
                "Shorten or split the text.",
            )


async def request_embeddings(
    service: ServiceState, model: ServedModel, texts: list[str] | None, rows: Any
) -> np.ndarray:
    if texts is not None:
        return np.asarray(await service.embed(service.encoder_for(model.name), texts))
    X = check_embeddings(rows, name="embeddings")
    check_n_features(X.shape[1], model.n_features, f"model '{model.name}'")
    return X


# ---------------------------------------------------------------- health and metrics
@router.get("/health/live", tags=["health"])
def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "live"}


@router.get("/health/ready", tags=["health"], responses={503: {"model": ErrorBody}})
def ready(service: Service) -> dict[str, Any]:
    """Models loaded, encoders running, the journal readable."""
    if service.journal is not None:
        service.journal.ping()
    return {"status": "ready", "models": sorted(service.models)}


@router.get("/metrics", tags=["health"], response_class=PlainTextResponse)
def metrics(service: Service) -> PlainTextResponse:
    """Prometheus text format."""
    return PlainTextResponse(service.metrics.render(), media_type=CONTENT_TYPE)


# ---------------------------------------------------------------- models
@router.get("/v1/models", response_model=ModelList, tags=["models"])
def list_models(service: Service) -> dict[str, Any]:
    writable = not service.settings.read_only
    return {"models": [m.describe(writable) for _, m in sorted(service.models.items())]}


@router.get("/v1/models/{name}", response_model=ModelInfo, tags=["models"], responses=_ERRORS)
def get_model(name: str, service: Service) -> dict[str, Any]:
    return service.model(name).describe(not service.settings.read_only)


async def answer_predict(
    service: ServiceState,
    name: str,
    texts: list[str] | None,
    embeddings: Any,
    *,
    alpha: float | None,
    top_k: int,
    include_logits: bool,
    note: dict[str, Any],
) -> bytes:
    """The JSON reply of ``POST /v1/models/{name}/predict`` on a validated body.

    Shared by the route below and the guard's fast path (``_fastpath.py``); the details for the
    request's log line (model, rows, version) go into ``note``.
    """
    model = service.model(name)
    n_rows = len(texts) if texts is not None else len(embeddings)
    check_rows(service, texts, n_rows)
    state = model.state
    if alpha is not None and state.conformal is None:
        raise Conflict(
            f"Model '{name}' holds no calibration, so it cannot give prediction sets.",
            "Refit it with `headwise fit ... --calibrate`, or POST calibration examples; "
            "leave 'alpha' out for labels and probabilities only.",
        )
    alpha = model.check_alpha(alpha)
    X = await request_embeddings(service, model, texts, embeddings)
    state = model.state  # the newest version once the embeddings are in
    rows = await service.predictor.predict(
        state, PredictJob(X, alpha, top_k, include_logits), method=model.method,
        ood_method=model.ood_method,
    )  # fmt: skip
    note.update(model=name, rows=len(rows), version=state.version)
    # Rendered here rather than re-validated against PredictResponse (which only documents it):
    # the rows are built by predict_many, and validating them again cost more than computing them.
    return render_json({
        "model": name, "version": state.version, "alpha": alpha,
        "conformal_method": model.method, "predictions": rows,
    })  # fmt: skip


@router.post(
    "/v1/models/{name}/predict", response_model=PredictResponse, tags=["predict"], responses=_ERRORS
)
async def predict(name: str, body: PredictRequest, request: Request, service: Service) -> Response:
    """Label, top-k probabilities, conformal set at ``alpha`` and OOD flag for every row."""
    reply = await answer_predict(
        service, name, body.texts, body.embeddings, alpha=body.alpha, top_k=body.top_k,
        include_logits=body.include_logits, note=request.scope.setdefault("headwise", {}),
    )  # fmt: skip
    return Response(reply, media_type="application/json")


@router.post("/v1/embed", response_model=EmbedResponse, tags=["predict"], responses=_ERRORS)
async def embed(body: EmbedRequest, request: Request, service: Service) -> dict[str, Any]:
    """Embeddings of texts with a loaded encoder."""
    check_rows(service, body.texts, len(body.texts))
    shared = service.encoder_by_spec(body.encoder)
    X = await service.embed(shared, body.texts)
    _note(request, rows=len(body.texts))
    return {"encoder": shared.spec, "dim": shared.dim, "embeddings": np.asarray(X).tolist()}


# ---------------------------------------------------------------- learning
@router.post(
    "/v1/models/{name}/examples", response_model=ExamplesResponse, status_code=201,
    tags=["learn"], responses=_WRITE_ERRORS,
)  # fmt: skip
async def add_examples(
    name: str, body: ExamplesRequest, request: Request, service: Writer
) -> dict[str, Any]:
    """Learn labelled rows exactly (statistics heads); committed to disk before the reply."""
    model = service.model(name)
    model.check_writable()
    check_rows(service, body.texts, body.n_rows)
    X = await request_embeddings(service, model, body.texts, body.embeddings)
    labels = list(body.labels)
    version, ids, roles = await asyncio.to_thread(
        service.locked_write, model.add, X, labels, body.texts, body.role
    )
    service.metrics.write(name, "add")
    _note(request, model=name, rows=len(ids), version=version)
    return {"model": name, "version": version, "ids": ids, "roles": roles}


@router.get(
    "/v1/models/{name}/examples", response_model=ExamplesList, tags=["learn"], responses=_ERRORS
)
def list_examples(
    name: str,
    service: Service,
    after: Annotated[int, Query(ge=0, description="Only ids above this.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    embeddings: Annotated[bool, Query(description="Also return each row's embedding.")] = False,
) -> dict[str, Any]:
    """The logged rows the model holds now (deleted ones are not listed)."""
    model = service.model(name)
    rows = [r for i, r in sorted(model.active.items()) if i > after][: limit + 1]
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "model": name,
        "version": model.state.version,
        "examples": [
            {
                "id": r.id, "label": r.label, "role": r.role, "version": r.version, "text": r.text,
                "embedding": None if not embeddings or r.x is None else r.x.tolist(),
            }
            for r in rows
        ],
        "next_after": rows[-1].id if more else None,
    }


@router.delete(
    "/v1/models/{name}/examples/{example_id}", response_model=DeleteResponse, tags=["learn"],
    responses=_WRITE_ERRORS,
)  # fmt: skip
async def delete_example(
    name: str,
    example_id: int,
    request: Request,
    service: Writer,
    purge: Annotated[bool, Query(description="Also erase the row's text and embedding.")] = False,
) -> dict[str, Any]:
    """Unlearn one row exactly: its contribution is subtracted from the statistics."""
    model = service.model(name)
    version = await asyncio.to_thread(service.locked_write, model.remove, example_id, purge)
    service.metrics.write(name, "delete")
    _note(request, model=name, version=version)
    return {"model": name, "version": version, "deleted": example_id, "purged": purge}


@router.get(
    "/v1/models/{name}/versions", response_model=VersionsResponse, tags=["versions"],
    responses=_ERRORS,
)  # fmt: skip
def versions(
    name: str,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=10_000, description="How many of the newest.")] = 100,
) -> dict[str, Any]:
    """The newest versions (oldest first): what each write did, rows in use after it."""
    model = service.model(name)
    listed = service.journal.versions(name, limit) if service.journal is not None else []
    if not listed:
        listed = [{"version": 0, "created": 0.0, "action": "base", "detail": {}, "n_train": 0,
                   "n_calibration": model.state.n_calibration}]  # fmt: skip
    return {"model": name, "current": model.state.version, "versions": listed}


@router.post(
    "/v1/models/{name}/rollback", response_model=VersionsResponse, tags=["versions"],
    responses=_WRITE_ERRORS,
)  # fmt: skip
async def rollback(
    name: str, body: RollbackRequest, request: Request, service: Writer
) -> dict[str, Any]:
    """Make a new version holding the rows of an earlier one."""
    model = service.model(name)
    version = await asyncio.to_thread(service.locked_write, model.rollback, body.version)
    service.metrics.write(name, "rollback")
    _note(request, model=name, version=version)
    return versions(name, service, limit=100)


