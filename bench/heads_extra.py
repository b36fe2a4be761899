"""GZSL on Banking77 (the MLP vs logistic vs LDA table is ``bench/mlp.py``).

    python bench/heads_extra.py --part gzsl [--seeds 2]

MiniLM embeddings from the cache. 20 of Banking77's 77 intents are unseen (their training rows
are never used; seeded per seed); the zero-shot expert embeds the class names with the prompt
ensemble; seen head: logistic.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

from headwise.datasets import load_table  # noqa: E402
from headwise.workflows import embed_texts  # noqa: E402


def _load(name: str):
    table = load_table(SHARED_DATA / f"{name}.jsonl.gz")
    emb = embed_texts(table.texts, "minilm", {}, batch_size=64)
    return table, emb


def part_gzsl(seeds: int) -> str:
    from headwise.encoders import get_encoder
    from headwise.heads._zeroshot import TEXT_TEMPLATES, class_text_weights, label_to_name
    from headwise.protocols import gzsl_eval

    table, emb = _load("banking77")
    tr, te = table.split_indices("train"), table.split_indices("test")
    y = table.labels
    classes = np.unique(y)
    W = class_text_weights(get_encoder("minilm"), [label_to_name(c) for c in classes], TEXT_TEMPLATES)
    vectors = dict(zip(classes.tolist(), W, strict=True))
    rows, t0 = [], time.perf_counter()
    per: dict[str, list[list[float]]] = {}
    for s in range(seeds):
        unseen = np.random.default_rng(100 + s).choice(classes, size=20, replace=False)
        res = gzsl_eval(emb.X[tr], y[tr], emb.X[te], y[te], class_vectors=vectors, unseen=unseen,
                        seen_head="logistic", seed=s)  # fmt: skip
        for m, sc in res.methods.items():
            per.setdefault(m, []).append([sc.seen, sc.unseen, sc.harmonic, sc.ausuc])
        print(s, res.methods, flush=True)
    for m, v in per.items():
        a = 100 * np.mean(v, axis=0)
        rows.append(["banking77 (57 seen / 20 unseen)", m, *a.tolist()])
    return ("## Generalized zero-shot (Banking77, 20 unseen intents)\n\n"
            f"Command: `{command()}` ({time.perf_counter() - t0:.0f} s)\n\n{machine()}\n\n"
            f"Mean over {seeds} seeds (unseen intents drawn per seed). Seen/unseen: mean per-class "
            "accuracy over all 77 classes; H: harmonic mean; AUSUC: area under the seen–unseen "
            "accuracy curve (calibrated stacking: sweep of γ; COSMO: sweep of the gate's bias). "
            "`seen_head_only` never predicts an unseen class.\n\n"
            + md_table(["data", "method", "seen %", "unseen %", "H %", "AUSUC %"], rows) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", choices=("gzsl",), default="gzsl")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    print(write_fragment("gzsl", part_gzsl(args.seeds)))


if __name__ == "__main__":
    main()
