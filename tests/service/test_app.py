"""Every endpoint and every error status, in process (TestClient, `hash` encoder)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from service_helpers import AUTH, TOKEN, refit_logits

from headwise.encoders import get_encoder
from headwise.exceptions import InputError
from headwise.heads import NCMHead
from headwise.service import ServeSettings, create_app

PROBE = ["card declined at the atm", "hotel booking for my trip", "cheese pizza dinner"]


def _logits(client: TestClient, texts: list[str], model: str = "intents") -> np.ndarray:
    r = client.post(f"/v1/models/{model}/predict", json={"texts": texts, "include_logits": True})
    assert r.status_code == 200, r.text
    return np.array([[np.nan if v is None else v for v in p["logits"]] for p in r.json()["predictions"]])


def _error(r: Any, status: int) -> dict[str, str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "hint"} and body["error"] and body["hint"]
    return body


# ---------------------------------------------------------------- health, models, metrics
def test_health_and_readiness(client: TestClient, settings: ServeSettings) -> None:
    assert client.get("/health/live").json() == {"status": "live"}
    assert client.get("/health/ready").json()["models"] == ["frozen", "intents", "plain"]
    cold = TestClient(create_app(settings))  # lifespan not run: nothing loaded yet
    _error(cold.get("/health/ready"), 503)
    _error(cold.get("/v1/models"), 503)
    assert cold.get("/health/live").status_code == 200


def test_models_list_and_describe(client: TestClient) -> None:
    listed = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in listed] == ["frozen", "intents", "plain"]
    info = client.get("/v1/models/intents").json()
    assert info["classes"] == ["card", "food", "travel"] and info["head"] == "lda"
    assert info["encoder"] == "hash" and info["encoder_key"]["id"] == "hash"
    assert info["calibration"]["n_calibration"] == 18 and info["conformal_method"] == "lac"
    assert info["version"] == 0 and info["learns_online"] and info["writable"]
    frozen = client.get("/v1/models/frozen").json()
    assert not frozen["learns_online"] and "sufficient statistics" in frozen["why_not"]
    assert client.get("/v1/models/plain").json()["calibration"] is None
    body = _error(client.get("/v1/models/nope"), 404)
    assert "nope" in body["error"] and "intents" in body["error"]
    _error(client.get("/v1/nowhere"), 404)
    _error(client.delete("/v1/models"), 405)


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/models/{name}/predict" in paths and "/v1/models/{name}/rollback" in paths


def test_metrics_prometheus_text(client: TestClient) -> None:
    client.post("/v1/models/intents/predict", json={"texts": PROBE})
    client.get("/v1/models/nope")
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'headwise_requests_total{route="/v1/models/{name}/predict",method="POST",status="200"} 1' in text
    assert 'headwise_requests_total{route="/v1/models/{name}",method="GET",status="404"} 1' in text
    assert 'headwise_request_duration_seconds_bucket{route="/v1/models/{name}/predict",le="+Inf"} 1' in text
    assert "headwise_encoder_batch_rows_count 1" in text
    assert 'headwise_model_version{model="intents"} 0' in text


def test_one_json_log_line_per_request(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="headwise.serve"):
        client.post("/v1/models/intents/predict", json={"texts": PROBE}, headers={"X-Request-Id": "abc"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "headwise.serve"]
    assert len(lines) == 1
    line = lines[0]
    assert line["route"] == "/v1/models/{name}/predict" and line["status"] == 200
    assert line["request_id"] == "abc" and line["model"] == "intents" and line["rows"] == 3
    assert line["duration_ms"] >= 0


# ---------------------------------------------------------------- predict and embed
def test_predict_texts_and_embeddings_agree(client: TestClient) -> None:
    r = client.post("/v1/models/intents/predict", json={"texts": PROBE, "top_k": 2})
    body = r.json()
    assert body["version"] == 0 and body["alpha"] == 0.1
    labels = [p["label"] for p in body["predictions"]]
    assert labels == ["card", "travel", "food"]
    for p in body["predictions"]:
        assert len(p["top_k"]) == 2 and p["top_k"][0]["label"] == p["label"]
        assert p["label"] in p["prediction_set"] and isinstance(p["ood"], bool)
    X = get_encoder("hash").encode(PROBE).tolist()
    same = client.post("/v1/models/intents/predict", json={"embeddings": X, "top_k": 2}).json()
    assert same["predictions"] == body["predictions"]
    wide = client.post("/v1/models/intents/predict", json={"texts": PROBE, "alpha": 0.5}).json()
    assert all(len(p["prediction_set"]) <= 3 for p in wide["predictions"])


def test_curl_default_content_type_is_read_as_json(client: TestClient) -> None:
    body = b'{"texts": ["my card was declined"], "alpha": 0.1}'
    for headers in ({"Content-Type": "application/x-www-form-urlencoded"}, {}):
        r = client.post("/v1/models/intents/predict", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] == "card"


def test_predict_without_calibration(client: TestClient) -> None:
    body = client.post("/v1/models/plain/predict", json={"texts": PROBE}).json()
    assert all(p["prediction_set"] is None and p["ood"] is None for p in body["predictions"])
    err = _error(client.post("/v1/models/plain/predict", json={"texts": PROBE, "alpha": 0.1}), 409)
    assert "calibrat" in err["error"]


def test_predict_errors(client: TestClient) -> None:
    url = "/v1/models/intents/predict"
    err = _error(client.post(url, json={"embeddings": [[0.1] * 5]}), 422)
    assert "5 features" in err["error"] and "32" in err["error"]
    _error(client.post(url, json={"texts": PROBE, "embeddings": [[0.0] * 32]}), 422)
    _error(client.post(url, json={}), 422)
    _error(client.post(url, json={"texts": []}), 422)
    _error(client.post(url, json={"texts": ["  "]}), 422)
    _error(client.post(url, json={"texts": PROBE, "alpha": 1.5}), 422)
    _error(client.post(url, json={"texts": PROBE, "surprise": 1}), 422)
    _error(client.post(url, content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    _error(client.post(url, json={"texts": ["x" * 201]}), 422)  # max_text_chars=200
    _error(client.post(url, json={"texts": ["card"] * 51}), 413)  # max_rows=50
    big = json.dumps({"embeddings": [[0.123456789] * 32] * 50, "pad": "x" * 200_000})
    _error(client.post(url, content=big, headers={"Content-Type": "application/json"}), 413)
    _error(client.post("/v1/models/nope/predict", json={"texts": PROBE}), 404)


@pytest.mark.parametrize(("url", "body", "found"), [
    ("/v1/models/intents/predict", '{"texts": ["cut \\ud83d"]}', "unpaired surrogate (U+D83D"),
    ("/v1/embed", '{"texts": ["\\udc00"]}', "unpaired surrogate (U+DC00"),
    ("/v1/models/intents/examples", '{"texts": ["card"], "labels": ["x\\ud800"]}',
     "label 0 holds an unpaired surrogate"),
    ("/v1/models/intents/examples", '{"texts": ["card"], "labels": [" "]}', "label 0 is empty"),
])
def test_bad_text_and_labels_are_422_not_500(client: TestClient, url: str, body: str, found: str) -> None:
    """A lone surrogate (valid JSON, not valid Unicode) used to fail in the encoder with a 500;
    a blank label used to be learned as the class ''."""
    r = client.post(url, content=body, headers={"Content-Type": "application/json", **AUTH})
    err = _error(r, 422)
    assert found in err["error"] and ".." not in err["error"]


def test_body_limit_without_content_length(client: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(30):
            yield b" " * 10_000

    r = client.post("/v1/models/intents/predict", content=chunks(),
                    headers={"Content-Type": "application/json"})  # fmt: skip
    _error(r, 413)


def test_embed(client: TestClient) -> None:
    r = client.post("/v1/embed", json={"texts": PROBE})
    body = r.json()
    assert body["encoder"] == "hash" and body["dim"] == 32
    np.testing.assert_allclose(body["embeddings"], get_encoder("hash").encode(PROBE), rtol=1e-6)
    assert client.post("/v1/embed", json={"texts": PROBE, "encoder": "hash"}).status_code == 200
    _error(client.post("/v1/embed", json={"texts": PROBE, "encoder": "minilm"}), 404)
    _error(client.post("/v1/embed", json={"texts": []}), 422)


def test_encoder_in_its_own_process(models_dir: Path) -> None:
    s = ServeSettings(models_dir, token=TOKEN, encoder_process=True)
    with TestClient(create_app(s)) as c:
        body = c.post("/v1/embed", json={"texts": PROBE}).json()
        np.testing.assert_allclose(body["embeddings"], get_encoder("hash").encode(PROBE), rtol=1e-6)
        labels = [p["label"] for p in c.post("/v1/models/intents/predict", json={"texts": PROBE}).json()["predictions"]]
        assert labels == ["card", "travel", "food"]
        pool = c.app.state.service.encoders[next(iter(c.app.state.service.encoders))].pool
        assert pool is not None
    assert c.app.state.service is None  # stopped; the worker pool was shut down


def test_encoder_queue_full_is_503(models_dir: Path) -> None:
    s = ServeSettings(models_dir, token=TOKEN, max_queue=2)
    with TestClient(create_app(s)) as c:
        err = _error(c.post("/v1/models/intents/predict", json={"texts": PROBE}), 503)
        assert "waiting" in err["error"]


def test_encoder_timeout_is_503(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from headwise.encoders import HashEncoder

    release = threading.Event()
    original = HashEncoder.encode

    def stuck(self: Any, texts: Any, **kw: Any) -> Any:
        release.wait(10)
        return original(self, texts, **kw)

    s = ServeSettings(models_dir, token=TOKEN, timeout_s=0.2)
    with TestClient(create_app(s)) as c:  # started (it times the encoder) before it gets stuck
        monkeypatch.setattr(HashEncoder, "encode", stuck)
        err = _error(c.post("/v1/models/intents/predict", json={"texts": PROBE}), 503)
        assert "did not answer" in err["error"]
        release.set()


# ---------------------------------------------------------------- auth, read-only, CORS
def test_writes_need_the_token(client: TestClient) -> None:
    url = "/v1/models/intents/examples"
    body = {"texts": ["card swallowed"], "labels": ["card"]}
    r = client.post(url, json=body)
    _error(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    _error(client.post(url, json=body, headers={"Authorization": "Basic abc"}), 401)
    _error(client.post(url, json=body, headers={"Authorization": "Bearer wrong"}), 403)
    _error(client.delete("/v1/models/intents/examples/1", headers={"Authorization": "Bearer x"}), 403)
    _error(client.post("/v1/models/intents/rollback", json={"version": 0}), 401)
    assert client.post(url, json=body, headers=AUTH).status_code == 201


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_batch", 0), ("encode_workers", 0), ("encode_workers", -1), ("encode_workers", 1.5),
     ("encode_workers", True), ("max_rows", 0)],
)  # fmt: skip
def test_bad_settings_are_one_line(models_dir: Path, option: str, value: object) -> None:
    with pytest.raises(InputError, match=f"^{option} must be a positive integer. Got {value!r} instead.$"):
        ServeSettings(models_dir, read_only=True, **{option: value})


def test_read_only_and_missing_token(models_dir: Path) -> None:
    with pytest.raises(InputError, match="bearer token"):
        ServeSettings(models_dir)
    with TestClient(create_app(ServeSettings(models_dir, read_only=True))) as c:
        assert c.post("/v1/models/intents/predict", json={"texts": PROBE}).status_code == 200
        err = _error(c.post("/v1/models/intents/examples", json={"texts": ["a"], "labels": ["card"]},
                            headers=AUTH), 403)  # fmt: skip
        assert "read-only" in err["error"]
        assert c.get("/v1/models/intents").json()["writable"] is False
        assert c.get("/v1/models/intents/versions").json()["current"] == 0


def test_no_cors_unless_asked(client: TestClient, models_dir: Path) -> None:
    origin = {"Origin": "https://example.org"}
    assert "access-control-allow-origin" not in client.get("/v1/models", headers=origin).headers
    s = ServeSettings(models_dir, token=TOKEN, cors_origins=("https://example.org",),
                      state_dir=models_dir / "other-state")  # one writer per state folder
    with TestClient(create_app(s)) as c:
        r = c.get("/v1/models", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://example.org"


# ---------------------------------------------------------------- learning, unlearning, versions
def test_examples_learn_exactly_with_new_classes(client: TestClient, toy: dict[str, Any]) -> None:
    texts = [f"my card got eaten by the machine {i}" for i in range(6)]
    r = client.post("/v1/models/intents/examples", json={"texts": texts, "labels": ["card_swallowed"] * 6},
                    headers=AUTH)  # fmt: skip
    assert r.status_code == 201
    body = r.json()
    assert body["version"] == 1 and len(body["ids"]) == 6
    assert body["roles"] == ["train"] * 4 + ["calibration", "train"]  # every 5th (calib_frac 0.2)
    info = client.get("/v1/models/intents").json()
    assert "card_swallowed" in info["classes"] and info["examples"] == {"train": 5, "calibration": 1}
    assert info["calibration"]["n_calibration"] == 19
    X = get_encoder("hash").encode(texts)
    train = [(X[i].astype(np.float64), "card_swallowed") for i in range(6) if body["roles"][i] == "train"]
    probe = get_encoder("hash").encode(PROBE + texts[:1])
    classes, expected = refit_logits(toy["X_fit"], toy["y_fit"], train, probe)
    assert classes == info["classes"]
    np.testing.assert_allclose(_logits(client, PROBE + texts[:1]), expected, atol=1e-8)
    pred = client.post("/v1/models/intents/predict", json={"texts": texts[:1]}).json()["predictions"][0]
    assert pred["label"] == "card_swallowed" and "card_swallowed" in pred["prediction_set"]
    listed = client.get("/v1/models/intents/examples", params={"limit": 4}).json()
    assert [e["id"] for e in listed["examples"]] == body["ids"][:4] and listed["next_after"] == body["ids"][3]
    rest = client.get("/v1/models/intents/examples", params={"after": listed["next_after"]}).json()
    assert len(rest["examples"]) == 2 and rest["next_after"] is None
    assert rest["examples"][0]["text"] == texts[4] and rest["examples"][0]["embedding"] is None
    full = client.get("/v1/models/intents/examples", params={"embeddings": True}).json()["examples"]
    np.testing.assert_array_equal(np.array([e["embedding"] for e in full]), X.astype(np.float64))


def test_examples_with_embeddings_and_explicit_roles(client: TestClient) -> None:
    X = get_encoder("hash").encode(["pizza pasta dinner"]).tolist()
    r = client.post("/v1/models/intents/examples", json={"embeddings": X, "labels": ["food"], "role": "calibration"},
                    headers=AUTH)  # fmt: skip
    assert r.json()["roles"] == ["calibration"]
    info = client.get("/v1/models/intents").json()
    assert info["examples"] == {"train": 0, "calibration": 1}
    # a calibration row does not touch the head
    assert client.get("/v1/models/intents/versions").json()["versions"][-1]["n_train"] == 0


def test_examples_errors(client: TestClient) -> None:
    url = "/v1/models/intents/examples"
    err = _error(client.post("/v1/models/frozen/examples", json={"texts": ["a"], "labels": ["card"]},
                             headers=AUTH), 409)  # fmt: skip
    assert "LogisticHead" in err["error"]
    _error(client.post(url, json={"texts": ["a", "b"], "labels": ["card"]}, headers=AUTH), 422)
    err = _error(client.post(url, json={"texts": ["a"], "labels": [3]}, headers=AUTH), 422)
    assert "text labels" in err["error"]
    _error(client.post(url, json={"texts": ["a"], "labels": [1.5]}, headers=AUTH), 422)
    _error(client.post(url, json={"texts": ["a"], "labels": ["card"], "role": "x"}, headers=AUTH), 422)
    _error(client.post(url, json={"embeddings": [[0.0] * 3], "labels": ["card"]}, headers=AUTH), 422)
    _error(client.post(url, json={"texts": ["a"] * 51, "labels": ["card"] * 51}, headers=AUTH), 413)
    _error(client.post("/v1/models/nope/examples", json={"texts": ["a"], "labels": ["x"]}, headers=AUTH), 404)
    assert client.get("/v1/models/intents").json()["version"] == 0  # nothing was written


def test_delete_equals_refit_without_the_row(client: TestClient, toy: dict[str, Any]) -> None:
    enc = get_encoder("hash")
    texts = ["lost luggage at the airport", "train ticket refund", "soup recipe please"]
    labels = ["travel", "travel", "food"]
    ids = client.post("/v1/models/intents/examples", json={"texts": texts, "labels": labels, "role": "train"},
                      headers=AUTH).json()["ids"]  # fmt: skip
    r = client.delete(f"/v1/models/intents/examples/{ids[1]}", headers=AUTH)
    assert r.json() == {"model": "intents", "version": 2, "deleted": ids[1], "purged": False}
    X = enc.encode(texts).astype(np.float64)
    probe = enc.encode(PROBE)
    _, expected = refit_logits(toy["X_fit"], toy["y_fit"], [(X[0], labels[0]), (X[2], labels[2])], probe)
    np.testing.assert_allclose(_logits(client, PROBE), expected, atol=1e-8)
    err = _error(client.delete(f"/v1/models/intents/examples/{ids[1]}", headers=AUTH), 409)
    assert "already deleted" in err["error"]
    _error(client.delete("/v1/models/intents/examples/999", headers=AUTH), 404)
    _error(client.delete(f"/v1/models/plain/examples/{ids[0]}", headers=AUTH), 404)
    _error(client.delete("/v1/models/intents/examples/abc", headers=AUTH), 422)
    _error(client.delete("/v1/models/frozen/examples/1", headers=AUTH), 409)
    assert [e["id"] for e in client.get("/v1/models/intents/examples").json()["examples"]] == [ids[0], ids[2]]


def test_delete_of_a_whole_new_class_removes_it(client: TestClient) -> None:
    ids = client.post("/v1/models/intents/examples", json={"texts": ["crypto wallet"], "labels": ["crypto"]},
                      headers=AUTH).json()["ids"]  # fmt: skip
    assert "crypto" in client.get("/v1/models/intents").json()["classes"]
    client.delete(f"/v1/models/intents/examples/{ids[0]}", headers=AUTH)
    assert client.get("/v1/models/intents").json()["classes"] == ["card", "food", "travel"]


def test_versions_and_rollback(client: TestClient) -> None:
    base = _logits(client, PROBE)
    add = {"texts": ["flight delayed again", "bread and soup"], "labels": ["travel", "food"], "role": "train"}
    ids = client.post("/v1/models/intents/examples", json=add, headers=AUTH).json()["ids"]
    after_add = _logits(client, PROBE)
    client.delete(f"/v1/models/intents/examples/{ids[0]}", headers=AUTH)
    r = client.post("/v1/models/intents/rollback", json={"version": 1}, headers=AUTH)
    body = r.json()
    assert body["current"] == 3
    assert [v["action"] for v in body["versions"]] == ["base", "add", "delete", "rollback"]
    assert body["versions"][-1]["detail"] == {"to": 1, "removed": 0, "restored": 1}
    np.testing.assert_allclose(_logits(client, PROBE), after_add, atol=1e-9)
    client.post("/v1/models/intents/rollback", json={"version": 0}, headers=AUTH)
    np.testing.assert_allclose(_logits(client, PROBE), base, atol=1e-9)
    newest = client.get("/v1/models/intents/versions", params={"limit": 2}).json()["versions"]
    assert [v["version"] for v in newest] == [3, 4]
    _error(client.post("/v1/models/intents/rollback", json={"version": 99}, headers=AUTH), 404)
    _error(client.post("/v1/models/intents/rollback", json={"version": -1}, headers=AUTH), 422)
    _error(client.get("/v1/models/nope/versions"), 404)


def test_purged_rows_cannot_come_back(client: TestClient) -> None:
    add = {"texts": ["flight delayed again"], "labels": ["travel"], "role": "train"}
    (i,) = client.post("/v1/models/intents/examples", json=add, headers=AUTH).json()["ids"]
    assert client.delete(f"/v1/models/intents/examples/{i}?purge=true", headers=AUTH).json()["purged"]
    err = _error(client.post("/v1/models/intents/rollback", json={"version": 1}, headers=AUTH), 409)
    assert "purge" in err["error"]


def test_gil_switch_interval_is_short_while_an_encoder_thread_runs(settings: ServeSettings) -> None:
    import sys

    from headwise.service._state import SWITCH_INTERVAL_S

    before = sys.getswitchinterval()
    with TestClient(create_app(settings)):
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL_S)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("big", [1e300, 1e308])
def test_embeddings_far_off_the_encoders_scale_are_a_422(client: TestClient, big: float) -> None:
    # 1e308 answered 200 with "probability": null; 1e300 with a confident label
    dim = len(get_encoder("hash").encode(["x"])[0])
    r = client.post("/v1/models/intents/predict", json={"embeddings": [[big] * dim]})
    assert r.status_code == 422
    assert "Row 0 has values up to" in r.json()["error"]


def test_examples_far_off_the_encoders_scale_are_refused_not_learnt(client: TestClient) -> None:
    # they were logged (201) and poisoned the model's statistics for good
    dim = len(get_encoder("hash").encode(["x"])[0])
    before = client.post("/v1/models/intents/predict", json={"texts": PROBE}).json()
    r = client.post("/v1/models/intents/examples",
                    json={"embeddings": [[1e300] * dim], "labels": ["food"]}, headers=AUTH)
    assert r.status_code == 422 and "times the scale" in r.json()["error"]
    after = client.post("/v1/models/intents/predict", json={"texts": PROBE}).json()
    assert after == before


def test_an_unhandled_error_is_answered_500_and_does_not_reach_the_server(settings) -> None:
    # Starlette re-raised it after the 500 went out, and uvicorn then dropped the keep-alive
    # connection: the client's next request on it was reset
    from fastapi import APIRouter

    bug = APIRouter()

    @bug.get("/v1/bug")
    def _raise() -> None:
        raise RuntimeError("a bug")

    with TestClient(create_app(settings, routers=[bug]), raise_server_exceptions=True) as c:
        r = c.get("/v1/bug")
        assert r.status_code == 500 and r.json()["error"] == "Internal error (RuntimeError)."
        assert c.get("/health/live").status_code == 200


def _int_model(folder: Path) -> None:
    enc = get_encoder("hash")
    texts = [f"{w} {i}" for i in range(10) for w in ("card atm pin", "hotel flight trip")]
    X, y = enc.encode(texts), np.array([0, 7] * 10)
    ncm = NCMHead().fit(X, y)
    ncm.encoder_spec_ = {"spec": "hash", "options": {}}
    ncm.save(folder / "ints.safetensors", encoder_key=enc.key())


@pytest.mark.parametrize(("label", "found"), [
    (2**63, "Label 0 (9223372036854775808) is outside the 64-bit integer range"),
    (-(2**63) - 1, "outside the 64-bit integer range"),
    (10**20, "outside the 64-bit integer range"),
])  # fmt: skip
def test_an_integer_label_outside_int64_is_a_422_and_the_classes_keep_their_type(
    settings: ServeSettings, models_dir: Path, label: int, found: str
) -> None:
    # 2^63 was learned (201) and turned every class into a float: labels came back as 7.0 and
    # GET /v1/models answered 500 until a restart; 10^20 was "Labels mix text and numbers"
    _int_model(models_dir)
    with TestClient(create_app(settings)) as c:
        body = {"texts": ["card atm"], "labels": [label]}
        assert found in _error(c.post("/v1/models/ints/examples", json=body, headers=AUTH), 422)["error"]
        assert c.post("/v1/models/ints/examples", json={"texts": ["pin"], "labels": [2**63 - 1]},
                      headers=AUTH).status_code == 201  # fmt: skip
        assert c.get("/v1/models").status_code == 200
        p = c.post("/v1/models/ints/predict", json={"texts": ["card atm pin"]}).json()["predictions"][0]
        assert p["label"] == 0 and type(p["label"]) is int


@pytest.mark.parametrize(("label", "found"), [
    ("card\u0000", "control character U+0000"),
    ("\u0000", "control character U+0000"),
    ("new\tclass", "control character U+0009"),
    ("\u200b", "no visible character"),
    ("\u200b\u200c ", "no visible character"),
    (" card", "starts or ends with whitespace"),
    ("travel ", "starts or ends with whitespace"),
])  # fmt: skip
def test_a_new_class_name_must_be_readable(client: TestClient, label: str, found: str) -> None:
    # each was learned (201) as a class of its own; "card\0" was stored with the NUL but learned
    # as "card", and "\0" made the class '' that a blank label is refused for
    r = client.post("/v1/models/intents/examples", json={"texts": ["atm"], "labels": [label]}, headers=AUTH)
    assert found in _error(r, 422)["error"]
    assert client.get("/v1/models/intents").json()["classes"] == ["card", "food", "travel"]


@pytest.mark.parametrize(("method", "url", "body", "status", "found"), [
    # a value of another JSON type is refused, not converted
    ("post", "/v1/models/intents/rollback", {"version": True}, 422, "version"),
    ("post", "/v1/models/intents/rollback", {"version": "0"}, 422, "version"),
    ("post", "/v1/models/intents/predict", {"texts": ["a"], "alpha": "0.2"}, 422, "alpha"),
    ("post", "/v1/models/intents/predict", {"texts": ["a"], "top_k": "1"}, 422, "top_k"),
    ("post", "/v1/models/intents/predict", {"texts": ["a"], "include_logits": "yes"}, 422, "include_logits"),
    ("post", "/v1/models/intents/predict", {"embeddings": [[True] * 32]}, 422, "embeddings"),
    ("post", "/v1/models/intents/predict", {"embeddings": [["0.1"] * 32]}, 422, "embeddings"),
    # an id beyond SQLite's integers was a 500 (OverflowError)
    ("delete", "/v1/models/intents/examples/99999999999999999999", None, 404, "no example"),
])  # fmt: skip
def test_bad_values_are_4xx_with_the_field_named(
    client: TestClient, method: str, url: str, body: Any, status: int, found: str
) -> None:
    r = client.request(method.upper(), url, json=body, headers=AUTH)
    assert found in _error(r, status)["error"]
    assert client.get("/v1/models/intents").json()["version"] == 0


def test_a_body_declared_as_another_type_is_a_415(client: TestClient) -> None:
    # it was a 422 "Input should be a valid dictionary" for a body that was valid JSON
    r = client.post("/v1/models/intents/predict", content=b'{"texts": ["hi"]}',
                    headers={"Content-Type": "text/plain"})  # fmt: skip
    assert "reads JSON" in _error(r, 415)["error"]
    r = client.post("/v1/models/intents/predict", content=b'{"texts": ["hi"]}',
                    headers={"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
    assert r.status_code == 200


def test_a_token_that_no_client_could_send_is_refused_at_start(models_dir: Path) -> None:
    # a UTF-8 token was compared with the header read as latin-1: no client could ever match it
    for token in ("pässwört", "two words", "tab\there"):
        with pytest.raises(InputError, match="visible ASCII characters"):
            ServeSettings(models_dir, token=token)


def test_a_multi_label_head_is_refused_at_start(models_dir: Path) -> None:
    # it was served as a single-label softmax over independent per-label scores: one label,
    # probabilities ~7x too small, 200
    from headwise.heads import MultiLabelRidgeHead
    from headwise.service import ServiceState

    enc = get_encoder("hash")
    X = enc.encode(["card atm", "hotel trip", "card hotel", "pizza soup"])
    head = MultiLabelRidgeHead().fit(X, [["card"], ["travel"], ["card", "travel"], ["food"]])
    head.save(models_dir / "tags.safetensors", encoder_key=enc.key())
    with pytest.raises(InputError, match=r"tags\.safetensors holds a multi-label head"):
        ServiceState.open(ServeSettings(models_dir, token=TOKEN))
