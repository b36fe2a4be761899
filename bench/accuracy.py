"""Accuracy of every headwise head and ``auto`` against sklearn's LogisticRegression (issue #12).

    nice -n 10 python bench/accuracy.py [--sets sst2,trec,...] [--methods auto,logistic,...]
    OPENBLAS_NUM_THREADS=1 ...   # on a busy machine: spinning BLAS threads cost 5-10x
    python bench/accuracy.py --quick          # CI smoke: synthetic data, no encoder

all-MiniLM-L6-v2 embeddings (``get_encoder("minilm")``, through the headwise cache) of the shared
text sets, two settings on the same rows for every method:

* ``mteb``: MTEB's classification protocol, 10 experiments of ``samples_per_label`` rows per class
  (8; 16 for Emotion) drawn by MTEB's own undersampling (:func:`headwise.protocols.mteb_undersample`),
  accuracy on the full test split; mean and 95% t-interval over the experiments.
* ``full``: all training rows, one fit; the 95% interval is the binomial one of the test accuracy.

``trec50``, ``goemotions1``, ``r8`` and ``r52`` (``DERIVED``) are standard single-label views of
other shared data, added after every method and setting here had been chosen: sets nobody tuned
on, as the issue asks.

``auto`` gets the set's class names (``meta.json``) and the encoder, as ``headwise fit --head
auto`` does, so its zero-shot prior competes; ``auto-nonames`` is ``auto`` on the labels alone.
``zeroshot`` (no training row) and ``blend`` (logistic pulled toward the zero-shot weights) get
the same names and encoder.

Results are merged into ``bench/results/accuracy.json`` keyed by (set, setting, method), so a run
with ``--methods`` only refreshes those methods; ``bench/results/accuracy.md`` is rendered from it
with every command that contributed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import RESULTS, SHARED_DATA, command, machine, md_table

from headwise._atomic import atomic_write

SETS = ("sst2", "trec", "emotion", "banking77", "20newsgroups")
# standard single-label views of other shared data, added after every method here was chosen
# (no setting was tuned on them): a check on sets nobody tuned on (see derived_table)
DERIVED = ("trec50", "goemotions1", "r8", "r52")
HEADS = ("ncm", "lda", "ridge", "logistic", "knn", "nb", "rpridge", "transductive", "svm", "mlp",
         "logitadjust", "zeroshot", "blend", "auto", "auto-nonames")
CANDIDATES = ("ncm", "lda", "ridge", "knn", "logistic")  # auto's default candidates
NAMED = ("zeroshot", "blend")  # heads that read the class names through the encoder
AUTOS = ("auto", "auto-nonames")
SKLEARN = ("sklearn-lr-100", "sklearn-lr-1000")
JSON = RESULTS / "accuracy.json"
QUICK = ("sklearn-lr-100", "ncm", "lda", "ridge", "logistic", "knn", "auto")


def make_method(name: str, class_names: list[str] | None = None) -> Callable[[], Any]:
    """A factory of fresh, unfitted estimators for a method name.

    ``auto`` is what ``headwise fit --head auto`` fits: given the set's class names, it gets the
    encoder (through the cache, as the workflow passes it) for its zero-shot prior;
    ``auto-nonames`` is ``auto`` on the labels alone, as ``fit(X, y)`` without an encoder.
    """
    if name.startswith("sklearn-lr-"):
        from sklearn.linear_model import LogisticRegression

        it = int(name.rsplit("-", 1)[1])
        return lambda: LogisticRegression(random_state=42, max_iter=it)
    from headwise.heads import get_head

    if name in ("auto", *NAMED) and class_names is not None:
        from headwise.encoders import get_encoder
        from headwise.workflows import StoreBackedEncoder

        encoder = StoreBackedEncoder(get_encoder("minilm"))
        return lambda: get_head(name, encoder=encoder, class_names=class_names)
    return lambda: get_head("auto" if name in AUTOS else name)


def label_names(name: str) -> list[str]:
    """The set's class names, one per label id (its ``meta.json``), read as the CLI reads
    ``label_text`` labels (underscores as spaces)."""
    from headwise.heads._zeroshot import label_to_name

    if name in DERIVED:
        return [label_to_name(n) for n in derived_table(name)[3]]
    names = json.loads((SHARED_DATA / f"{name}.meta.json").read_text())["label_names"]
    return [label_to_name(n) for n in names]


def derived_table(name: str) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Texts, label ids, splits and class names of a standard single-label view of shared data
    (see ``DERIVED``): TREC's fine question types; GoEmotions comments with exactly one label;
    Reuters-21578 ModApte stories with exactly one topic, R52 (topics with a story in both
    splits) and R8 (its eight largest topics in training)."""
    import gzip

    source = {"trec50": "trec", "goemotions1": "goemotions", "r8": "reuters21578",
              "r52": "reuters21578"}[name]
    with gzip.open(SHARED_DATA / f"{source}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    rows = [r for r in rows if r["split"] in ("train", "test")]
    if name == "trec50":
        labels = [r["fine_label"] for r in rows]
    else:
        rows = [r for r in rows if len(r["label_texts"]) == 1]
        labels = [r["label_texts"][0] for r in rows]
    split = np.array([r["split"] for r in rows])
    labels_arr = np.array(labels)
    if name in ("r8", "r52"):
        train, test = set(labels_arr[split == "train"]), set(labels_arr[split == "test"])
        keep = train & test
        if name == "r8":
            sizes = {c: int(np.sum(labels_arr[split == "train"] == c)) for c in keep}
            keep = set(sorted(keep, key=lambda c: (-sizes[c], c))[:8])
        mask = np.isin(labels_arr, sorted(keep))
        rows = [rows[i] for i in np.flatnonzero(mask)]
        labels_arr, split = labels_arr[mask], split[mask]
    names, ids = np.unique(labels_arr, return_inverse=True)
    return [r["text"] for r in rows], ids, split, [str(n) for n in names]


def load_set(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MiniLM embeddings and integer labels of the train and test splits (cached)."""
    from headwise.datasets import load_table
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    if name in DERIVED:
        texts, labels, split = derived_table(name)[:3]
        tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    else:
        table = load_table(SHARED_DATA / f"{name}.jsonl.gz", label_col="label")
        texts, labels = table.texts, table.labels
        tr, te = table.split_indices("train"), table.split_indices("test")
    encoder = get_encoder("minilm")
    store = EmbeddingStore()
    es = store.lookup(encoder, texts) or store.get_or_compute(encoder, texts, batch_size=64)
    X = es.to_numpy()
    return X[tr], labels[tr], X[te], labels[te]


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tiny Gaussian classes with anisotropic noise (the ``--quick`` smoke data)."""
    rng = np.random.default_rng(seed)
    k, d = 5, 32
    means = rng.normal(size=(k, d)) * 0.6
    scale = np.exp(rng.uniform(-1.0, 1.0, d))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, k, n)
        return (means[y] + rng.normal(size=(n, d))) * scale, y

    (X, y), (Xt, yt) = draw(400), draw(400)
    return X.astype(np.float32), y, Xt.astype(np.float32), yt


def t_interval(scores: list[float]) -> float:
    from scipy import stats

    if len(scores) < 2:
        return 0.0
    return float(stats.t.ppf(0.975, len(scores) - 1) * np.std(scores, ddof=1) / np.sqrt(len(scores)))


def test_log_loss(est: Any, Xt: np.ndarray, yt: np.ndarray) -> float:
    """Mean test log-loss of ``est``'s probabilities (sklearn's clipping at 1e-15; a test label
    the fit never saw counts as probability 1e-15)."""
    proba = np.asarray(est.predict_proba(Xt), dtype=np.float64)
    col = {c: i for i, c in enumerate(np.asarray(est.classes_).tolist())}
    idx = np.array([col.get(c, -1) for c in yt.tolist()])
    p = np.where(idx >= 0, proba[np.arange(yt.size), np.maximum(idx, 0)], 0.0)
    return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))


def run_one(factory: Callable[[], Any], X: np.ndarray, y: np.ndarray, Xt: np.ndarray,
            yt: np.ndarray, samples: list[np.ndarray] | None) -> dict[str, Any]:
    """Fit on each sample (or all rows), score on the test split. Besides accuracy it keeps
    the test log-loss and, for one fit on all rows, which test rows were right (packed bits,
    for McNemar's paired test against another method on the same rows)."""
    accs, lls, secs, extra, right = [], [], [], [], None
    for idx in samples if samples is not None else [np.arange(y.size)]:
        est = factory()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(X[idx], y[idx])
            secs.append(time.perf_counter() - t0)
            hit = np.asarray(est.predict(Xt) == yt)
            accs.append(float(np.mean(hit)))
            lls.append(test_log_loss(est, Xt, yt))
        extra.append(describe(est))
        right = np.packbits(hit).tobytes().hex()
    mean = float(np.mean(accs))
    ci = (t_interval(accs) if samples is not None
          else 1.96 * float(np.sqrt(mean * (1 - mean) / yt.size)))
    out = {"mean": mean, "ci95": ci, "per_run": accs, "fit_s_median": statistics.median(secs),
           "chosen": extra, "log_loss": float(np.mean(lls)), "per_run_log_loss": lls}
    if samples is None:
        out["right"] = right
    return out


def log_losses(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Both methods' mean test log-loss (the proper score accuracy's ties and flips hide)."""
    if "log_loss" not in a or "log_loss" not in b:
        return None
    return f"{a['log_loss']:.3f} / {b['log_loss']:.3f}"


def paired(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """``a − b`` in points with its paired evidence: over the MTEB experiments, the 95%
    t-interval of the per-experiment differences (the same rows for both); for one fit on all
    rows, McNemar's exact p on the test rows only one of the two got right. ``None`` when a
    result predates these fields."""
    from scipy.stats import binomtest

    diff = 100 * (a["mean"] - b["mean"])
    if "right" in a and "right" in b:
        ra, rb = (np.unpackbits(np.frombuffer(bytes.fromhex(r["right"]), np.uint8)).astype(bool)
                  for r in (a, b))
        only_a, only_b = int(np.sum(ra & ~rb)), int(np.sum(rb & ~ra))
        p = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
        return f"{diff:+.2f} ({only_a} vs {only_b} rows, p {p:.2f})"
    if len(a["per_run"]) > 1 and len(a["per_run"]) == len(b["per_run"]) and "log_loss" in a:
        d = 100 * (np.asarray(a["per_run"]) - np.asarray(b["per_run"]))
        h = t_interval(d.tolist())
        return f"{diff:+.2f} [{d.mean() - h:+.2f}, {d.mean() + h:+.2f}]"
    return None


def describe(est: Any) -> str:
    """What a tuned head chose (C, alpha, ensemble weights), for the table's notes."""
    from headwise.heads import chosen_settings

    if hasattr(est, "members_"):
        return " ".join(f"{n}:{w:.2f}" for n, w in chosen_settings(est).items() if w > 0)
    return ", ".join(f"{k}={v:.3g}" for k, v in chosen_settings(est).items())


def render(results: dict[str, Any], quick: bool) -> str:
    lines = ["## Accuracy: headwise heads and `auto` vs sklearn LogisticRegression (issue #12)\n"]
    lines.append("Commands (each refreshed the methods it names; results merged):\n")
    lines += [f"- `{c}`" for c in results.get("commands", [])]
    lines.append("")
    lines.append(results.get("machine", ""))
    lines.append(
        "\nall-MiniLM-L6-v2 embeddings. `mteb`: MTEB's protocol, 10 experiments of 8 rows per "
        "class (16 for Emotion) by MTEB's undersampling, full test split, mean ± 95% t-interval "
        "over experiments. `full`: all training rows, one fit, ± 95% binomial interval of the test "
        "accuracy. Accuracy in %. `fit s`: median fit seconds on this shared machine."
        if not quick else "\nSynthetic smoke data (5 Gaussian classes, 32 features)."
    )
    data = results["data"]
    for setting in ("mteb", "full"):
        sets = [s for s in data if setting in data[s]]
        if not sets:
            continue
        methods = [m for m in (*SKLEARN, *HEADS)
                   if any(m in data[s][setting] for s in sets)]
        rows = []
        for m in methods:
            row: list[Any] = [m]
            for s in sets:
                r = data[s][setting].get(m)
                row.append(None if r is None else f"{100 * r['mean']:.2f} ± {100 * r['ci95']:.2f}")
            rows.append(row)
        lines.append(f"\n### {setting}\n")
        lines.append(md_table(["method", *sets], rows))
        ref = "sklearn-lr-100"
        auto_rows, logistic_rows = [], []
        for s in sets:
            d = data[s][setting]
            if "auto" in d and ref in d:
                best = max((m for m in d if m not in SKLEARN and m not in AUTOS),
                           key=lambda m: d[m]["mean"], default=None)
                auto_rows.append([
                    s, paired(d["auto"], d[ref]) or f"{100 * (d['auto']['mean'] - d[ref]['mean']):+.2f}",
                    f"{100 * (d['auto']['mean'] - d['sklearn-lr-1000']['mean']):+.2f}"
                    if "sklearn-lr-1000" in d else None,
                    f"{100 * (d['auto-nonames']['mean'] - d[ref]['mean']):+.2f}"
                    if "auto-nonames" in d else None,
                    log_losses(d["auto"], d[ref]),
                    f"{best} {100 * d[best]['mean']:.2f}" if best else None,
                    f"{d['auto']['fit_s_median']:.2f}",
                    max((d[m]["fit_s_median"] for m in d if m in CANDIDATES),
                        default=None),
                    "; ".join(sorted(set(d["auto"]["chosen"])))[:120],
                ])
            lr = "sklearn-lr-1000"
            if "logistic" in d and lr in d and paired(d["logistic"], d[lr]):
                logistic_rows.append([s, paired(d["logistic"], d[lr]),
                                      log_losses(d["logistic"], d[lr]),
                                      "; ".join(sorted(set(d["logistic"]["chosen"])))[:80]])
        evidence = ("95% t-interval of the paired per-experiment differences"
                    if setting == "mteb" else
                    "rows only one of the two got right, McNemar's exact p")
        if auto_rows:
            lines.append(f"\n`auto` against sklearn ({setting}; in brackets: {evidence}):\n")
            lines.append(md_table(["set", "auto − lr(100) pt", "auto − lr(1000) pt",
                                   "auto without class names − lr(100) pt",
                                   "test log-loss auto / lr(100)", "best single head",
                                   "auto fit s", "slowest candidate fit s", "auto's choice"],
                                  auto_rows))
        if logistic_rows:
            lines.append(f"\nThe logistic head against `LogisticRegression(max_iter=1000)` "
                         f"({setting}; in brackets: {evidence}):\n")
            lines.append(md_table(["set", "logistic − lr(1000) pt",
                                   "test log-loss logistic / lr(1000)", "logistic's C"],
                                  logistic_rows))
        notes = []
        for s in sets:
            for m in ("logistic", "ridge", "lda"):
                r = data[s][setting].get(m)
                if r and any(r["chosen"]):
                    notes.append(f"{s}/{m}: " + ", ".join(sorted(set(r["chosen"])))[:100])
        if notes:
            lines.append(f"\nTuned values ({setting}): " + "; ".join(notes) + ".")
    lines += [f"\nNote: {n}" for n in results.get("notes", [])]
    lines += render_timing(results)
    return "\n".join(lines) + "\n"


TIMED = ("sklearn-lr-100", "sklearn-lr-1000", "ncm", "lda", "ridge", "knn", "logistic", "auto")


def timing(name: str, repeats: int) -> dict[str, Any]:
    """Median fit seconds of each method, interleaved (same load), 8-shot and full data."""
    from headwise.protocols import mteb_undersample

    X, y, _, _ = load_set(name)
    out: dict[str, Any] = {}
    for setting, idx in (("mteb", mteb_undersample(y, 8, 1)[0]), ("full", np.arange(y.size))):
        secs: dict[str, list[float]] = {m: [] for m in TIMED}
        for _ in range(repeats):
            for m in TIMED:
                est = make_method(m, label_names(name))()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    est.fit(X[idx], y[idx])
                    secs[m].append(time.perf_counter() - t0)
        out[setting] = {"rows": int(idx.size), **{m: statistics.median(v) for m, v in secs.items()}}
        print(name, setting, {m: round(v, 2) for m, v in out[setting].items()}, flush=True)
    return out


def render_timing(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, t in results.get("timing", {}).items():
        lines.append(f"\n### Fit time on {name} (`{t['command']}`, median of {t['repeats']}, "
                     "methods interleaved so they share the load)\n")
        rows = []
        for setting in ("mteb", "full"):
            d = t[setting]
            heads = max(d[m] for m in CANDIDATES)
            rows.append([f"{setting} ({d['rows']} rows)", *(f"{d[m]:.2f}" for m in TIMED),
                         f"{d['auto'] / d['sklearn-lr-100']:.2f}", f"{d['auto'] / heads:.2f}"])
        lines.append(md_table(["setting", *(f"{m} s" for m in TIMED), "auto / lr(100)",
                               "auto / slowest head"], rows))
        lines.append(f"\n{t['machine']}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sets", default=",".join((*SETS, *DERIVED)))
    ap.add_argument("--methods", default=",".join((*SKLEARN, *HEADS)))
    ap.add_argument("--settings", default="mteb,full")
    ap.add_argument("--timing", default="", help="time the fits on this set instead (banking77)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--render", action="store_true", help="only re-render accuracy.md from the JSON")
    args = ap.parse_args()
    if args.render:
        atomic_write(RESULTS / "accuracy.md", render(json.loads(JSON.read_text()), False).encode())
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from headwise.protocols import mteb_samples_per_label, mteb_undersample

    methods = args.methods.split(",")
    if args.quick and args.methods == ap.get_default("methods"):
        methods = [m for m in methods if m in QUICK]
    sets = ["synthetic"] if args.quick else args.sets.split(",")
    path = RESULTS / "accuracy-quick.json" if args.quick else JSON
    mine: dict[str, Any] = {}
    info = {"command": command(), "machine": machine()}
    if args.timing:
        t = {**timing(args.timing, args.repeats), "command": info["command"],
             "repeats": args.repeats, "machine": info["machine"]}
        results = merge(path, {}, info, fresh=False, timing={args.timing: t})
        atomic_write(RESULTS / "accuracy.md", render(results, False).encode())
        return
    for name in sets:
        X, y, Xt, yt = synthetic() if args.quick else load_set(name)
        n_exp = 2 if args.quick else 10
        spl = mteb_samples_per_label(name)
        for setting in args.settings.split(","):
            samples = mteb_undersample(y, spl, n_exp) if setting == "mteb" else None
            for m in methods:
                t0 = time.perf_counter()
                names = None if args.quick else label_names(name)
                r = run_one(make_method(m, names), X, y, Xt, yt, samples)
                mine.setdefault(name, {}).setdefault(setting, {})[m] = r
                print(f"{name:13s} {setting:5s} {m:16s} {100 * r['mean']:6.2f} ± "
                      f"{100 * r['ci95']:.2f}  fit {r['fit_s_median']:.2f}s "
                      f"({time.perf_counter() - t0:.0f}s) {r['chosen'][0]}", flush=True)
                results = merge(path, mine, info, fresh=args.quick)
    out = RESULTS / ("accuracy-quick.md" if args.quick else "accuracy.md")
    atomic_write(out, render(results, args.quick).encode())
    print("wrote", out)


def merge(path: Path, mine: dict[str, Any], info: dict[str, str], fresh: bool,
          timing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Re-read the results file and put this run's entries in it; runs may overlap (several
    processes, one per set, share the machine), so the read-modify-write holds a file lock."""
    import fcntl

    lock = path.with_suffix(".lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            return _merge(path, mine, info, fresh, timing)
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _merge(path: Path, mine: dict[str, Any], info: dict[str, str], fresh: bool,
           timing: dict[str, Any] | None) -> dict[str, Any]:
    results = json.loads(path.read_text()) if path.exists() and not fresh else {}
    results.setdefault("timing", {}).update(timing or {})
    results.setdefault("data", {})
    results.setdefault("commands", [])
    if info["command"] not in results["commands"] and not timing:
        results["commands"].append(info["command"])
    results["machine"] = info["machine"]
    for name, settings in mine.items():
        for setting, methods in settings.items():
            results["data"].setdefault(name, {}).setdefault(setting, {}).update(methods)
    if not fresh:  # the quick smoke run keeps its numbers in the -quick.md only
        atomic_write(path, json.dumps(results, indent=1).encode())
    return results


if __name__ == "__main__":
    main()
