"""The labelling page in real headless Chromium (Playwright) against a real server socket.

Label ten rows by clicking their classes; the model version moves by ten, the running accuracy
counts ten answers, and the model's predictions change. Also the API behind the page: the write
needs the bearer token, a row cannot be labelled twice, the estimate is prequential.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from headwise.encoders import get_encoder  # noqa: E402
from headwise.heads import NCMHead  # noqa: E402
from headwise.service import ServeSettings, create_app, label_router  # noqa: E402

TOKEN = "label-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WORDS = {
    "card": "card declined payment atm swallowed pin charge",
    "travel": "flight hotel booking airport luggage trip train",
    "food": "pizza pasta recipe dinner cheese soup bread",
}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _texts(n_per_class: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in WORDS.items():
        for j in range(n_per_class):
            texts.append(" ".join(rng.choice(words.split(), size=3)) + f" n{seed}x{j}")
            labels.append(label)
    return texts, labels


@pytest.fixture
def settings(tmp_path: Path) -> ServeSettings:
    folder = tmp_path / "models"
    folder.mkdir()
    enc = get_encoder("hash")
    texts, labels = _texts(2, seed=0)
    head = NCMHead().fit(enc.encode(texts), np.array(labels))
    head.encoder_spec_ = {"spec": "hash", "options": {}}
    head.save(folder / "intents.safetensors", encoder_key=enc.key())
    return ServeSettings(folder, token=TOKEN, max_rows=20)


@pytest.fixture
def client(settings: ServeSettings) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(create_app(settings, routers=[label_router])) as c:
        yield c


def test_page_is_self_contained(client):
    page = client.get("/label").text
    assert "<script>" in page and "/label/v1/" in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


def test_api_round_trip_is_prequential_and_authenticated(client):
    texts, labels = _texts(10, seed=1)
    assert client.post("/label/v1/intents/pool", json={"texts": texts[:20]}).status_code == 401
    r = client.post("/label/v1/intents/pool", json={"texts": texts[:20]}, headers=AUTH)
    assert r.status_code == 201 and r.json()["pool_size"] == 20
    client.post("/label/v1/intents/pool", json={"texts": texts[20:]}, headers=AUTH)
    nxt = client.get("/label/v1/intents/next", params={"strategy": "margin", "k": 3}).json()
    assert nxt["version"] == 0 and nxt["unlabelled"] == 30 and len(nxt["rows"]) == 3
    row = nxt["rows"][0]
    truth = labels[row["pool_id"]]
    a = client.post("/label/v1/intents/answer", json={"pool_id": row["pool_id"], "label": truth},
                    headers=AUTH).json()  # fmt: skip
    assert a["version"] == 1 and a["predicted_before"] == row["label"]
    assert a["accuracy"]["n"] == 1 and a["accuracy"]["correct"] == int(row["label"] == truth)
    again = client.post("/label/v1/intents/answer", json={"pool_id": row["pool_id"], "label": truth},
                        headers=AUTH)  # fmt: skip
    assert again.status_code == 409 and "labelled already" in again.json()["error"]
    after = client.get("/label/v1/intents/next", params={"strategy": "margin", "k": 30}).json()
    assert row["pool_id"] not in [r["pool_id"] for r in after["rows"]] and after["unlabelled"] == 29
    new = client.post("/label/v1/intents/answer", json={"pool_id": after["rows"][0]["pool_id"],
                      "label": "weather"}, headers=AUTH).json()  # fmt: skip
    assert new["version"] == 2
    assert "weather" in client.get("/label/v1/intents/next").json()["classes"]
    bad = client.get("/label/v1/intents/next", params={"strategy": "badge"})
    assert bad.status_code == 422 and "Unknown strategy" in bad.json()["error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: ServeSettings) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(create_app(settings, routers=[label_router]), host="127.0.0.1",
                            port=port, log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=30)


@pytest.mark.slow
def test_label_ten_rows_in_chromium(server):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); the page is untested here")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    import httpx

    texts, labels = _texts(8, seed=2)
    truth = dict(zip(texts, labels, strict=True))
    probe = {"texts": texts[:6]}
    before = httpx.post(f"{server}/v1/models/intents/predict", json=probe).json()["predictions"]
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])  # fmt: skip
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/label")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("#token", TOKEN)
        page.fill("#pool-text", "\n".join(texts))
        page.select_option("#strategy", "entropy")
        page.click("#upload")
        page.wait_for_selector(".row")
        assert page.text_content("#version") == "Model version: 0"
        assert "24 of 24" in page.text_content("#pool-status")
        for n in range(1, 11):
            row = page.locator(".row").first
            text = row.locator(".text").text_content()
            row.locator(f"button.cls[data-label='{truth[text]}']").click()
            page.wait_for_selector(f"#version[data-version='{n}']")
            page.wait_for_selector("body[data-ready='1']")
        assert page.text_content("#version") == "Model version: 10"
        assert "of 10" in page.text_content("#accuracy")
        assert "14 of 24" in page.text_content("#pool-status")
        assert page.text_content("#msg") == ""
        browser.close()
    assert errors == []
    after = httpx.post(f"{server}/v1/models/intents/predict", json=probe).json()["predictions"]
    p_before = [p["top_k"][0]["probability"] for p in before]
    p_after = [p["top_k"][0]["probability"] for p in after]
    assert not np.allclose(p_before, p_after)  # the model learnt the ten labels
    acc_after = np.mean([p["label"] == truth[t] for p, t in zip(after, probe["texts"], strict=True)])
    assert acc_after >= np.mean([p["label"] == truth[t] for p, t in zip(before, probe["texts"], strict=True)])


def test_headwise_serve_mounts_the_page(monkeypatch, settings):
    import uvicorn

    from headwise.cli import serve as cli_serve
    from headwise.service._state import ServiceState

    captured: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: captured.setdefault("app", app))
    state = ServiceState.open(settings)
    try:
        cli_serve._serve(settings, state, "127.0.0.1", 0, "warning")
    finally:
        state.close()
    from fastapi.testclient import TestClient

    page = TestClient(captured["app"]).get("/label")  # the page needs no running service
    assert page.status_code == 200 and "headwise labelling" in page.text


@pytest.mark.parametrize(("body", "status", "found"), [
    # ragged embeddings were a 500 (numpy's inhomogeneous shape), a long text was stored and learnt
    ({"embeddings": [[0.1], [0.1, 0.2]]}, 422, "embeddings"),
    ({"embeddings": [[0.1] * 31]}, 422, "31 features"),
    ({"texts": ["word " * 1000]}, 422, "the limit is 4096"),
    ({"texts": ["\u200b"]}, 422, "no visible character"),
    ({"texts": ["a"], "surprise": 1}, 422, "surprise"),
])  # fmt: skip
def test_pool_rows_get_the_checks_of_predict(client, body, status, found):
    r = client.post("/label/v1/intents/pool", json=body, headers=AUTH)
    assert r.status_code == status and found in r.json()["error"], r.text


def test_a_blank_answer_is_refused_and_the_row_stays_open(client):
    # "   " was stripped to '' and learned as the class '' (201); /examples refuses it
    client.post("/label/v1/intents/pool", json={"texts": ["card atm", "hotel trip"]}, headers=AUTH)
    for label, found in (("   ", "empty"), ("\u0000", "control character")):
        r = client.post("/label/v1/intents/answer", json={"pool_id": 0, "label": label}, headers=AUTH)
        assert r.status_code == 422 and found in r.json()["error"], r.text
    ok = client.post("/label/v1/intents/answer", json={"pool_id": 0, "label": "card"}, headers=AUTH)
    assert ok.status_code == 201  # the refused answers did not claim the row
    assert "" not in client.get("/label/v1/intents/next").json()["classes"]


def test_label_endpoints_read_curls_default_content_type(client):
    r = client.post("/label/v1/intents/pool", content=b'{"texts": ["card atm"]}',
                    headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 201, r.text
