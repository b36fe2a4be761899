"""LLM layers, attention heads and token probes → bench/results/llm_tokens.md.

Part 1 (SmolLM2-135M-Instruct on SST-2): a layer sweep over the 31 hidden states (last-token and
mean pooling; ridge with validation-chosen α, and LDA) and an attention-head sweep over the
30 blocks × 9 heads (each head's 64-d output before o_proj), with the site chosen on a
validation part of the training rows. Part 2 (MiniLM token features on SST-2 and Emotion):
attentive and moment probes against mean-pooled LDA and logistic probes.

Usage: HEADWISE_CACHE_DIR=/work/hwcache python bench/llm_tokens.py [--quick] [--parts llm,tokens]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402


def load(name: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    return (
        [r["text"] for r in rows],
        np.array([r["label"] for r in rows]),
        np.array([r["split"] for r in rows]),
    )


def subsample(splits: np.ndarray, split: str, n: int | None, seed: int) -> np.ndarray:
    idx = np.flatnonzero(splits == split)
    if n is None or idx.size <= n:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size=n, replace=False))


def llm_part(n_train: int, n_test: int | None, quick: bool) -> tuple[str, dict]:
    from headwise.encoders import get_encoder
    from headwise.probing import head_sweep, layer_sweep, plot_sweep, site_features

    texts, labels, splits = load("sst2")
    tr, te = subsample(splits, "train", n_train, 0), subsample(splits, "dev", n_test, 1)
    rows = np.concatenate([tr, te])
    X_texts, y = [texts[i] for i in rows], labels[rows]
    train, test = np.arange(tr.size), np.arange(tr.size, rows.size)
    enc = get_encoder("smollm2")
    layers = "0,15,30" if quick else "all"
    blocks = "0,29" if quick else "all"
    poolings = ("last", "mean")
    targets = [(r, None, p) for r in range(31) for p in poolings] if not quick else [
        (r, None, p) for r in (0, 15, 30) for p in poolings
    ]
    targets += [(b, h, p) for b in (range(30) if not quick else (0, 29)) for h in range(9) for p in poolings]
    t0 = time.perf_counter()
    site_features(enc, X_texts, targets, batch_size=16, progress=True)  # one pass, all sites cached
    embed_s = time.perf_counter() - t0
    common = dict(train=train, test=test, layers=layers)
    out, figures = [], {"embed_seconds": embed_s, "n_train": int(tr.size), "n_test": int(te.size)}
    out.append(
        f"### SmolLM2-135M-Instruct on SST-2: {tr.size} train (seeded subsample of 6,920), "
        f"{te.size} test (the dev split)\n\n"
        f"Features of {len(targets)} sites (31 hidden states and 270 attention heads, each with "
        f"last-token and mean pooling) from one forward pass per batch: {embed_s:.0f} s including "
        "the model load (a rerun reads the cache). Each site gets a fresh head fitted on 80% of "
        "the training rows and scored on the other 20% (validation); the head is then refitted "
        "on all training rows and scored on the test rows. The best site is picked by validation "
        "accuracy only.\n"
    )
    layer_results = {}
    for head in ("ridge", "lda"):
        r = layer_sweep(enc, X_texts, y, poolings=poolings, head=head, **common)
        layer_results[head] = r
        figures[f"layers_{head}"] = r.to_dict()
    cols = ["layer"] + [f"{h} {p} test %" for h in layer_results for p in poolings]
    body = []
    ridge = layer_results["ridge"]
    for i, layer in enumerate(ridge.rows):
        body.append([layer] + [100 * layer_results[h].test_accuracy[i, j] for h in layer_results
                               for j in range(len(poolings))])  # fmt: skip
    out.append("#### Layer sweep (test accuracy %, every hidden state; 0 = embeddings)\n")
    out.append(md_table(cols, body) + "\n")
    for head, r in layer_results.items():
        out.append(
            f"- {head}: validation picks layer {r.best[0]} with {r.best[1]} pooling "
            f"(val {100 * r.best_val_accuracy:.1f}%) → **test {100 * r.best_test_accuracy:.1f}%**; "
            f"the best test accuracy of any site is {100 * np.nanmax(r.test_accuracy):.1f}%."
        )
    out.append("")
    for pooling in poolings:
        for head in ("ridge", "lda"):
            r = head_sweep(enc, X_texts, y, pooling=pooling, head=head,
                           train=train, test=test, layers=blocks)  # fmt: skip
            figures[f"heads_{pooling}_{head}"] = r.to_dict()
            out.append(
                f"#### Attention heads, {pooling} pooling, {head}: {len(r.rows)}×{len(r.columns)} "
                f"sites; validation picks block {r.best[0]} head {r.best[1]} → test "
                f"{100 * r.best_test_accuracy:.1f}%\n"
            )
            out.append(md_table(
                ["rank", "block", "head", "val %", "test %"],
                [[k + 1, b, h, 100 * v, 100 * t] for k, (b, h, v, t) in enumerate(r.top(10))],
            ) + "\n")  # fmt: skip
            per_block = r.test_accuracy.max(axis=1)
            out.append(
                "Best head per block (test %): "
                + ", ".join(f"{b}: {100 * a:.0f}" for b, a in zip(r.rows, per_block, strict=True))
                + f". Median over all heads: {100 * np.median(r.test_accuracy):.1f}%.\n"
            )
            if pooling == "mean" and head == "ridge":
                png = RESULTS / ("llm_heads_heatmap-quick.png" if quick else "llm_heads_heatmap.png")
                try:
                    plot_sweep(r, png)
                    out.append(f"Heatmap: `{png.relative_to(RESULTS.parent.parent)}`.\n")
                except Exception as exc:  # matplotlib is optional
                    out.append(f"No heatmap: {exc}\n")
    return "\n".join(out), figures


def token_part(dataset: str, n_train: int, n_test: int, test_split: str, quick: bool) -> tuple[str, dict]:
    from headwise.encoders import get_encoder
    from headwise.heads import AttentiveProbeHead, LDAHead, LogisticHead, MomentProbeHead
    from headwise.store import EmbeddingStore

    texts, labels, splits = load(dataset)
    tr, te = subsample(splits, "train", n_train, 0), subsample(splits, test_split, n_test, 1)
    rows = np.concatenate([tr, te])
    enc = get_encoder("minilm", pooling="tokens")
    t0 = time.perf_counter()
    es = EmbeddingStore().get_or_compute(enc, [texts[i] for i in rows], batch_size=64)
    tokens = es.token_embeddings()
    embed_s = time.perf_counter() - t0
    y = labels[rows]
    lengths = np.diff(tokens.offsets)

    def part(idx: np.ndarray) -> list[np.ndarray]:
        return [tokens[i] for i in idx]

    train, test = np.arange(tr.size), np.arange(tr.size, rows.size)
    Xtr, Xte = part(train), part(test)
    mean_tr = np.stack([x.mean(axis=0) for x in Xtr])
    mean_te = np.stack([x.mean(axis=0) for x in Xte])
    candidates = [
        ("mean-pool LDA", LDAHead(), True),
        ("mean-pool logistic", LogisticHead(), True),
        ("attentive (4 queries, key 64)", AttentiveProbeHead(max_epochs=5 if quick else 100), False),
        ("moment (PCA r=16) + LDA", MomentProbeHead(rank=16), False),
        ("moment (PCA r=32) + LDA", MomentProbeHead(rank=32), False),
        ("moment (PCA r=16) + logistic", MomentProbeHead(rank=16, head="logistic"), False),
    ]
    body, figures = [], {}
    for name, head, pooled in candidates:
        t0 = time.perf_counter()
        head.fit(mean_tr if pooled else Xtr, y[train])
        fit_s = time.perf_counter() - t0
        acc = float(head.score(mean_te if pooled else Xte, y[test]))
        note = ""
        if isinstance(head, AttentiveProbeHead):
            note = f"{head.n_epochs_} epochs, best {head.best_epoch_}"
        body.append([name, 100 * acc, fit_s, note])
        figures[name] = {"test_accuracy": acc, "fit_seconds": fit_s}
        print(f"{dataset}: {name}: {100 * acc:.2f}% in {fit_s:.1f} s {note}", flush=True)
    text = (
        f"### {dataset}: {tr.size} train, {te.size} test ({test_split} split), "
        f"{len(np.unique(y))} classes\n\n"
        f"MiniLM token features (`pooling=\"tokens\"`, layer 6, special tokens included): "
        f"{int(lengths.sum()):,} tokens, median {int(np.median(lengths))} per text; embedding "
        f"through the cache took {embed_s:.0f} s. Mean pooling is the plain average of the same "
        "token vectors (MiniLM's own pooling, before its L2 normalisation).\n\n"
        + md_table(["probe", "test acc %", "fit s", "notes"], body)
        + "\n"
    )
    return text, figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--parts", default="llm,tokens")
    args = ap.parse_args()
    parts = args.parts.split(",")
    quick = args.quick
    sections = [
        "## LLM layers, attention heads and token probes\n",
        f"Command: `HEADWISE_CACHE_DIR=/work/hwcache {command()}`\n",
        machine() + "\n",
    ]
    figures: dict = {}
    if "llm" in parts:
        text, figs = llm_part(60 if quick else 2000, 40 if quick else None, quick)
        sections.append(text)
        figures["smollm2_sst2"] = figs
    if "tokens" in parts:
        sections.append("### Token probes on MiniLM token features\n")
        for dataset, n_tr, n_te, split in (("sst2", 2000, 872, "dev"), ("emotion", 4000, 2000, "test")):
            text, figs = token_part(dataset, 100 if quick else n_tr, 60 if quick else n_te, split, quick)
            sections.append(text)
            figures[f"minilm_{dataset}"] = figs
    # One fragment per part run on its own, so the two parts can run in parallel.
    name = "llm_tokens" if parts == ["llm", "tokens"] else f"llm_tokens_{'_'.join(parts)}"
    name += "-quick" if quick else ""
    path = write_fragment(name, "\n".join(sections))
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=1, default=float))
    print("wrote", path)


if __name__ == "__main__":
    main()
