"""Can a few labels tell DHO the pool's class mix? (issue #15, the ideas tried and rejected)

    python bench/active_classmix.py [--sets trec,emotion,banking77] [--seeds 5]

DHO chooses its mixture on labelled rows drawn evenly per class. Where the test set is skewed,
that judges the teacher on the wrong mix: the zero-shot head's accuracy and its class-balanced
accuracy (the mean per-class recall, what an even draw estimates) are printed side by side.
Weighting the held-out rows by the pool's class mix would fix the judgement if the mix could be
estimated. This measures the L1 error of the estimates that need no more than the teacher and
1/2/4/8 labels per class: the uniform mix (what an even draw assumes), the teacher's predicted
histogram, black-box shift estimation (Lipton et al., 2018) with the teacher's soft confusion
matrix on the labelled rows, and Saerens et al.'s EM prior adjustment of the teacher; and the
test accuracy of the teacher after the EM adjustment. Writes the `classmix` section of
bench/results/active.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, command, machine, md_table, replace_section  # noqa: E402

from active import HEADER, load  # noqa: E402
from headwise.protocols import sample_per_class, summarize  # noqa: E402

OUT = RESULTS / "active.md"


def em_prior(P: np.ndarray, n_iter: int = 200) -> np.ndarray:
    """Saerens et al. (2002): the class mix under which ``P`` (fitted at a uniform prior) fits."""
    pi = np.full(P.shape[1], 1.0 / P.shape[1])
    for _ in range(n_iter):
        Q = P * pi
        pi = (Q / Q.sum(axis=1, keepdims=True)).mean(axis=0)
    return pi


def bbse(P: np.ndarray, lab: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Black-box shift estimate: ``mean P = C π`` with ``C[:, k]`` the mean ``P`` of class k's labels."""
    K = P.shape[1]
    C = np.stack([P[lab[codes == k]].mean(axis=0) for k in range(K)], axis=1)
    rho = 10.0  # the sum-to-one row, weighted so that it binds
    pi, _ = nnls(np.r_[C, rho * np.ones((1, K))], np.r_[P.mean(axis=0), rho])
    return pi / pi.sum()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="trec,emotion,banking77")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = []
    for name in args.sets.split(","):
        d = load(name)
        zs = d["teacher"]
        classes = zs.classes_
        y = np.searchsorted(classes, d["ytr"])
        yte = np.searchsorted(classes, d["yte"])
        K = classes.size
        P, Pte = zs.predict_proba(d["Xtr"]), zs.predict_proba(d["Xte"])
        true = np.bincount(y, minlength=K) / y.size
        pred = Pte.argmax(axis=1)
        balanced = np.mean([np.mean(pred[yte == k] == k) for k in range(K)])
        em = em_prior(P)
        em_acc = np.mean((Pte * em).argmax(axis=1) == yte)
        hist = np.bincount(P.argmax(axis=1), minlength=K) / y.size
        errs = []
        for k in (1, 2, 4, 8):
            e = [np.abs(bbse(P, lab, y[lab]) - true).sum()
                 for lab in (sample_per_class(d["ytr"], k, s) for s in range(args.seeds))]
            m, h = summarize(e)
            errs.append(f"{m:.2f} ± {h:.2f}")
        rows.append([name, f"{100 * np.mean(pred == yte):.2f}", f"{100 * balanced:.2f}",
                     f"{100 * em_acc:.2f}", f"{np.abs(1 / K - true).sum():.2f}",
                     f"{np.abs(hist - true).sum():.2f}", f"{np.abs(em - true).sum():.2f}", *errs])
        print(rows[-1], flush=True)
    cols = ["data", "zero-shot acc", "zero-shot balanced acc", "after EM prior", "L1 uniform",
            "L1 teacher histogram", "L1 EM", "L1 BBSE 1/class", "2", "4", "8"]
    body = (f"### Can a few labels tell the pool's class mix? (tried, rejected)\n\nCommand: "
            f"`{command()}` ({time.perf_counter() - t0:.0f} s)\n\n{machine()}\n\n"
            + md_table(cols, rows)
            + "\n\nAccuracies in % on the test split; L1: distance of an estimate of the train "
            "pool's class mix from the true one (2 is the largest possible), BBSE over "
            f"{args.seeds} seeds of labelled rows (mean ± 95% t-interval).")
    text = OUT.read_text() if OUT.exists() else HEADER
    OUT.write_text(replace_section(text, "part", "classmix", body))
    print(body)


if __name__ == "__main__":
    main()
