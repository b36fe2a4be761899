"""The real server: `headwise serve` in a subprocess on 127.0.0.1, spoken to with httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from service_helpers import AUTH, TOKEN, refit_logits

from headwise.encoders import get_encoder

SRC = Path(__file__).resolve().parents[2] / "src"
PROBE = ["card declined at the atm", "hotel booking for my trip", "cheese pizza dinner"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(models: Path, tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    token = tmp / "token.txt"
    token.write_text(TOKEN + "\n")
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "headwise.cli.main", "serve", str(models), "--port", str(port),
           "--token-file", str(token), *extra]  # fmt: skip
    log = open(tmp / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((tmp / f"server-{port}.log").read_text())
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not become ready in 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_real_server_round_trip(models_dir: Path, tmp_path: Path) -> None:
    proc, url = start_server(models_dir, tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            assert [m["name"] for m in c.get("/v1/models").json()["models"]] == ["frozen", "intents", "plain"]
            r = c.post("/v1/models/intents/predict", json={"texts": PROBE, "alpha": 0.1})
            assert [p["label"] for p in r.json()["predictions"]] == ["card", "travel", "food"]
            assert r.headers["x-request-id"]
            assert c.post("/v1/models/intents/examples", json={"texts": ["x"], "labels": ["card"]}).status_code == 401
            r = c.post("/v1/models/intents/examples", headers=AUTH,
                       json={"texts": ["atm ate my card"], "labels": ["card_swallowed"]})  # fmt: skip
            assert r.status_code == 201 and r.json()["version"] == 1
            assert "headwise_writes_total" in c.get("/metrics").text
    finally:
        stop(proc)
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    log = (tmp_path / next(p.name for p in tmp_path.glob("server-*.log"))).read_text()
    assert "Application shutdown complete" in log
    assert '"route": "/v1/models/{name}/predict"' in log  # one JSON line per request


def test_kill_9_during_writes_loses_nothing_acknowledged(
    models_dir: Path, tmp_path: Path, toy: dict[str, Any]
) -> None:
    proc, url = start_server(models_dir, tmp_path)
    acked: dict[int, str] = {}
    stop_writing = threading.Event()

    def writer(k: int) -> None:
        with httpx.Client(base_url=url, timeout=10, headers=AUTH) as c:
            i = 0
            while not stop_writing.is_set():
                text, label = f"writer {k} row {i} crypto coin", ("crypto" if i % 2 else "travel")
                i += 1
                try:
                    r = c.post("/v1/models/intents/examples", json={"texts": [text], "labels": [label]})
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    acked[r.json()["ids"][0]] = text

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    while len(acked) < 25:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop_writing.set()
    for t in threads:
        t.join()
    proc, url = start_server(models_dir, tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=30) as c:
            listed = c.get("/v1/models/intents/examples", params={"limit": 1000}).json()["examples"]
            present = {e["id"]: e for e in listed}
            assert set(acked) <= set(present)  # every acknowledged row survived
            assert len(present) - len(acked) <= len(threads)  # at most the writes in flight
            r = c.post("/v1/models/intents/predict", json={"texts": PROBE, "include_logits": True})
            served = np.array([p["logits"] for p in r.json()["predictions"]], dtype=float)
    finally:
        stop(proc)
    enc = get_encoder("hash")
    train = [(enc.encode([e["text"]])[0].astype(np.float64), e["label"])
             for _, e in sorted(present.items()) if e["role"] == "train"]  # fmt: skip
    _, expected = refit_logits(toy["X_fit"], toy["y_fit"], train, enc.encode(PROBE))
    np.testing.assert_allclose(served, expected, atol=1e-8)
