"""Label efficiency (issue #15) on MiniLM embeddings of Banking77, TREC and Emotion.

    python bench/active.py --parts dho,strategies [--sets banking77,trec,emotion] [--quick]

(dho) DHO with 1/2/4/8 labels per class plus the unlabelled train pool, distilling the
zero-shot head on the class names, against the zero-shot head itself and the same linear (CE)
head trained on the labels alone; 5 seeds, mean and 95% interval. (strategies) Active learning
from one label per class: our strategies next to the `small-text` package's on the same
embeddings and the same refitted DHO student, area under the learning curve at equal budgets.
Each part replaces its own section of bench/results/active.md, with the command that made it.
bench/active_classmix.py measures the class-mix ideas tried for DHO and rejected.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SHARED_DATA, command, machine, md_table, replace_section  # noqa: E402

from headwise.datasets import load_table  # noqa: E402
from headwise.workflows import embed_texts  # noqa: E402

OUT = RESULTS / "active.md"
# TREC's labels are abbreviations; the zero-shot head gets the words they stand for.
CLASS_NAMES = {"trec": {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity",
                        "HUM": "human", "LOC": "location", "NUM": "number"}}  # fmt: skip
HEADER = (
    "## Label efficiency: DHO distillation and active learning (issue #15)\n\nEncoder: "
    "all-MiniLM-L6-v2 (`minilm`), embeddings from the shared cache; teacher: the zero-shot head "
    "on the class names (prompt ensemble). Accuracies in %, mean ± 95% t-interval over seeds.\n"
)


def load(name: str) -> dict[str, Any]:
    from headwise.encoders import get_encoder
    from headwise.heads import ZeroShotHead

    table = load_table(SHARED_DATA / f"{name}.jsonl.gz", label_col="label_text")
    X = embed_texts(table.texts, "minilm", {}, batch_size=64).X
    tr, te = table.split_indices("train"), table.split_indices("test")
    y = table.labels
    zs = ZeroShotHead(get_encoder("minilm"), class_names=CLASS_NAMES.get(name))
    zs.fit_names(np.unique(y[tr]))
    return {"Xtr": X[tr], "ytr": y[tr], "Xte": X[te], "yte": y[te], "teacher": zs}


def ce_only(X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """DHO's CE head alone, on the labels alone: same solver, same decay grid, chosen by CV.

    As in DHOHead, a choice at the weakest decay of the grid goes on one decade lower, up to
    ``extend_decays`` times, so both heads search the same way.
    """
    import torch

    from headwise.heads import DHOHead
    from headwise.heads._soft_linear import cv_folds, fit_soft_linear

    lams = sorted(DHOHead().ce_weight_decays, reverse=True)  # strongest penalty first
    extend = DHOHead().extend_decays
    classes, codes = np.unique(y, return_inverse=True)
    mean = X.mean(axis=0)
    scale = 1.0 / np.sqrt(np.mean(np.sum((X - mean) ** 2, axis=1)))
    Z, Y = (X - mean) * scale, np.eye(classes.size)[codes]
    opts = {"temperature": 1.0, "max_iter": 500, "tol": 1e-6, "device": torch.device("cpu")}
    fold = cv_folds(codes, 5, np.random.default_rng(seed))
    lam = lams[0]
    if fold is not None:
        hits: list[int] = []
        ends: dict[int, Any] = {}  # each fold's path, warm-started from its last fit
        for step in range(extend + 1):
            for j in range(len(hits), len(lams)):
                hits.append(0)
                for f in range(int(fold.max()) + 1):
                    tr, va = fold != f, fold == f
                    W, b, _ = fit_soft_linear(Z[tr], Y[tr], weight_decay=lams[j], start=ends.get(f), **opts)
                    ends[f] = (W, b)
                    hits[j] += int(np.sum((Z[va] @ W + b).argmax(axis=1) == codes[va]))
            best = len(hits) - 1 - int(np.argmax(hits[::-1]))  # ties: the weaker penalty
            if best < len(lams) - 1 or step == extend:
                break
            lams.append(lams[-1] / 10.0)
        lam = lams[best]
    W, b, _ = fit_soft_linear(Z, Y, weight_decay=lam, **opts)
    return lambda Xq: classes[(((Xq - mean) * scale) @ W + b).argmax(axis=1)]


DHO_COLS = ["data", "labels/class", "zero-shot", "zero-shot moved to the pool",
            "DHO (labels + pool + teacher)",
            "CE head, labels alone", "DHO − zero-shot", "DHO − CE (paired)", "beats both", "s"]
DHO_NOTE = (
    "\n\nZero-shot moved to the pool: the zero-shot head's class vectors after one soft k-means "
    "step on the train pool with the names as prior (`pool_prototypes=0.5`; no label used), the "
    "teacher DHO distils unless its labelled rows clearly prefer the plain one. "
    "DHO: default `DHOHead(warm_start=True)`, given the zero-shot head as `teacher=` (teacher moved to the pool, then propagated over the pool's kNN graph at a strength "
    "checked on the labelled rows; CE head's penalty centred on the KD head or on zero and its λ "
    "(1e-3 to 10, going on a decade lower, at most twice, when the CV picks the weakest), "
    "with α and β, chosen by 5-fold CV on the labelled rows, shrunk toward the KD head alone; the "
    "zero-centred candidates only when every class has two labelled rows or more). CE head, labels "
    "alone: the same solver, λ grid and edge rule with the plain zero-centred decay, λ chosen by "
    "5-fold CV accuracy on the labels (the largest λ when no row can be held out). "
    "`DHO − zero-shot` and `DHO − CE (paired)`: mean and 95% t-interval of the per-seed "
    "differences (the same labelled rows for both heads of a seed; the zero-shot head has no "
    "seed, so its interval is DHO's own). `beats both`: yes when both differences' intervals lie "
    "above 0, mean when only both means do, no otherwise."
)


def part_dho(sets: list[str], shots: list[int], seeds: list[int], emit: Any = None) -> str:
    from headwise.heads import DHOHead
    from headwise.heads._teacher import pool_prototypes, prototype_probabilities
    from headwise.protocols import sample_per_class, summarize

    rows: list[list[Any]] = []
    for name in sets:
        d = load(name)
        Xtr, ytr, Xte, yte, zs = d["Xtr"], d["ytr"], d["Xte"], d["yte"], d["teacher"]
        P = zs.predict_proba(Xtr)
        zs_acc = 100 * zs.score(Xte, yte)
        moved = pool_prototypes(Xtr, P, zs.coef_, DHOHead().pool_prototypes)
        moved_acc = 100 * np.mean(zs.classes_[prototype_probabilities(Xte, moved, zs.scale).argmax(1)] == yte)
        dho = DHOHead(warm_start=True)  # the KD head's problem is the same for every k and seed
        for k in shots:
            acc: dict[str, list[float]] = {"dho": [], "ce": []}
            t0 = time.perf_counter()
            for seed in seeds:
                lab = sample_per_class(ytr, k, seed)
                unl = np.setdiff1d(np.arange(ytr.size), lab)
                dho.set_params(random_state=seed)
                dho.fit(Xtr[lab], ytr[lab], X_unlabeled=Xtr[unl], teacher=zs)
                acc["dho"].append(100 * dho.score(Xte, yte))
                acc["ce"].append(100 * np.mean(ce_only(Xtr[lab], ytr[lab], seed)(Xte) == yte))
            cells = [f"{m:.2f} ± {h:.2f}" for m, h in (summarize(acc[n]) for n in ("dho", "ce"))]
            dho_acc = np.asarray(acc["dho"])
            diffs = [summarize(dho_acc - zs_acc), summarize(dho_acc - np.asarray(acc["ce"]))]
            verdict = ("yes" if all(m - h > 0 for m, h in diffs)
                       else "mean" if all(m > 0 for m, _ in diffs) else "no")
            rows.append([name, k, f"{zs_acc:.2f}", f"{moved_acc:.2f}", *cells, *(f"{m:+.2f} ± {h:.2f}" for m, h in diffs),
                         verdict, f"{time.perf_counter() - t0:.0f}"])
            print(rows[-1], flush=True)
            if emit is not None:  # keep what is measured if the run is cut short
                emit(md_table(DHO_COLS, rows) + DHO_NOTE + f"\n\n(partial: up to {name}, {k} labels)")
    return md_table(DHO_COLS, rows) + DHO_NOTE


def small_text_strategies() -> dict[str, Any]:
    """small-text's query strategies as protocol callables (scored on the protocol's model)."""
    try:
        from small_text import BreakingTies, GreedyCoreset, PredictionEntropy, SklearnDataset
    except ImportError:
        return {}

    class _Clf:  # small-text asks its classifier for probabilities of the whole pool
        def __init__(self, P: np.ndarray) -> None:
            self.P = P

        def predict_proba(self, dataset: Any) -> np.ndarray:
            return self.P[np.asarray(dataset.x)[:, 0].astype(np.int64)]

    def wrap(qs_factory: Any, needs_embeddings: bool) -> Any:
        def fn(budget: int, *, X: Any, proba: Any, labeled: Any, labeled_codes: Any, seed: Any) -> np.ndarray:
            n = proba.shape[0]
            lab = np.asarray(labeled, dtype=np.int64)
            unl = np.setdiff1d(np.arange(n), lab)
            ds = SklearnDataset(np.arange(n)[:, None].astype(np.float64), np.zeros(n, dtype=np.int64))
            qs = qs_factory()
            kw = {"embeddings": X[np.r_[unl, lab]], "pbar": None} if needs_embeddings else {}
            y = np.asarray(labeled_codes, dtype=np.int64)
            return np.asarray(qs.query(_Clf(proba), ds, unl, lab, y, n=budget, **kw))

        return fn

    return {
        "small-text PredictionEntropy": wrap(PredictionEntropy, False),
        "small-text BreakingTies": wrap(BreakingTies, False),
        "small-text GreedyCoreset": wrap(lambda: GreedyCoreset(distance_metric="euclidean"), True),
    }


def part_strategies(sets: list[str], seeds: list[int], rounds: int, emit: Any = None) -> str:
    from headwise.heads import DHOHead
    from headwise.protocols import active_eval

    ours = {s: s for s in ("random", "entropy", "margin", "coreset", "pcoreset", "pcb:entropy")}
    peers = small_text_strategies()
    rows = []
    for name in sets:
        d = load(name)
        K = np.unique(d["ytr"]).size
        # last session's student (plain decay, no propagation), so every set's rows compare
        head = DHOHead(ce_weight_decays=(1e-2,), n_folds=3, ce_prior="zero", propagation=(0.0,),
                       kd_weight_decay=1e-4)
        t0 = time.perf_counter()
        res = active_eval(head, d["Xtr"], d["ytr"], d["Xte"], d["yte"], strategies={**ours, **peers},
                          start=1, rounds=rounds, budget=K, seeds=seeds, teacher=d["teacher"])
        secs = time.perf_counter() - t0
        for label, c in res.strategies.items():
            rows.append([name, label, f"{100 * c.aulc.mean:.2f} ± {100 * c.aulc.ci95:.2f}",
                         f"{100 * c.mean[0]:.2f}", f"{100 * c.mean[-1]:.2f} ± {100 * c.ci95[-1]:.2f}",
                         f"{c.n_labels[0]}→{c.n_labels[-1]}"])
            print(rows[-1], flush=True)
        rows.append([name, f"({secs:.0f} s for all strategies)", "", "", "", ""])
        if emit is not None:
            emit(md_table(["data", "strategy", "AULC %", "start %", "end %", "labels"], rows)
                 + f"\n\n(partial: up to {name})")
    note = ("" if peers else "\n\n`small-text` is not installed here: only headwise's strategies ran.")
    return md_table(["data", "strategy", "AULC %", "start %", "end %", "labels"], rows) + (
        f"\n\nStart: one label per class (same rows for every strategy of a seed); {rounds} rounds "
        "of one query per class; the DHO student (CE decay fixed at 1e-2 toward zero, KD decay "
        "1e-4, no propagation, 3-fold α/β choice, warm-started) is refitted after every round and scores the pool for the next query. "
        "small-text's strategies (v1.4, `pip install small-text`) score the same probabilities "
        "(entropy, breaking ties = margin) or the same embeddings (greedy coreset, normalised, "
        "euclidean). AULC: area under accuracy vs labels divided by the label range." + note
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="dho,strategies")
    ap.add_argument("--sets", default="banking77,trec,emotion")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--shots", default="1,2,4,8", help="labels per class (dho part)")
    ap.add_argument("--strategy-seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="TREC only, 2 seeds, 1 and 2 labels")
    ap.add_argument("--section", default=None, help="results section key (default: the part)")
    args = ap.parse_args()
    sets = ["trec"] if args.quick else args.sets.split(",")
    titles = {"dho": "DHO vs zero-shot vs the labels alone",
              "strategies": "Active selection strategies at equal budgets (AULC)"}
    for part in args.parts.split(","):
        if part not in titles:
            raise SystemExit(f"unknown part {part!r}; use dho,strategies")
        t0 = time.perf_counter()
        head = f"### {titles[part]}\n\nCommand: `{command()}`"
        where = machine()

        def emit(table: str, part: str = part, head: str = head, where: str = where) -> None:
            if args.quick:
                return
            body = f"{head} ({time.perf_counter() - t0:.0f} s)\n\n{where}\n\n{table}"
            text = OUT.read_text() if OUT.exists() else HEADER  # re-read: parts may run in parallel
            OUT.write_text(replace_section(text, "part", args.section or part, body))

        if part == "dho":
            shots = [1, 2] if args.quick else [int(k) for k in args.shots.split(",")]
            table = part_dho(sets, shots, list(range(2 if args.quick else args.seeds)), emit)
        else:
            table = part_strategies(sets, list(range(1 if args.quick else args.strategy_seeds)),
                                    2 if args.quick else args.rounds, emit)
        emit(table)
        print(f"{head} ({time.perf_counter() - t0:.0f} s)\n\n{table}", flush=True)


if __name__ == "__main__":
    main()
