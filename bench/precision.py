"""Does int8 keep accuracy? minilm fp32 vs int8 ONNX on every shared text set.

Usage: python bench/precision.py [--quick] [--sets sst2,trec,emotion,banking77,20newsgroups]
                                 [--seeds 10]

For each set both precisions embed every row through the embedding cache (the fp32 and int8
vectors live under different cache keys), then the same two probes run on each:

* linear probe: ``linear_eval`` with the logistic head, C chosen on the set's validation split
  (a seeded 10% of train where it has none), refitted, scored once on the test split; test rows
  whose text also occurs in train or validation are dropped;
* 8-shot: ``few_shot_eval`` with the logistic head on 8 train rows per class, ``--seeds`` draws
  (the same rows for both precisions), mean test accuracy.

The rule (issue 19): int8 becomes minilm's CPU default only if on every set both probes score
within 0.3 points of fp32 (int8 - fp32 >= -0.3; a gain counts as holding). The fragment states the
decision; ``headwise.encoders._hf.MINILM_DEFAULT_PRECISION`` must match it (bench/targets.py
checks). Quick mode (CI): 150 rows per split of two sets, a smoke run, fragment ``precision-quick``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

os.environ.setdefault("HEADWISE_PROGRESS", "0")

SETS = ("sst2", "trec", "emotion", "banking77", "20newsgroups")
PRECISIONS = ("fp32", "int8")
TOLERANCE = 0.3  # points


def load(name: str, limit: int | None) -> tuple[Any, dict[str, np.ndarray]]:
    from headwise.datasets import load_table

    table = load_table(SHARED_DATA / f"{name}.jsonl.gz")
    splits = {s: table.split_indices(s) for s in ("train", "validation", "test")}
    if limit is not None:
        rng = np.random.default_rng(0)
        splits = {s: np.sort(rng.permutation(i)[:limit]) for s, i in splits.items()}
    return table, splits


def embed(texts: list[str], precision: str) -> tuple[np.ndarray, float, bool]:
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    enc = get_encoder("minilm", device="cpu", precision=precision)
    store = EmbeddingStore()
    t0 = time.perf_counter()
    hit = store.lookup(enc, texts)
    es = hit if hit is not None else store.get_or_compute(enc, texts, batch_size=64)
    return es.to_numpy(), time.perf_counter() - t0, hit is not None


def probes(X: np.ndarray, table: Any, sp: dict[str, np.ndarray], seeds: int) -> tuple[float, float]:
    """(linear-probe test accuracy, mean 8-shot test accuracy), in %."""
    from headwise.protocols import few_shot_eval, linear_eval
    from headwise.protocols._common import row_keys

    y = table.labels
    tr, va, te = sp["train"], sp["validation"], sp["test"]
    keys = row_keys(texts=list(table.texts))
    lin = linear_eval(
        "logistic", X[tr], y[tr], X[te], y[te],
        X_val=X[va] if va.size else None, y_val=y[va] if va.size else None,
        train_keys=keys[tr], val_keys=keys[va] if va.size else None, test_keys=keys[te],
        drop_overlap=True,
    )  # fmt: skip
    few = few_shot_eval("logistic", X[tr], y[tr], X[te], y[te], shots=(8,), seeds=seeds)
    return 100 * lin.heads["logistic"].test_accuracy, 100 * few.heads["logistic"].mean[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    sets = ("trec", "sst2") if args.quick else tuple(args.sets.split(","))
    limit = 150 if args.quick else None
    started, load_start = time.perf_counter(), machine()
    rows, embed_rows, holds_all = [], [], True
    for name in sets:
        table, sp = load(name, limit)
        idx = np.concatenate([sp["train"], sp["validation"], sp["test"]])
        if limit is not None:  # embed only the sampled rows, re-indexed
            texts = [table.texts[i] for i in idx]
            table = _Subset(texts, table.labels[idx])
            bounds = np.cumsum([0, sp["train"].size, sp["validation"].size, sp["test"].size])
            sp = {s: np.arange(bounds[k], bounds[k + 1]) for k, s in enumerate(sp)}
        scores: dict[str, tuple[float, float]] = {}
        for precision in PRECISIONS:
            X, secs, hit = embed(list(table.texts), precision)
            embed_rows.append([name, precision, len(table.texts), secs, "hit" if hit else "computed"])
            scores[precision] = probes(X, table, sp, args.seeds)
            print(name, precision, scores[precision], flush=True)
        d_lin = scores["int8"][0] - scores["fp32"][0]
        d_few = scores["int8"][1] - scores["fp32"][1]
        holds = d_lin >= -TOLERANCE and d_few >= -TOLERANCE
        holds_all &= holds
        rows.append([
            name, sp["test"].size, f"{scores['fp32'][0]:.2f}", f"{scores['int8'][0]:.2f}",
            f"{d_lin:+.2f}", f"{scores['fp32'][1]:.2f}", f"{scores['int8'][1]:.2f}", f"{d_few:+.2f}",
            "yes" if holds else "**no**",
        ])
    decision = "int8" if holds_all else "fp32"
    title = "## int8 vs fp32 encoding accuracy (minilm)" + (" — quick smoke run" if args.quick else "")
    text = "\n".join([
        title + "\n",
        f"Command: `{command()}`\n",
        load_start + "\n",
        "Accuracy in % on each set's test split; Δ = int8 − fp32 in points. Linear probe: logistic "
        "head, C chosen on the validation split (10% of train where there is none), test rows "
        f"whose text also occurs in train/validation dropped. 8-shot: logistic head on 8 train rows "
        f"per class, mean over {args.seeds} seeded draws (the same rows for both precisions). One "
        "test row is 100 / n points.\n",
        md_table(["set", "n test", "linear fp32", "linear int8", "Δ linear", "8-shot fp32",
                  "8-shot int8", "Δ 8-shot", f"holds (Δ ≥ −{TOLERANCE})"], rows),
        "",
        f"Decision: **{decision}** is minilm's CPU default "
        + ("(int8 holds on every set)." if holds_all else "(int8 misses the 0.3-point rule on at "
           "least one set, so the default stays fp32; `--precision int8` remains available)."),
        "",
        "Embedding (seconds include the cache lookup; `hit` = served from the cache):\n",
        md_table(["set", "precision", "texts", "seconds", "cache"], embed_rows),
        "",
        f"Total run {time.perf_counter() - started:.0f} s.\n",
    ])
    out = write_fragment("precision-quick" if args.quick else "precision", text)
    print(text)
    print("wrote", out)


class _Subset:
    """The texts and labels of a sampled table (quick mode)."""

    def __init__(self, texts: list[str], labels: np.ndarray) -> None:
        self.texts, self.labels = texts, labels


if __name__ == "__main__":
    main()
