"""Requests answered together (one encoder pass, one head pass) get what they get one by one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from service_helpers import TOKEN, toy_texts

from headwise.service import ServeSettings, ServiceState, create_app
from headwise.service._coalesce import PredictCoalescer
from headwise.service._predict import PredictJob, predict_many, predict_rows


def _same(a: Any, b: Any) -> None:
    """Equal, floats up to rounding (a stacked matrix product may round differently)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def _bodies() -> list[dict[str, Any]]:
    texts, _ = toy_texts(4, seed=3)
    texts = [t * (1 + i % 4) for i, t in enumerate(texts)]  # mixed lengths
    sizes = [1, 3, 2, 1, 4, 1]
    out, start = [], 0
    for i, k in enumerate(sizes):
        body: dict[str, Any] = {"texts": texts[start : start + k], "top_k": 1 + i % 3}
        if i % 2:
            body["alpha"] = [0.05, 0.2, 0.4][i % 3]
        if i == 4:
            body["include_logits"] = True
        out.append(body)
        start += k
    return out


def test_concurrent_mixed_requests_share_passes_and_match_one_by_one(models_dir: Path) -> None:
    bodies = _bodies()
    n_texts = sum(len(b["texts"]) for b in bodies)
    # The batch closes when it holds every text (max_batch), never on the (long) timer.
    batched = ServeSettings(models_dir, token=TOKEN, max_batch=n_texts, max_wait_ms=60_000)
    single = ServeSettings(models_dir, token=TOKEN, max_wait_ms=0)  # every request on its own
    url = "/v1/models/intents/predict"

    async def run(settings: ServeSettings, concurrent: bool) -> tuple[list[Any], str]:
        app = create_app(settings, state=ServiceState.open(settings))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                if concurrent:
                    replies = list(await asyncio.gather(*(c.post(url, json=b) for b in bodies)))
                else:
                    replies = [await c.post(url, json=b) for b in bodies]
                return replies, (await c.get("/metrics")).text

    async def main() -> tuple[list[Any], list[Any], str, str]:
        together, m1 = await run(batched, True)
        alone, m2 = await run(single, False)
        return together, alone, m1, m2

    together, alone, m1, m2 = asyncio.run(main())
    assert all(r.status_code == 200 for r in [*together, *alone])
    for a, b in zip(together, alone, strict=True):
        _same(a.json(), b.json())
    # the concurrent requests: one encoder pass holding every text, one head pass for all rows
    assert _metric(m1, "headwise_encoder_batch_rows_count") == 1
    assert _metric(m1, "headwise_encoder_batch_rows_sum") == n_texts
    assert _metric(m1, "headwise_predict_batch_rows_count") == 1
    assert _metric(m1, "headwise_predict_batch_rows_sum") == n_texts
    assert _metric(m2, "headwise_encoder_batch_rows_count") == len(bodies)
    assert _metric(m2, "headwise_predict_batch_rows_count") == len(bodies)
    logits = together[4].json()["predictions"][0]["logits"]
    assert len(logits) == 3 and "logits" not in together[0].json()["predictions"][0]


@pytest.fixture
def state(settings: ServeSettings) -> Any:
    return ServiceState.open(settings).models["intents"].state


def test_predict_many_equals_predict_rows_per_job(state: Any, toy: dict[str, Any]) -> None:
    X = toy["X"]
    jobs = [PredictJob(X[:1], 0.1, 1), PredictJob(X[10:13], 0.3, 3, True), PredictJob(X[40:42], 0.05, 2)]
    together = predict_many(state, jobs, method="aps", ood_method="msp")
    for job, rows in zip(jobs, together, strict=True):
        alone = predict_rows(state, job.X, alpha=job.alpha, top_k=job.top_k, method="aps",
                             ood_method="msp", include_logits=job.include_logits)  # fmt: skip
        _same(rows, alone)
    assert predict_many(state, [], method="lac", ood_method="energy") == []
    # more rows in the set at a smaller alpha, never fewer
    wide = predict_many(state, [PredictJob(X, 0.01, 1)], method="lac", ood_method="energy")[0]
    narrow = predict_many(state, [PredictJob(X, 0.4, 1)], method="lac", ood_method="energy")[0]
    for w, n in zip(wide, narrow, strict=True):
        assert set(n["prediction_set"]) <= set(w["prediction_set"])


def test_coalescer_groups_by_state_and_isolates_a_failing_request(
    state: Any, toy: dict[str, Any]
) -> None:
    X = toy["X"]
    passes: list[int] = []

    async def main() -> list[Any]:
        co = PredictCoalescer(on_batch=passes.append)
        other = type("Other", (), {"head": state.head, "temperature": 2.0, "conformal": None,
                                   "thresholds": staticmethod(lambda a: None)})()  # fmt: skip
        calls = [
            co.predict(state, PredictJob(X[:2], 0.1, 2), method="lac", ood_method="energy"),
            co.predict(other, PredictJob(X[2:3], 0.1, 2), method="lac", ood_method="energy"),
            co.predict(state, PredictJob(X[3:6], 0.2, 2), method="lac", ood_method="energy"),
            co.predict(state, PredictJob(np.ones((1, 5)), 0.1, 2), method="lac", ood_method="energy"),
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    out = asyncio.run(main())
    assert [len(r) for r in out[:3]] == [2, 1, 3]
    assert isinstance(out[3], Exception) and "features" in str(out[3])
    assert out[1][0]["prediction_set"] is None  # the uncalibrated state's rows stay its own
    assert out[0][0]["prediction_set"] is not None
    _same(out[2], predict_rows(state, X[3:6], alpha=0.2, top_k=2, method="lac", ood_method="energy"))
    assert passes == [1]  # the state's group failed as a whole and was answered one by one
