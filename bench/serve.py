"""`headwise serve` under load on loopback, and what survives kill -9.

Usage: python bench/serve.py [--requests 10000] [--concurrency 32] [--trials 20] [--quick]

Protocol (fixed, seeded; loopback only, bounded in count and time):
- data: Banking77 with ``minilm`` embeddings from the cache. Three classes are held out of the
  base model entirely; they and 3,000 other train rows form the *stream* of writes, so writes
  bring new classes. The base model is LDA (shrinkage "auto" = OAS, exact from statistics) on the
  remaining train rows minus a stratified 20% kept as its conformal calibration rows
  (temperature fitted on them), saved with ``save_calibrated_head``.
- baseline: the library in process, in the same run, just before and just after the server run
  (the ratio divides by their mean, so a drift in the machine's load shows): the same texts the
  requests carry (``--requests`` of them, cycling through the test split) through
  ``encoder.encode(texts, batch_size=64)`` + logits + conformal sets + OOD scores, as a user
  would; the same without the encoder on their stored embeddings (embedding). Its CPU time is
  reported too.
- load: the real server (`headwise serve`, ``--max-batch 64 --max-wait-ms 5``, default log level,
  so one JSON log line per request is written) in a subprocess; a light client (raw asyncio
  HTTP/1.1 keep-alive, requests encoded up front: ``bench/_http_load.py``) keeps
  ``--concurrency`` requests in flight, one test row per request, first as precomputed
  embeddings, then as text. Errors are non-200 replies or transport failures. Client and server
  share the machine's cores; the CPU seconds each used are reported (the server's from /proc),
  with the load average before and after.
- kill -9: ``--trials`` times, four writers stream 1-4 stream rows per request (embeddings, labels,
  role "auto") and the server is killed with SIGKILL once a random 5-30 requests were acknowledged
  (plus 0-20 ms, so the kill lands anywhere in a write); it is restarted, and
  every acknowledged id must be listed; the served logits on 200 test rows are compared with a
  batch refit (``LDAHead().fit``) on the base rows plus every logged training row. Then 30 logged
  rows are deleted, the logits are compared with a refit without them, the server is killed -9 and
  restarted and the comparison repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import REPO, RESULTS, SHARED_DATA, command, machine, md_table
from _http_load import cpu_seconds, encode_posts, run_load

from headwise.encoders import get_encoder
from headwise.heads import LDAHead
from headwise.heads._holdout import stratified_holdout
from headwise.store import EmbeddingStore
from headwise.trust import (
    ConformalClassifier,
    TemperatureScaler,
    TrustCalibration,
    ood_scores,
    save_calibrated_head,
)

TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "banking77"
MAX_WAIT_MS = 5.0
MAX_BATCH = 64
ENCODER_MODE = "--encoder-thread"
EXTRA: list[str] = []


# ---------------------------------------------------------------- data and model
def load_data(encoder_spec: str) -> dict[str, Any]:
    with gzip.open(SHARED_DATA / "banking77.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    texts = [r["text"] for r in rows]
    enc = get_encoder(encoder_spec)
    X = np.asarray(EmbeddingStore().get_or_compute(enc, texts).to_numpy(), dtype=np.float32)
    y = np.array([r.get("label_text", r["label"]) for r in rows]).astype(str)
    split = np.array([r["split"] for r in rows])
    return {"texts": texts, "X": X, "y": y, "split": split, "encoder": enc}


def build_model(d: dict[str, Any], folder: Path, spec: str) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    y, split = d["y"], d["split"]
    train = np.flatnonzero(split == "train")
    held = rng.choice(np.unique(y[train]), 3, replace=False)
    new_cls = train[np.isin(y[train], held)]
    rest = train[~np.isin(y[train], held)]
    stream_known = rng.choice(rest, 3000, replace=False)
    base = np.setdiff1d(rest, stream_known)
    fit_pos, cal_pos = stratified_holdout(y[base], 0.2, random_state=0)
    fit, cal = base[fit_pos], base[cal_pos]
    X = d["X"]
    head = LDAHead().fit(X[fit], y[fit])
    head.encoder_spec_ = {"spec": spec, "options": {}}
    codes = np.searchsorted(head.classes_, y[cal])
    ts = TemperatureScaler().fit(head.logits(X[cal]), codes)
    calib = TrustCalibration(ts.temperature_, X[cal].astype(np.float64), y[cal],
                             np.random.default_rng([0, 1]).random(cal.size), {"calib_frac": 0.2})  # fmt: skip
    save_calibrated_head(head, folder / f"{MODEL}.safetensors", calib, encoder_key=d["encoder"].key())
    stream = rng.permutation(np.r_[new_cls, stream_known])
    test = np.flatnonzero(split == "test")
    return {"head": head, "calib": calib, "fit": fit, "stream": stream, "test": test, "held": held}


# ---------------------------------------------------------------- baseline
def in_process(d: dict[str, Any], m: dict[str, Any], n: int) -> dict[str, float]:
    """Rows per second (and CPU seconds) of the library on the rows the ``n`` requests carry."""
    head, calib = m["head"], m["calib"]
    cp = calib.conformal(head)
    assert isinstance(cp, ConformalClassifier)
    enc = d["encoder"]
    rows = m["test"][np.arange(n) % m["test"].size]  # the requests cycle through the test split
    texts = [d["texts"][i] for i in rows]
    enc.encode(texts[:64], batch_size=64)  # warm-up

    def answer(X: np.ndarray) -> None:
        cp.predict_proba(X)
        cp.predict_set(X, 0.1)
        ood_scores(head, X, "energy", temperature=calib.temperature)

    c0, t0 = time.process_time(), time.perf_counter()
    answer(enc.encode(texts, batch_size=64))
    text_s, text_cpu = time.perf_counter() - t0, time.process_time() - c0
    X = d["X"][rows]
    t0 = time.perf_counter()
    answer(X)
    emb_s = time.perf_counter() - t0
    return {"text": n / text_s, "embedding": n / emb_s, "text_cpu_s": text_cpu}


def in_micro_batches(d: dict[str, Any], m: dict[str, Any], n: int, batch: int, overhead: float | None) -> float:
    """CPU ms per text of the encoder alone on the first ``n`` request texts in consecutive
    micro-batches of ``batch``, split as the server splits them (``encode_by_length`` with the
    server's measured pass overhead): the cost of batching, without HTTP."""
    from headwise.service._batcher import encode_by_length

    enc = d["encoder"]
    rows = m["test"][np.arange(n) % m["test"].size]
    texts = [d["texts"][i] for i in rows]
    c0 = time.process_time()
    for start in range(0, n, batch):
        encode_by_length(enc, texts[start : start + batch], overhead)
    return 1000 * (time.process_time() - c0) / n


# ---------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, models: Path, state: Path, workdir: Path) -> None:
        self.models, self.state, self.workdir = models, state, workdir
        (workdir / "token").write_text(TOKEN)
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts: list[float] = []

    def start(self) -> float:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        cmd = [sys.executable, "-m", "headwise.cli.main", "serve", str(self.models), "--port", str(port),
               "--token-file", str(self.workdir / "token"), "--state-dir", str(self.state),
               "--max-batch", str(MAX_BATCH), "--max-wait-ms", f"{MAX_WAIT_MS:g}", ENCODER_MODE, *EXTRA]  # fmt: skip
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        while time.perf_counter() - t0 < 300:
            if self.proc.poll() is not None:
                raise RuntimeError((self.workdir / "server.log").read_text()[-3000:])
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    self.starts.append(time.perf_counter() - t0)
                    return self.starts[-1]
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server not ready in 300 s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()


def load_run(server: Server, bodies: list[dict[str, Any]], n: int, conc: int) -> dict[str, Any]:
    assert server.proc is not None
    requests = encode_posts(server.url, f"/v1/models/{MODEL}/predict", bodies)
    load0, cpu0 = os.getloadavg()[0], cpu_seconds(server.proc.pid)
    res = run_load(server.url, requests, n, conc)  # 64 warm-up requests first, not timed
    res["server_cpu_s"] = cpu_seconds(server.proc.pid) - cpu0
    res["load"] = (load0, os.getloadavg()[0])
    return res


def batch_mean(url: str, metric: str = "headwise_encoder_batch_rows") -> float:
    text = httpx.get(f"{url}/metrics").text
    vals = {}
    for line in text.splitlines():
        for k in (f"{metric}_sum", f"{metric}_count"):
            if line.startswith(k + " "):
                vals[k] = float(line.split()[-1])
    n = vals.get(f"{metric}_count", 0.0)
    return vals.get(f"{metric}_sum", 0.0) / n if n else float("nan")


def pass_overhead(url: str) -> float | None:
    """The encoder's fixed cost per pass that the server measured at start (length units)."""
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        if line.startswith("headwise_encoder_pass_overhead{"):
            return float(line.split()[-1])
    return None


# ---------------------------------------------------------------- durability
async def write_stream(url: str, rows: list[tuple[list[float], str]], kill_at: int, kill: Any,
                       rng: np.random.Generator) -> tuple[set[int], int]:  # fmt: skip
    """Four writers stream examples; SIGKILL once ``kill_at`` requests were acknowledged (plus a
    random 0-20 ms, so the kill lands at any point of a write), or after 120 s."""
    acked: set[int] = set()
    n_acked = sent = 0
    pos = iter(range(10**9))

    async def writer(c: httpx.AsyncClient) -> None:
        nonlocal sent, n_acked
        while True:
            k = int(rng.integers(1, 5))
            start = next(pos) * 4
            chunk = [rows[(start + j) % len(rows)] for j in range(k)]
            body = {"embeddings": [x for x, _ in chunk], "labels": [lab for _, lab in chunk]}
            sent += 1
            try:
                r = await c.post(f"/v1/models/{MODEL}/examples", json=body, headers=AUTH)
            except httpx.HTTPError:
                return
            if r.status_code != 201:
                raise RuntimeError(f"write refused: {r.status_code} {r.text}")
            acked.update(r.json()["ids"])
            n_acked += 1

    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        tasks = [asyncio.create_task(writer(c)) for _ in range(4)]
        deadline = time.monotonic() + 120
        while n_acked < kill_at and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(float(rng.uniform(0, 0.02)))
        kill()
        await asyncio.gather(*tasks)
    return acked, sent


def listed(url: str) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    after = 0
    with httpx.Client(base_url=url, timeout=60) as c:
        while True:
            page = c.get(f"/v1/models/{MODEL}/examples",
                         params={"after": after, "limit": 1000, "embeddings": True}).json()  # fmt: skip
            out.update({e["id"]: e for e in page["examples"]})
            if page["next_after"] is None:
                return out
            after = page["next_after"]


def logit_diff(url: str, d: dict[str, Any], m: dict[str, Any], present: dict[int, dict[str, Any]]) -> float:
    probe = d["X"][m["test"][:200]].astype(np.float64)
    r = httpx.post(f"{url}/v1/models/{MODEL}/predict", timeout=60,
                   json={"embeddings": probe.tolist(), "include_logits": True, "top_k": 1})  # fmt: skip
    if r.status_code != 200:
        raise RuntimeError(f"predict failed: {r.status_code} {r.text}")
    served = np.array([[np.nan if v is None else v for v in p["logits"]] for p in r.json()["predictions"]])
    train = [e for _, e in sorted(present.items()) if e["role"] == "train"]
    X = np.vstack([d["X"][m["fit"]].astype(np.float64), np.array([e["embedding"] for e in train]).reshape(-1, probe.shape[1])])
    y = np.concatenate([d["y"][m["fit"]], np.array([e["label"] for e in train], dtype=str)])
    refit = LDAHead().fit(X, y)
    want = refit.logits(probe)
    if want.shape != served.shape:
        raise RuntimeError(f"class sets differ: served {served.shape}, refit {want.shape}")
    return float(np.nanmax(np.abs(served - want)))


def durability(server: Server, d: dict[str, Any], m: dict[str, Any], trials: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    rows = [(d["X"][i].astype(np.float64).tolist(), str(d["y"][i])) for i in m["stream"]]
    server.start()
    out: list[dict[str, Any]] = []
    all_acked: set[int] = set()
    seen: set[int] = set()  # ids listed after earlier restarts
    for t in range(trials):
        kill_at = int(rng.integers(5, 31))
        acked, sent = asyncio.run(write_stream(server.url, rows, kill_at, server.kill9, rng))
        restart = server.start()
        present = listed(server.url)
        all_acked |= acked
        seen_before = set(seen)
        seen |= set(present)
        out.append({
            "trial": t + 1, "acked": len(acked), "sent": sent, "all_present": all_acked <= set(present),
            "extra": len(set(present) - all_acked - seen_before), "logged": len(present), "restart_s": restart,
            "diff": logit_diff(server.url, d, m, present),
        })  # fmt: skip
        print(f"trial {t + 1}: {out[-1]}", flush=True)
    present = listed(server.url)
    doomed = [int(i) for i in rng.choice(sorted(present), min(30, len(present)), replace=False)]
    with httpx.Client(base_url=server.url, timeout=30, headers=AUTH) as c:
        for i in doomed:
            r = c.delete(f"/v1/models/{MODEL}/examples/{i}")
            if r.status_code != 200:
                raise RuntimeError(f"delete refused: {r.text}")
    remaining = {i: e for i, e in present.items() if i not in set(doomed)}
    del_diff = logit_diff(server.url, d, m, remaining)
    server.kill9()
    server.start()
    after_restart = listed(server.url)
    del_restart_diff = logit_diff(server.url, d, m, after_restart)
    server.stop()
    return {"trials": out, "deleted": len(doomed), "deleted_train": sum(present[i]["role"] == "train" for i in doomed),
            "del_diff": del_diff, "del_restart_diff": del_restart_diff,
            "del_listed_ok": set(after_restart) == set(remaining)}  # fmt: skip


# ---------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="hash encoder, 300 requests, 2 trials")
    ap.add_argument("--skip-load", action="store_true", help="durability trials only")
    ap.add_argument("--only-text", action="store_true", help="text load only (no result file)")
    ap.add_argument("--skip-kill", action="store_true",
                    help="load only: replace the load section of an existing serve.md")  # fmt: skip
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--encode-workers", type=int, default=None,
                    help="pass --encode-workers N to the server (default: the server's default)")
    ap.add_argument("--encoder-process", action=argparse.BooleanOptionalAction, default=False,
                    help="serve with --encoder-process or --encoder-thread (default, as the CLI)")  # fmt: skip
    args = ap.parse_args()
    os.environ.setdefault("HEADWISE_PROGRESS", "0")
    global MAX_WAIT_MS, ENCODER_MODE, MAX_BATCH
    MAX_WAIT_MS, MAX_BATCH = args.max_wait_ms, args.max_batch
    ENCODER_MODE = "--encoder-process" if args.encoder_process else "--encoder-thread"
    if args.encode_workers is not None:
        EXTRA.extend(["--encode-workers", str(args.encode_workers)])
    spec = "hash" if args.quick else "minilm"
    n = 300 if args.quick else args.requests
    trials = 2 if args.quick else args.trials
    header = machine()
    t_start = time.perf_counter()
    d = load_data(spec)
    with tempfile.TemporaryDirectory(prefix="hw-serve-bench-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        m = build_model(d, models, spec)
        results: dict[str, Any] = {}
        if not args.skip_load:
            base = in_process(d, m, n)
            print("in-process rows/s:", base, flush=True)
            server = Server(models, work / "load-state", work)
            server.start()
            test = m["test"]
            emb_bodies = [{"embeddings": [d["X"][i].astype(np.float64).tolist()]} for i in test]
            text_bodies = [{"texts": [d["texts"][i]]} for i in test]
            kinds = (("embedding", emb_bodies), ("text", text_bodies))
            for kind, bodies in kinds[1:] if args.only_text else kinds:
                res = load_run(server, bodies, n, args.concurrency)
                results[kind] = res
                print(kind, res, flush=True)
            results["batch_mean"] = batch_mean(server.url)
            results["predict_mean"] = batch_mean(server.url, "headwise_predict_batch_rows")
            results["overhead"] = pass_overhead(server.url)
            server.stop()
            mean = results["batch_mean"]  # texts per encoder call under load (text requests only)
            text_batch = max(1, round(mean)) if np.isfinite(mean) else 16
            results["micro_cpu_ms"] = in_micro_batches(d, m, min(n, 2000), text_batch, results["overhead"])
            results["micro_batch"] = text_batch
            results["packs"] = bool(getattr(d["encoder"], "packs_inputs", False))
            # The machine's load drifts: measure the baseline again after the server run and
            # compare with the mean of the two (both are reported).
            after = in_process(d, m, n)
            print("in-process rows/s after:", after, flush=True)
            for kind in results:
                if kind in base:
                    results[kind]["baseline_before"] = base[kind]
                    results[kind]["baseline_after"] = after[kind]
                    results[kind]["baseline"] = (base[kind] + after[kind]) / 2
            results["text_cpu_ms"] = 1000 * (base["text_cpu_s"] + after["text_cpu_s"]) / (2 * n)
            if args.only_text:
                print("mean batch", results["batch_mean"], "encoder alone in such batches (CPU ms/text)",
                      results["micro_cpu_ms"], "overhead", results["overhead"])  # fmt: skip
                return
        if args.skip_kill:
            replace_load_section(args, spec, n, header, results, time.perf_counter() - t_start)
            return
        server = Server(models, work / "kill-state", work)
        dur = durability(server, d, m, trials)
    total = time.perf_counter() - t_start
    write(args, spec, n, header, results, dur, total)


def replace_load_section(args: Any, spec: str, n: int, header: str, results: dict[str, Any],
                         total: float) -> None:  # fmt: skip
    """A rerun of the load part only: its section replaces the old one, with its own command."""
    path = RESULTS / ("serve-quick.md" if args.quick else "serve.md")  # never the real one
    fresh = load_lines(args, results)
    fresh.insert(1, f"Load part rerun on its own: `{command()}` ({total / 60:.1f} min). {header}\n")
    old = path.read_text() if path.exists() else ""
    if "### Load" in old and "### kill -9" in old:
        start, end = old.index("### Load"), old.index("### kill -9")
        path.write_text(old[:start] + "\n".join(fresh) + "\n" + old[end:])
    else:
        path.write_text("\n".join(fresh) + "\n")
    print("replaced the load section of", path)


def load_lines(args: Any, results: dict[str, Any]) -> list[str]:
    rows = []
    for kind in ("embedding", "text"):
        r = results[kind]
        rows.append([kind, r["n"], args.concurrency, r["errors"], r["rps"], r["p50"], r["p99"],
                     f"{r['baseline_before']:,.1f} / {r['baseline_after']:,.1f}",
                     r["rps"] / r["baseline"], 1000 * r["server_cpu_s"] / r["n"],
                     r["client_cpu_s"], f"{r['load'][0]:.1f} → {r['load'][1]:.1f}"])  # fmt: skip
    return ["### Load: one row per request\n",
            md_table(["request", "requests", "concurrency", "errors", "requests/s",
                      "p50 ms", "p99 ms", "in-process rows/s before / after", "ratio",
                      "server CPU ms / request", "client CPU s", "load average (1 min)"], rows),
            *[f"\nErrors ({kind}): " + "; ".join(f"{k} ×{v}" for k, v in results[kind]["error_kinds"].items())
              for kind in ("embedding", "text") if results[kind]["errors"]],
            f"\nMean texts per encoder forward pass under load: {results['batch_mean']:.1f}; "
            f"mean rows per head pass: {results['predict_mean']:.1f} (both runs; both from `/metrics`). "
            "In-process = the library on the rows the requests carry (the same "
            f"{results['text']['n']:,} texts), measured just before and just after the server "
            "run (ratio = requests/s ÷ their mean): `encode(texts, batch_size=64)` + logits, "
            "conformal sets and OOD scores (text); the same on the stored embeddings (embedding). "
            f"In-process CPU: {results['text_cpu_ms']:.2f} ms per text, so the in-process CPU "
            "per text ÷ the server's CPU per text request is "
            f"{results['text_cpu_ms'] / (1000 * results['text']['server_cpu_s'] / results['text']['n']):.2f} "
            "(roughly what the requests/s ratio comes to when each run has the cores to itself; "
            "on a loaded machine the requests/s ratio comes out higher, likely because the "
            "server runs more threads than the in-process run and so wins a larger share of the "
            "cores). The client is a raw "
            "asyncio HTTP/1.1 keep-alive client on uvloop (`bench/_http_load.py`); its CPU seconds are "
            "for the whole run. Target: text requests ≥ 0.7× in-process.\n",
            "Where the text requests' CPU goes: the encoder alone, on the first "
            f"{min(results['text']['n'], 2000):,} request texts in consecutive micro-batches of "
            f"{results['micro_batch']} (the server's mean), each encoded as the server encodes it "
            f"({_split_text(results)}), costs "
            f"**{results['micro_cpu_ms']:.2f} ms CPU per text**, against {results['text_cpu_ms']:.2f} "
            "in-process (which sorts all the texts by length first, so its passes are full and "
            "hardly padded) and "
            f"{1000 * results['text']['server_cpu_s'] / results['text']['n']:.2f} per request in "
            "the server; the first gap is the price of micro-batches, the second is HTTP, JSON, "
            "the head and the event loop.\n"]  # fmt: skip


def _split_text(results: dict[str, Any]) -> str:
    if results.get("packs"):
        return ("one call per micro-batch: the encoder packs several texts into each row of a "
                "pass, so a pass costs its tokens whatever the mix of lengths")  # fmt: skip
    return ("split into passes by length; pass overhead measured by the server at start: "
            f"{_fmt_overhead(results['overhead'])} length units")  # fmt: skip


def _workers_text() -> str:
    workers = EXTRA[EXTRA.index("--encode-workers") + 1] if "--encode-workers" in EXTRA else "2 (default)"
    return (f"`--encode-workers` {workers}: up to that many micro-batches encoded at once, each "
            "pass with every core's ONNX Runtime threads")  # fmt: skip


def _fmt_overhead(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def write(args: Any, spec: str, n: int, header: str, results: dict[str, Any], dur: dict[str, Any],
          total: float) -> None:  # fmt: skip
    lines = [f"## Serving (`headwise serve`){' — quick' if args.quick else ''}\n",
             f"Command: `{command()}` ({total / 60:.1f} min). {header}\n",
             f"Encoder `{spec}`, Banking77 LDA head (74 classes at start, 3 held out for the write "
             "stream), server and client on the same machine over loopback, micro-batching "
             f"`--max-batch {MAX_BATCH} --max-wait-ms {MAX_WAIT_MS:g}`, `{ENCODER_MODE}`, "
             f"{_workers_text()}.\n"]  # fmt: skip
    if results:
        lines += load_lines(args, results)
    trials = dur["trials"]
    ok = sum(t["all_present"] for t in trials)
    lines += ["### kill -9 during writes\n",
              md_table(["trial", "rows acknowledged", "write requests sent", "all acknowledged present",
                        "committed, not acknowledged", "rows in log", "restart s",
                        "max abs logit diff vs batch refit"],
                       [[t["trial"], t["acked"], t["sent"], "yes" if t["all_present"] else "NO",
                         t["extra"], t["logged"], t["restart_s"], f"{t['diff']:.2e}"] for t in trials]),
              f"\nAcknowledged rows present after restart: **{ok}/{len(trials)}** trials. Largest "
              f"logit difference from a batch refit: **{max(t['diff'] for t in trials):.2e}** "
              "(logits are O(10-100)). \"Committed, not acknowledged\": writes that reached the "
              "disk but whose reply the kill cut off (at most the requests in flight).\n",
              f"After deleting {dur['deleted']} logged rows ({dur['deleted_train']} training, the "
              f"rest calibration): max abs logit difference from a refit without them "
              f"**{dur['del_diff']:.2e}**; after a further kill -9 and restart "
              f"**{dur['del_restart_diff']:.2e}** (listed rows as expected: "
              f"{'yes' if dur['del_listed_ok'] else 'NO'}).\n"]  # fmt: skip
    name = "serve-quick.md" if args.quick else "serve.md"
    (RESULTS / name).write_text("\n".join(lines))
    print("wrote", RESULTS / name)


if __name__ == "__main__":
    main()
