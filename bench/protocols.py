"""Figures for the evaluation protocols (issue #4) on MiniLM embeddings of the shared data.

    HEADWISE_CACHE_DIR=/work/hwcache python bench/protocols.py --figures a,b,c,d,e

(a) MTEB preset on Banking77 / Emotion next to headwise heads on the same sampled rows;
(b) class-incremental Banking77 in 7 tasks; (c) layer sweep on SST-2; (d) zero-shot accuracy;
(e) transductive vs inductive few-shot on Banking77. Each figure replaces its own section of
bench/results/protocols.md, with the exact command that produced it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, replace_section  # noqa: E402

from headwise.datasets import load_table  # noqa: E402
from headwise.workflows import embed_texts  # noqa: E402

OUT = RESULTS / "protocols.md"
PUBLISHED_MTEB = {"banking77": 80.04, "emotion": 40.83}  # all-MiniLM-L6-v2, MTEB leaderboard


def load(name: str, label_col: str = "label_text"):
    table = load_table(SHARED_DATA / f"{name}.jsonl.gz", label_col=label_col)
    emb = embed_texts(table.texts, "minilm", {}, batch_size=64)
    splits = {s: table.split_indices(s) for s in ("train", "validation", "test")}
    return table, emb, splits


def fig_a() -> str:
    from headwise.protocols import mteb_eval, mteb_samples_per_label

    rows = []
    for name in ("banking77", "emotion"):
        table, emb, sp = load(name, label_col="label")  # MTEB's integer labels
        X, y = emb.X, table.labels
        spl = mteb_samples_per_label(name)
        t0 = time.perf_counter()
        res = mteb_eval(X[sp["train"]], y[sp["train"]], X[sp["test"]], y[sp["test"]],
                        samples_per_label=spl, heads="ncm,lda,ridge,logistic")
        secs = time.perf_counter() - t0
        for head, s in res.heads.items():
            pub = PUBLISHED_MTEB[name] if head == "mteb-logreg" else None
            rows.append([name, spl, head, f"{100 * s.mean:.2f}", f"{100 * s.ci95:.2f}",
                         f"{pub:.2f}" if pub else None, secs if head == "mteb-logreg" else None])
    return md_table(["data", "per label", "head", "accuracy %", "±95% %", "published MTEB %", "total s"], rows)


def fig_b() -> str:
    from headwise.protocols import class_incremental_eval

    table, emb, sp = load("banking77")
    X, y = emb.X, table.labels
    res = class_incremental_eval("ncm,lda,ridge,rpridge", X[sp["train"]], y[sp["train"]],
                                 X[sp["test"]], y[sp["test"]], n_tasks=7, seeds=(0,))
    rows = [[n, *(100 * v for v in c.accuracy_after_task), 100 * c.average, 100 * c.final,
             100 * c.forgetting] for n, c in res.heads.items()]
    cols = ["head", *(f"after task {t + 1}" for t in range(7)), "average", "final", "forgetting"]
    return md_table(cols, rows) + "\n\nAccuracy % on the test rows of all classes seen so far; seed 0 class order."


def fig_c() -> str:
    from headwise.encoders import get_encoder
    from headwise.protocols import embed_layers, layer_sweep_eval

    table = load_table(SHARED_DATA / "sst2.jsonl.gz")
    enc = get_encoder("minilm")
    by_layer = embed_layers(enc, table.texts, "all")
    sp = {s: table.split_indices(s) for s in ("train", "validation", "test")}
    res = {h: layer_sweep_eval(h, by_layer, table.labels, train_idx=sp["train"], test_idx=sp["test"],
                               val_idx=sp["validation"]) for h in ("lda", "ridge")}
    rows = [[layer, *(100 * v for h in ("lda", "ridge")
                      for v in (res[h].val_accuracy[i, 0], res[h].test_accuracy[i, 0]))]
            for i, layer in enumerate(res["lda"].layers)]
    return md_table(["layer", "lda val %", "lda test %", "ridge val %", "ridge test %"], rows)


def fig_d() -> str:
    from headwise.encoders import get_encoder
    from headwise.protocols import zero_shot_eval

    enc = get_encoder("minilm")
    rows = []
    for name in ("banking77", "emotion", "sst2", "trec"):
        table, emb, sp = load(name)
        y = table.labels
        res = zero_shot_eval(enc, emb.X[sp["test"]], y[sp["test"]], labels=np.unique(y))
        chance = 100 * np.max(np.unique(y[sp["test"]], return_counts=True)[1]) / sp["test"].size
        rows.append([name, len(res.class_names), res.n_test, 100 * res.accuracy, 100 * res.macro_f1,
                     chance, ", ".join(res.class_names[:4]) + (", …" if len(res.class_names) > 4 else "")])
    return md_table(["data", "classes", "test rows", "accuracy %", "macro-F1 %", "majority %", "names"], rows)


def fig_e() -> str:
    from headwise.protocols import transductive_eval

    table, emb, sp = load("banking77")
    X, y = emb.X, table.labels
    res = transductive_eval("ncm,lda", X[sp["train"]], y[sp["train"]], X[sp["test"]], y[sp["test"]],
                            shots=(1, 5), seeds=10)
    rows = [[n, *(f"{100 * m:.2f} ± {100 * c:.2f}" for m, c in zip(cv.mean, cv.ci95, strict=True))]
            for n, cv in res.heads.items()]
    return md_table(["head", "1-shot %", "5-shot %"], rows) + (
        "\n\n10 seeds; mean ± 95% t-interval; the transductive head sees the 3,080 test rows as one "
        "unlabelled batch.")


def fig_f() -> str:
    from headwise.encoders import get_encoder
    from headwise.heads import BlendHead, LogisticHead, NCMHead, ZeroShotHead
    from headwise.protocols import few_shot_eval
    from headwise.workflows import StoreBackedEncoder

    table, emb, sp = load("banking77")
    X, y = emb.X, table.labels
    minilm = StoreBackedEncoder(get_encoder("minilm"))  # prompts embedded once, then cached
    heads = {"zeroshot": ZeroShotHead(minilm), "blend": BlendHead(minilm),
             "blend λ=0.1": BlendHead(minilm, prior_strength=0.1),
             "logistic": LogisticHead(), "ncm": NCMHead()}
    res = few_shot_eval(heads, X[sp["train"]], y[sp["train"]], X[sp["test"]], y[sp["test"]],
                        shots=(1, 4, 16), seeds=5)
    rows = [[n, *(f"{100 * m:.2f} ± {100 * c:.2f}" for m, c in zip(cv.mean, cv.ci95, strict=True))]
            for n, cv in res.heads.items()]
    return md_table(["head", "1-shot %", "4-shot %", "16-shot %"], rows) + (
        "\n\n5 seeds. `zeroshot` ignores the rows (class names only); `blend` has a Gaussian prior "
        "(precision λ) around its weights, so the data outweigh it as rows grow. `blend` chooses λ "
        "on held-out rows (3 folds up to 1000 rows, a 10% holdout above; at 1 shot no row can be "
        "held out, so it takes the middle of its grid, 0.1); `blend λ=0.1` is the fixed strength it had before.")


FIGURES = {
    "a": ("(a) MTEB classification preset vs headwise heads on the same sampled rows", fig_a),
    "b": ("(b) Class-incremental Banking77, 7 tasks, no stored examples", fig_b),
    "c": ("(c) Layer sweep, SST-2 (validation-chosen settings per layer)", fig_c),
    "d": ("(d) Zero-shot accuracy from label names (5-template ensemble)", fig_d),
    "e": ("(e) Transductive vs inductive few-shot, Banking77", fig_e),
    "f": ("(f) Zero-shot prior blended with few-shot data (BlendHead), Banking77", fig_f),
}


HEADER = (
    "## Evaluation protocols (issue #4)\n\nEncoder: all-MiniLM-L6-v2 (`minilm`, ONNX backend), "
    "embeddings from the shared cache. Accuracies in %.\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--figures", default="a,b,c,d,e")
    args = ap.parse_args()
    for key in args.figures.split(","):
        title, fn = FIGURES[key]
        t0 = time.perf_counter()
        table = fn()
        cache = os.environ.get("HEADWISE_CACHE_DIR")  # the command as run, not as it once was
        prefix = f"HEADWISE_CACHE_DIR={cache} " if cache else ""
        body = (f"### {title}\n\nCommand: `{prefix}{command()}` "
                f"({time.perf_counter() - t0:.0f} s)\n\n{machine()}\n\n{table}")
        text = OUT.read_text() if OUT.exists() else HEADER  # re-read: figures may run in parallel
        OUT.write_text(replace_section(text, "fig", key, body))
        print(body, flush=True)


if __name__ == "__main__":
    main()
