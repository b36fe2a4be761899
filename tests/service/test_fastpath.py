"""The predict fast path answers exactly as the FastAPI route does, only sooner."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from headwise.service import ServeSettings, create_app
from headwise.service._fastpath import PredictFastPath, parse_predict
from headwise.service.schemas import PredictRequest

PROBE = ["card declined at the atm", "hotel booking for my trip", "cheese pizza dinner"]
URL = "/v1/models/intents/predict"

# Bodies the fast path takes, and bodies it must leave to the route (each with the route's answer).
BODIES: list[Any] = [
    {"texts": PROBE},
    {"texts": PROBE, "alpha": 0.5, "top_k": 2, "include_logits": True},
    {"texts": PROBE[:1], "alpha": None, "include_logits": False},
    {"embeddings": [[0.25] * 32, [1] * 32]},
    {"embeddings": [[0.1] * 5]},  # 422: wrong width (raised while answering)
    {"texts": ["x" * 201]},  # 422: text too long
    {"texts": ["card"] * 51},  # 413: too many rows
    {"texts": ["  "]},  # 422: blank text
    {"texts": PROBE, "alpha": 1.5},
    {"texts": PROBE, "alpha": "0.5"},  # coerced by pydantic: left to the route
    {"texts": PROBE, "top_k": "2"},
    {"texts": PROBE, "top_k": 2.0},
    {"texts": PROBE, "top_k": 0},
    {"texts": PROBE, "include_logits": 1},
    {"texts": PROBE, "include_logits": "true"},
    {"texts": PROBE, "alpha": True},
    {"texts": PROBE, "surprise": 1},
    {"texts": PROBE, "embeddings": [[0.0] * 32]},
    {"texts": []},
    {"texts": [1, 2]},
    {"texts": "card"},
    {"embeddings": [[True] * 32]},
    {"embeddings": [["0.5"] * 32]},
    {},
    [PROBE],
    "card",
]


def _answers(client: TestClient, model: str = "intents") -> list[tuple[int, Any]]:
    out = []
    for body in BODIES:
        r = client.post(f"/v1/models/{model}/predict", content=json.dumps(body),
                        headers={"Content-Type": "application/json"})  # fmt: skip
        out.append((r.status_code, r.json()))
    for raw in (b"{not json", b""):
        r = client.post(URL, content=raw, headers={"Content-Type": "application/json"})
        out.append((r.status_code, r.json()))
    return out


def test_same_answers_with_and_without_the_fast_path(
    client: TestClient, settings: ServeSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    taken: list[str] = []
    real = PredictFastPath.model_name

    def spy(self: PredictFastPath, scope: Any) -> str | None:
        name = real(self, scope)
        if name is not None:
            taken.append(name)
        return name

    monkeypatch.setattr(PredictFastPath, "model_name", spy)
    fast = _answers(client) + _answers(client, "nope") + _answers(client, "plain")
    assert len(taken) == 3 * (len(BODIES) + 2)
    monkeypatch.setattr(PredictFastPath, "model_name", lambda self, scope: None)
    other = replace(settings, state_dir=tmp_path / "second-state")  # one writer per state folder
    with TestClient(create_app(other)) as full_client:
        full = _answers(full_client) + _answers(full_client, "nope") + _answers(full_client, "plain")
    assert [s for s, _ in fast] == [s for s, _ in full]
    assert fast == full
    statuses = {s for s, _ in fast}
    assert {200, 400, 404, 409, 413, 422} <= statuses


def test_fast_path_keeps_metrics_log_line_and_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="headwise.serve"):
        r = client.post(URL, json={"texts": PROBE})
        client.post("/v1/models/nope/predict", json={"texts": PROBE})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    lines = [json.loads(x.getMessage()) for x in caplog.records if x.name == "headwise.serve"]
    assert [(x["route"], x["status"]) for x in lines] == [
        ("/v1/models/{name}/predict", 200), ("/v1/models/{name}/predict", 404)
    ]  # fmt: skip
    assert lines[0]["model"] == "intents" and lines[0]["rows"] == 3
    assert r.headers["x-request-id"] == lines[0]["request_id"] != lines[1]["request_id"]
    text = client.get("/metrics").text
    assert 'headwise_requests_total{route="/v1/models/{name}/predict",method="POST",status="200"} 1' in text
    assert 'headwise_requests_total{route="/v1/models/{name}/predict",method="POST",status="404"} 1' in text


def test_with_cors_every_request_goes_through_fastapi(settings: ServeSettings) -> None:
    cors = replace(settings, cors_origins=("http://example.org",))
    with TestClient(create_app(cors)) as c:
        r = c.post(URL, json={"texts": PROBE}, headers={"Origin": "http://example.org"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://example.org"


_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 1100), st.floats(allow_nan=True), st.text(max_size=3),
    st.lists(st.text(max_size=4), max_size=3),
    st.lists(st.lists(st.one_of(st.floats(), st.integers(), st.booleans()), max_size=3), max_size=2),
)  # fmt: skip
_bodies = st.dictionaries(
    st.sampled_from(["texts", "embeddings", "alpha", "top_k", "include_logits", "other"]), _values
)


@settings(max_examples=300, deadline=None)
@given(_bodies)
def test_fast_parse_takes_only_what_the_schema_accepts_unchanged(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    fields = parse_predict(raw)
    if fields is None:
        return
    try:
        model = PredictRequest.model_validate(json.loads(raw))  # as FastAPI does
    except ValidationError as exc:  # pragma: no cover - the failure this test looks for
        raise AssertionError(f"fast path took a body the schema refuses: {body} ({exc})") from None
    assert (fields["texts"], fields["alpha"], fields["top_k"], fields["include_logits"]) == (
        model.texts, model.alpha, model.top_k, model.include_logits
    )  # fmt: skip
    if model.embeddings is not None:
        assert len(fields["embeddings"]) == len(model.embeddings)
        for got, want in zip(fields["embeddings"], model.embeddings, strict=True):
            assert np.array_equal(np.array(got, dtype=float), np.array(want), equal_nan=True)
    # and no silent coercion: the values are the very ones sent, of the same types
    for key in ("alpha", "top_k", "include_logits"):
        if key in body:
            assert type(fields[key]) is type(body[key])
