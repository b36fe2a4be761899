"""Trust figures on real MiniLM embeddings: calibration, conformal sets, incremental validity, OOD.

Usage: HEADWISE_CACHE_DIR=/work/hwcache python bench/trust.py [--datasets banking77,emotion]

Protocol (fixed, seeded):
- embeddings: ``minilm`` (all-MiniLM-L6-v2, mean pooled, L2-normalised) through the cache;
- calibration split: a stratified 20% of the **train** split (``stratified_holdout``, seed 0);
  heads are fitted on the other 80%; everything is measured on the **test** split (Emotion's
  validation split is not used);
- temperature T is fitted on the calibration rows; conformal scores use softmax(logits / T) and
  the same calibration rows; RAPS uses lam = 0.01, k_reg = 1 (the defaults, not tuned);
- class-incremental: Banking77's 77 classes in a seeded random order, 7 tasks of 11 classes; after
  each task LDA/NCM ``partial_fit`` the task's fit rows and the conformal wrapper's
  ``partial_update`` adds the task's calibration rows; coverage on the test rows of the classes
  seen so far; T is refitted after each task on all calibration rows so far;
- OOD: a seeded random 10 of Banking77's classes (1 of Emotion's 6) are removed from training and
  calibration; AUROC of known-class test rows vs held-out-class test rows; false-alarm and
  detection rates at the conformal threshold for α = 0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
from _common import RESULTS, SHARED_DATA, command, machine, md_table
from scipy.special import softmax

from headwise.encoders import get_encoder
from headwise.heads import get_head
from headwise.splits import stratified_holdout
from headwise.store import EmbeddingStore
from headwise.trust import (
    ConformalClassifier,
    OODDetector,
    TemperatureScaler,
    calibration_metrics,
    ood_auroc,
    set_coverage,
)

HEADS = ("lda", "logistic")
VARIANTS = (("lac", False), ("aps", False), ("raps", False), ("lac", True), ("aps", True))
ALPHAS = (0.1, 0.05)


def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    X = EmbeddingStore().get_or_compute(get_encoder("minilm"), [r["text"] for r in rows]).to_numpy()
    return np.asarray(X, np.float64), np.array([r["label"] for r in rows]), np.array([r["split"] for r in rows])


def splits(y: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    train = np.flatnonzero(split == "train")
    fit_pos, cal_pos = stratified_holdout(y[train], 0.2, random_state=0)
    return train[fit_pos], train[cal_pos], np.flatnonzero(split == "test")


def calibration_and_conformal(name, X, y, fit, cal, test) -> tuple[list, list]:
    cal_rows, conf_rows = [], []
    for head_name in HEADS:
        t0 = time.perf_counter()
        head = get_head(head_name).fit(X[fit], y[fit])
        fit_s = time.perf_counter() - t0
        codes_cal = np.searchsorted(head.classes_, y[cal])
        codes_test = np.searchsorted(head.classes_, y[test])
        ts = TemperatureScaler().fit(head.logits(X[cal]), codes_cal)
        z = head.logits(X[test])
        before = calibration_metrics(codes_test, softmax(z, axis=1))
        after = calibration_metrics(codes_test, ts.predict_proba(z))
        cal_rows.append([name, head_name, f"{fit_s:.1f}", before.accuracy, ts.temperature_,
                         before.ece, after.ece, before.classwise_ece, after.classwise_ece,
                         before.nll, after.nll])
        for method, mondrian in VARIANTS:
            cp = ConformalClassifier(head, method=method, mondrian=mondrian, temperature=ts.temperature_)
            cp.calibrate(X[cal], y[cal])
            for alpha in ALPHAS:
                sets = cp.predict_set(X[test], alpha)
                r = set_coverage(sets, codes_test)
                worst = min(sets[codes_test == k, k].mean() for k in np.unique(codes_test))
                conf_rows.append([name, head_name, method + (" mondrian" if mondrian else ""), alpha,
                                  r["coverage"], worst, r["mean_size"]])
    return cal_rows, conf_rows


def incremental(X, y, fit, cal, test) -> list:
    tasks = np.array_split(np.random.default_rng(0).permutation(np.unique(y)), 7)
    rows = []
    for head_name in ("lda", "ncm"):
        for method in ("lac", "aps"):
            cp = ConformalClassifier(get_head(head_name), method=method)
            seen: list = []
            cov, size, acc, temps = [], [], [], []
            for t, task in enumerate(tasks):
                seen += task.tolist()
                tr, ca = fit[np.isin(y[fit], task)], cal[np.isin(y[cal], task)]
                cp.partial_fit(X[tr], y[tr])
                cp.calibrate(X[ca], y[ca]) if t == 0 else cp.partial_update(X[ca], y[ca])
                # T refitted on all calibration rows so far (re-used for the conformal scores)
                codes_cal = np.searchsorted(cp.classes_, cp.y_cal_)
                cp.temperature = TemperatureScaler().fit(cp.calibration_logits(), codes_cal).temperature_
                temps.append(cp.temperature)
                te = test[np.isin(y[test], seen)]
                codes = np.searchsorted(cp.classes_, y[te])
                r = set_coverage(cp.predict_set(X[te], 0.1), codes)
                cov.append(r["coverage"])
                size.append(r["mean_size"])
                acc.append(float(np.mean(cp.head.predict(X[te]) == y[te])))
            rows.append([head_name, method, "coverage", *cov])
            rows.append([head_name, method, "mean set size", *size])
            rows.append([head_name, method, "accuracy", *acc])
            rows.append([head_name, method, "temperature T", *temps])
    return rows


def ood(name, X, y, fit, cal, test, n_out) -> list:
    out = np.random.default_rng(0).choice(np.unique(y), n_out, replace=False)
    keep_fit, keep_cal = fit[~np.isin(y[fit], out)], cal[~np.isin(y[cal], out)]
    is_out = np.isin(y[test], out)
    rows = []
    for head_name in HEADS:
        head = get_head(head_name).fit(X[keep_fit], y[keep_fit])
        for method in ("msp", "energy", "mahalanobis"):
            if method == "mahalanobis" and head_name != "lda":
                continue
            det = OODDetector(head, method).calibrate(X[keep_cal])
            s_in, s_out = det.score(X[test[~is_out]]), det.score(X[test[is_out]])
            thr = det.threshold(0.1)
            rows.append([name, head_name, method, n_out, int(is_out.sum()), ood_auroc(s_in, s_out),
                         float(np.mean(s_in > thr)), float(np.mean(s_out > thr))])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", default="banking77,emotion")
    ap.add_argument("--out", type=Path, default=RESULTS / "trust.md")
    args = ap.parse_args()
    header = machine()
    cal_rows, conf_rows, ood_rows, inc_rows, sizes = [], [], [], [], []
    for name in args.datasets.split(","):
        X, y, split = load(name)
        fit, cal, test = splits(y, split)
        sizes.append(f"{name}: fit {fit.size}, calibration {cal.size}, test {test.size}, {np.unique(y).size} classes")
        c, f = calibration_and_conformal(name, X, y, fit, cal, test)
        cal_rows += c
        conf_rows += f
        ood_rows += ood(name, X, y, fit, cal, test, 10 if name == "banking77" else 1)
        if name == "banking77":
            inc_rows = incremental(X, y, fit, cal, test)
        print(f"{name} done", flush=True)
    doc = [
        "## Trust: calibration, conformal sets, incremental validity, OOD (minilm embeddings)",
        "",
        f"Command: `HEADWISE_CACHE_DIR=/work/hwcache {command()}`",
        "",
        header,
        "",
        "Protocol: " + " ".join(ln.strip() for ln in __doc__.split("Protocol (fixed, seeded):")[1].splitlines()),
        "",
        "Rows: " + "; ".join(sizes) + ".",
        "",
        "### Calibration (test split; ECE with 15 equal-width bins)",
        "",
        md_table(["data", "head", "fit s", "accuracy", "T", "ECE before", "ECE after",
                  "classwise ECE before", "classwise ECE after", "NLL before", "NLL after"], cal_rows),
        "",
        "### Conformal sets (test split; probabilities at the fitted T)",
        "",
        md_table(["data", "head", "score", "α", "coverage", "worst-class coverage", "mean set size"], conf_rows),
        "",
    ]
    if inc_rows:
        doc += [
            "### Banking77 class-incremental, 7 tasks of 11 classes, α = 0.1 (marginal, T refitted per task)",
            "",
            md_table(["head", "score", "measure", *[f"after task {t}" for t in range(1, 8)]], inc_rows),
            "",
        ]
    doc += [
        "### OOD with held-out classes (α = 0.1 threshold from known-class calibration rows)",
        "",
        md_table(["data", "head", "score", "held-out classes", "OOD test rows", "AUROC",
                  "false-alarm rate", "detection rate"], ood_rows),
        "",
    ]
    args.out.write_text("\n".join(doc))
    print("\n".join(doc))


if __name__ == "__main__":
    main()
