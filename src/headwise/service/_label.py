"""The labelling page: `/label` shows the rows an active strategy picks from an uploaded pool.

A person uploads unlabelled texts (or embeddings) for a served model, the page shows the rows
the chosen strategy (:mod:`headwise.active`) picks next with the model's current prediction, a
click on a class (or a typed new one) writes the row through the service's authenticated write
path (the same bearer token and write lock as ``POST /v1/models/{name}/examples``), and the
page shows the new model version and a running accuracy estimate.

The estimate is prequential ("test, then train"): each labelled row is first predicted by the
model version that has not seen it, so every answer is an honest held-out test of the model of
its time. Rows picked by an uncertainty strategy are harder than average, so the estimate is
pessimistic for those; with ``random`` it is unbiased for the pool.

Mount with ``create_app(settings, routers=[label_router])``; pools live in memory per model and
are gone when the service restarts (the labels are not: they are in the service's journal).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import softmax

from ..active import STRATEGIES, select_batch
from ._errors import Conflict, Invalid, NotFound, TooLarge
from .routes import check_rows, get_service, request_embeddings, require_writer
from .schemas import Label, _Rows

__all__ = ["label_router", "MAX_POOL_ROWS", "wilson_interval"]

MAX_POOL_ROWS = 100_000  # rows one model's pool may hold
_STRATEGIES = (*STRATEGIES, *(f"pcb:{s}" for s in STRATEGIES))

label_router = APIRouter(tags=["label"])


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (``(0, 1)`` for ``n = 0``).

    >>> [round(v, 3) for v in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return float(max(0.0, mid - half)), float(min(1.0, mid + half))


@dataclass
class _Pool:
    """One model's unlabelled pool and the prequential score of the answers given so far."""

    texts: list[str | None] = field(default_factory=list)
    X: np.ndarray | None = None
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    answers: dict[int, Any] = field(default_factory=dict)  # pool id -> label given
    hits: list[bool] = field(default_factory=list)  # prediction before learning == label

    def accuracy(self) -> dict[str, Any]:
        n, k = len(self.hits), int(sum(self.hits))
        lo, hi = wilson_interval(k, n)
        last = self.hits[-20:]
        return {"n": n, "correct": k, "estimate": k / n if n else None, "ci95": [lo, hi],
                "last20": (sum(last) / len(last)) if last else None}  # fmt: skip


class _Pools:
    def __init__(self) -> None:
        self.by_model: dict[str, _Pool] = {}
        self.lock = threading.Lock()


def _pools(request: Request) -> _Pools:
    found = getattr(request.app.state, "label_pools", None)
    if found is None:
        found = request.app.state.label_pools = _Pools()
    return found  # type: ignore[no-any-return]


class PoolRequest(_Rows):
    """Unlabelled rows to add to a model's pool (texts, or embeddings of the head's width)."""


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pool_id: int = Field(ge=0, description="The row's id in the pool (from /next).")
    label: Label = Field(description="The class; a new one is allowed.")


Pools = Annotated[_Pools, Depends(_pools)]


def _pool_of(pools: _Pools, name: str) -> _Pool:
    pool = pools.by_model.get(name)
    if pool is None or pool.X is None or pool.X.shape[0] == 0:
        raise NotFound(
            f"Model '{name}' has no pool to label; upload rows first.",
            f"POST texts to /label/v1/{name}/pool (with the bearer token).",
        )
    return pool


def _proba(state: Any, X: np.ndarray) -> np.ndarray:
    logits = np.asarray(state.head.logits(X), dtype=np.float64)
    return softmax(logits / float(state.temperature or 1.0), axis=1)


def _coerce(label: Any, classes: np.ndarray) -> Any:
    """A typed label as the model's label type (the page's text box always sends text)."""
    if classes.dtype.kind in "iu" and isinstance(label, str):
        try:
            return int(label.strip())
        except ValueError:
            raise Invalid(f"This model has integer labels; got {label!r}.", "Type a whole number.") from None
    return label.strip() if isinstance(label, str) else label


# ---------------------------------------------------------------- page
@label_router.get("/label", response_class=HTMLResponse, include_in_schema=False)
def label_page() -> HTMLResponse:
    """The labelling page (plain HTML and a little JavaScript, nothing fetched from elsewhere)."""
    page = resources.files("headwise.service").joinpath("static/label.html").read_text("utf-8")
    return HTMLResponse(page)


# ---------------------------------------------------------------- pool
@label_router.post("/label/v1/{name}/pool", status_code=201)
async def upload_pool(
    name: str, body: PoolRequest, request: Request, pools: Pools,
    service: Annotated[Any, Depends(require_writer)],
) -> dict[str, Any]:  # fmt: skip
    """Append unlabelled rows to the model's pool (texts are embedded by its encoder)."""
    model = service.model(name)
    if body.n_rows > service.settings.max_rows:
        raise TooLarge(f"The request holds {body.n_rows} rows; this service takes at most "
                       f"{service.settings.max_rows} per request: upload the pool in parts.")  # fmt: skip
    check_rows(service, body.texts, body.n_rows)  # the text checks of /predict and /examples
    X = np.asarray(await request_embeddings(service, model, body.texts, body.embeddings), dtype=np.float32)
    texts: list[str | None] = list(body.texts) if body.texts is not None else [None] * X.shape[0]
    if X.ndim != 2 or X.shape[1] != model.n_features or not np.all(np.isfinite(X)):
        raise Invalid(f"Pool rows must be finite with {model.n_features} features; got {X.shape}.",
                      "Send texts, or embeddings from the model's encoder.")  # fmt: skip
    with pools.lock:
        pool = pools.by_model.setdefault(name, _Pool())
        n_old = 0 if pool.X is None else pool.X.shape[0]
        if n_old + X.shape[0] > MAX_POOL_ROWS:
            raise TooLarge(f"A pool holds at most {MAX_POOL_ROWS} rows; this would make "
                           f"{n_old + X.shape[0]}.")  # fmt: skip
        pool.X = X if pool.X is None else np.vstack([pool.X, X])
        pool.texts.extend(texts)
        pool.labelled = np.r_[pool.labelled, np.zeros(X.shape[0], dtype=bool)]
        size, left = pool.X.shape[0], int((~pool.labelled).sum())
    return {"model": name, "pool_size": size, "unlabelled": left}


@label_router.delete("/label/v1/{name}/pool")
def clear_pool(
    name: str, pools: Pools, service: Annotated[Any, Depends(require_writer)]
) -> dict[str, Any]:
    """Forget the pool and the running accuracy (the labels already written stay learnt)."""
    service.model(name)
    with pools.lock:
        pools.by_model.pop(name, None)
    return {"model": name, "pool_size": 0, "unlabelled": 0}


# ---------------------------------------------------------------- next rows and answers
@label_router.get("/label/v1/{name}/next")
def next_rows(
    name: str,
    pools: Pools,
    service: Annotated[Any, Depends(get_service)],
    strategy: Annotated[str, Query(description="An active-selection strategy.")] = "entropy",
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    seed: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """The ``k`` unlabelled pool rows ``strategy`` picks next, with the model's predictions."""
    if strategy not in _STRATEGIES:
        raise Invalid(f"Unknown strategy '{strategy}'.", f"Use one of: {', '.join(_STRATEGIES)}.")
    model = service.model(name)
    state = model.state
    with pools.lock:
        pool = pools.by_model.get(name) or _Pool()
        X, done = pool.X, pool.labelled.copy()
        answers = dict(pool.answers)
    classes = np.asarray(state.head.classes_)
    left = int((~done).sum())
    rows: list[dict[str, Any]] = []
    if left:
        assert X is not None
        P = _proba(state, X)
        lab_ids = np.flatnonzero(done)
        codes = np.array([int(np.searchsorted(classes, answers[i])) for i in lab_ids
                          if answers.get(i) in set(classes.tolist())], dtype=np.int64)  # fmt: skip
        picks = select_batch(strategy, min(k, left), X=X, proba=P, labeled=done,
                             labeled_codes=codes if codes.size == lab_ids.size else None,
                             seed=np.random.default_rng([seed, state.version]))  # fmt: skip
        for i in picks.tolist():
            order = np.argsort(-P[i])[:3]
            rows.append({"pool_id": i, "text": pool.texts[i],
                         "label": classes[order[0]].item(), "probability": float(P[i, order[0]]),
                         "top": [{"label": classes[j].item(), "probability": float(P[i, j])}
                                 for j in order]})  # fmt: skip
    return {"model": name, "version": state.version, "classes": [c.item() for c in classes],
            "writable": model.why_not_incremental is None, "strategy": strategy,
            "pool_size": int(done.size), "unlabelled": left, "accuracy": pool.accuracy(),
            "max_rows": int(service.settings.max_rows), "rows": rows}  # fmt: skip


@label_router.post("/label/v1/{name}/answer", status_code=201)
async def answer(
    name: str, body: AnswerRequest, pools: Pools,
    service: Annotated[Any, Depends(require_writer)],
) -> dict[str, Any]:  # fmt: skip
    """Label one pool row: score the current model on it, then learn it (logged, versioned)."""
    model = service.model(name)
    model.check_writable()
    pool = _pool_of(pools, name)
    label = _coerce(body.label, np.asarray(model.state.head.classes_))
    if isinstance(label, str) and not label:
        raise Invalid("The label is empty; type the row's class.")
    with pools.lock:
        assert pool.X is not None
        if body.pool_id >= pool.X.shape[0]:
            raise NotFound(f"No row {body.pool_id} in the pool of '{name}' ({pool.X.shape[0]} rows).")
        if pool.labelled[body.pool_id]:
            raise Conflict(f"Pool row {body.pool_id} is labelled already.", "Ask /next for new rows.")
        pool.labelled[body.pool_id] = True  # claimed: a second click cannot write it twice
    x = pool.X[body.pool_id : body.pool_id + 1].astype(np.float64)
    state = model.state
    predicted = np.asarray(state.head.classes_)[int(np.argmax(_proba(state, x)[0]))]
    text = pool.texts[body.pool_id]
    try:
        version, ids, roles = await asyncio.to_thread(
            service.locked_write, model.add, x, [label], None if text is None else [text], "auto"
        )
    except BaseException:
        with pools.lock:
            pool.labelled[body.pool_id] = False
        raise
    service.metrics.write(name, "add")
    with pools.lock:
        pool.answers[body.pool_id] = label
        pool.hits.append(bool(predicted == label))
        acc = pool.accuracy()
    return {"model": name, "version": version, "ids": ids, "roles": roles,
            "predicted_before": predicted.item() if hasattr(predicted, "item") else predicted,
            "accuracy": acc}  # fmt: skip
