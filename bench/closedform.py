"""Closed-form heads (NCM, LDA, ridge) against their physical floor and the sklearn a user tunes.

Usage: python bench/closedform.py [--quick] [--workloads 100k,1m,banking77] [--repeats 3]

Two targets (issue 19), both measured in this run on the same data:

* ``fit ≤ 1.5 × one float32 XᵀX pass`` on the 100k- and 1M-row workloads. The floor and the fit
  are timed back to back in every repeat and the ratio is the median of the per-repeat ratios,
  so load from other processes hits both alike. At 10k rows the d×d solve (``O(d³)``, no longer
  small against ``n·d²``) dominates: the table splits the fit into the statistics pass and the
  solve, and the 10k row is reported, not judged.
* ``≥ 10 ×`` faster than the scikit-learn configuration a user would tune in practice:
  ``GridSearchCV(LinearDiscriminantAnalysis(solver="lsqr"), 5 shrinkages, 5-fold)``,
  ``RidgeClassifierCV`` with the same 13 alphas as headwise's path, and
  ``GridSearchCV(NearestCentroid, 5 shrink_threshold values, 5-fold)``; test accuracy of both
  sides is listed. scikit-learn runs that take over 30 s are timed once.

Quick mode (CI) runs a 3,000-row workload and writes ``closedform-quick.md``.

``--precision-check`` adds what the only route under 1.5× would cost: the Gram matrix as
float32 ``syrk`` per block of rows (rows shifted by the first block's mean, block results summed
in float64, the shift undone exactly with the float64 class sums), timed against the floor, and
its error against the float64 statistics on an ill-conditioned synthetic case (feature scales
over six decades, a mean ten times the spread): Gram entries, LDA weights and predictions, and
whether an incremental fit still equals the batch fit to the tests' 1e-12.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, command, machine, md_table, write_fragment  # noqa: E402

from heads import ALPHAS, Workload, gaussian_clusters, real_workload  # noqa: E402

SHRINKAGES = tuple(float(s) for s in np.logspace(-3, 0, 5))  # 0.001 … 1
SHRINK_THRESHOLDS = (None, 0.1, 0.3, 1.0, 3.0)
FLOOR_TARGET, SKLEARN_TARGET = 1.5, 10.0
BIG_ROWS = 100_000  # the floor target applies from here up


def heads() -> list[tuple[str, Callable[[], Any], str, Callable[[], Any]]]:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import NearestCentroid

    from headwise.heads import get_head

    return [
        ("ncm (euclidean)", lambda: get_head("ncm", metric="euclidean"),
         "GridSearchCV(NearestCentroid, shrink_threshold ×5, 5-fold)",
         lambda: GridSearchCV(NearestCentroid(), {"shrink_threshold": list(SHRINK_THRESHOLDS)}, cv=5)),
        ("lda (OAS)", lambda: get_head("lda"),
         "GridSearchCV(LDA(lsqr), shrinkage ×5, 5-fold)",
         lambda: GridSearchCV(LinearDiscriminantAnalysis(solver="lsqr"),
                              {"shrinkage": list(SHRINKAGES)}, cv=5)),
        ("ridge (13-α path, GCV)", lambda: get_head("ridge", alphas=ALPHAS),
         "RidgeClassifierCV(same 13 alphas)", lambda: RidgeClassifierCV(alphas=ALPHAS)),
    ]  # fmt: skip


def stats_seconds(make: Callable[[], Any], X: np.ndarray, y: np.ndarray) -> float:
    """Seconds of the statistics pass the head's fit makes (what it needs, nothing more)."""
    from headwise.heads import SufficientStats

    head = make()
    t0 = time.perf_counter()
    SufficientStats.from_data(X, y, gram=head._needs_gram, squares=head._needs_squares)
    return time.perf_counter() - t0


def _gram_float32_blocks(X: np.ndarray, block: int = 16384) -> np.ndarray:
    """``Σ x xᵀ`` from float32 ``syrk`` on shifted row blocks, summed and un-shifted in float64."""
    n, d = X.shape
    m = X[: min(block, n)].mean(axis=0, dtype=np.float64)
    G = np.zeros((d, d))
    for a in range(0, n, block):
        C = X[a : a + block] - m.astype(X.dtype)
        G += C.T @ C  # numpy turns this into a float32 syrk
    s = X.sum(axis=0, dtype=np.float64)
    return G + np.outer(m, s) + np.outer(s, m) - n * np.outer(m, m)


def precision_check(repeats: int) -> str:
    """Time and error of the float32 block Gram against float64 statistics (see the docstring)."""
    from headwise.heads import SufficientStats, get_head

    rng = np.random.default_rng(0)
    n, d, k = 100_000, 384, 100
    scales = np.logspace(-3, 3, d)
    means = rng.standard_normal((k, d)) * scales * 0.5
    y = rng.integers(0, k, n)
    X = (rng.standard_normal((n, d)) * scales + means[y] + 10 * scales).astype(np.float32)
    Xte_y = rng.integers(0, k, 20000)
    Xte = (rng.standard_normal((20000, d)) * scales + means[Xte_y] + 10 * scales).astype(np.float32)
    exact = SufficientStats.from_data(X, y, squares=False)
    G64 = exact.gram_full
    floors, f32, f64 = [], [], []  # CPU seconds (one BLAS thread): robust to load
    for _ in range(repeats):
        c0 = time.process_time()
        _ = X.T @ X
        floors.append(time.process_time() - c0)
        c0 = time.process_time()
        G32 = _gram_float32_blocks(X)
        f32.append(time.process_time() - c0)
        c0 = time.process_time()
        SufficientStats.from_data(X, y, squares=False)
        f64.append(time.process_time() - c0)
    norm = np.sqrt(np.outer(np.diag(G64), np.diag(G64)))
    gram_err = float(np.max(np.abs(G32 - G64) / norm))
    scatter64 = exact.within_scatter()
    approx = SufficientStats(exact.classes, exact.counts, exact.sums, None, G32.copy(order="F"))
    scatter32 = approx.within_scatter()
    wnorm = np.sqrt(np.outer(np.diag(scatter64), np.diag(scatter64)))
    scatter_err = float(np.max(np.abs(scatter32 - scatter64) / wnorm))
    lda64, lda32 = get_head("lda"), get_head("lda")
    lda64._solve(exact)
    lda32._solve(approx)
    coef_err = float(np.max(np.abs(lda32.coef_ - lda64.coef_)) / np.max(np.abs(lda64.coef_)))
    agree = 100 * float(np.mean(
        (Xte.astype(np.float64) @ lda32.coef_.T + lda32.intercept_).argmax(1)
        == (Xte.astype(np.float64) @ lda64.coef_.T + lda64.intercept_).argmax(1)))
    half = n // 2 + 123  # incremental = two updates split off the block grid
    inc = _gram_float32_blocks(X[:half]) + _gram_float32_blocks(X[half:])
    inc_err = float(np.max(np.abs(inc - G32) / norm))
    floor = statistics.median(floors)
    rows = [[
        "float64 statistics (now)", statistics.median(f64), statistics.median(f64) / floor,
        "0 (the reference)", "0", "–", "100", "holds (≤ 1e-12 relative)"],
        ["float32 syrk per 16k-row block, float64 totals", statistics.median(f32),
         statistics.median(f32) / floor, f"{gram_err:.1e}", f"{scatter_err:.1e}",
         f"{coef_err:.1e}", f"{agree:.2f}",
         f"breaks: split 50,123 / rest differs from batch by {inc_err:.1e} relative"],
    ]  # fmt: skip
    return "\n".join([
        "### Precision check: the float32 Gram route\n",
        f"Ill-conditioned synthetic case: {n:,}×{d}, {k} classes, feature scales 1e-3…1e3, mean "
        "10× the spread. Errors are the largest entry-wise error relative to "
        "`sqrt(G_ii G_jj)` (Gram, within-class scatter), the largest LDA weight error relative to "
        "the largest weight, and the share of test predictions (20,000 rows) that agree. Floor: "
        f"median {floor:.3f} CPU s over {repeats}; all times here are CPU seconds.\n",
        f"Command: `{command()}`\n",
        machine() + "\n",
        md_table(["statistics pass", "CPU s", "÷ XᵀX", "Gram error", "scatter error",
                  "LDA weight error", "same predictions %", "incremental == batch"], rows) + "\n",
    ])  # fmt: skip


def run(w: Workload, repeats: int, sklearn: bool) -> tuple[str, list[list[Any]]]:
    from sklearn.metrics import accuracy_score

    X, y, Xte, yte = w.X, w.y, w.Xte, w.yte
    floors: list[float] = []
    rows: list[list[Any]] = []
    for name, ours, sk_name, sk in heads():
        ratios, cpu_ratios, fits, model = [], [], [], None
        for _ in range(repeats):  # floor and fit back to back: same load on both
            t0, c0 = time.perf_counter(), time.process_time()
            _ = X.T @ X
            floor, floor_cpu = time.perf_counter() - t0, time.process_time() - c0
            gc.collect()
            t0, c0 = time.perf_counter(), time.process_time()
            model = ours().fit(X, y)
            fit, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
            floors.append(floor)
            fits.append(fit)
            ratios.append(fit / floor)
            cpu_ratios.append(fit_cpu / max(floor_cpu, 1e-9))
        fit_s, ratio = statistics.median(fits), statistics.median(ratios)
        stats_s = statistics.median(stats_seconds(ours, X, y) for _ in range(repeats))
        acc = 100 * accuracy_score(yte, model.predict(Xte))
        sk_fit = sk_acc = speed = None
        note = ""
        if sklearn:
            t0 = time.perf_counter()
            sk_model = sk().fit(X, y)
            first = time.perf_counter() - t0
            sk_rep = repeats if first < 30 else 1
            times = [first]
            for _ in range(sk_rep - 1):
                t0 = time.perf_counter()
                sk().fit(X, y)
                times.append(time.perf_counter() - t0)
            sk_fit = statistics.median(times)
            sk_acc = 100 * accuracy_score(yte, sk_model.predict(Xte))
            speed = sk_fit / fit_s
            best = getattr(sk_model, "best_params_", None) or {"alpha": getattr(sk_model, "alpha_", None)}
            note = f"sklearn chose {best}" + ("; timed once (>30 s)" if sk_rep < repeats else "")
        else:
            note = "sklearn not run (see the header)"
        note += (f"; CPU-time fit ÷ XᵀX {statistics.median(cpu_ratios):.3g} (one BLAS thread: "
                 "less sensitive to load than wall time)")
        rows.append([
            name, fit_s, stats_s, max(fit_s - stats_s, 0.0), ratio,
            "–" if X.shape[0] < BIG_ROWS else ("met" if ratio <= FLOOR_TARGET else "**missed**"),
            f"{acc:.2f}", sk_name, sk_fit, None if sk_acc is None else f"{sk_acc:.2f}", speed,
            "–" if speed is None else ("met" if speed >= SKLEARN_TARGET else "**missed**"),
            note,
        ])  # fmt: skip
        print(name, rows[-1], flush=True)
    header = (
        f"### {w.name}: {X.shape[0]:,} train, {Xte.shape[0]:,} test, {X.shape[1]} dims, "
        f"{np.unique(y).size} classes\n\nFloor (one float32 `X.T @ X`): median {statistics.median(floors):.3f} s "
        f"over {len(floors)} timings ({repeats} per head, each right before that head's fit).\n"
    )
    return header, rows


COLUMNS = ["headwise head", "fit s", "stats pass s", "solve s", "fit ÷ XᵀX", "≤ 1.5× XᵀX",
           "test acc %", "tuned sklearn", "sklearn fit s", "sklearn test acc %",
           "sklearn ÷ headwise", "≥ 10×", "notes"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workloads", default="100k,1m,banking77")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-sklearn", default="",
                    help="comma-separated workloads timed against the floor only (no sklearn)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the sections of workloads not run now from the existing fragment")
    ap.add_argument("--precision-check", action="store_true",
                    help="add the float32-Gram timing and error section (see the docstring)")
    args = ap.parse_args()
    name = "closedform-quick" if args.quick else "closedform"
    threads = os.environ.get("OPENBLAS_NUM_THREADS")
    intro = [
        "## Closed-form heads: XᵀX floor and tuned scikit-learn\n",
        "`fit ÷ XᵀX` is the median over repeats of (headwise fit) ÷ (one float32 `X.T @ X` timed "
        "right before it); `stats pass s` is the statistics pass alone (class sums, and the Gram "
        "matrix for LDA and ridge), `solve s` the rest (the d×d solve, OAS, the ridge path and "
        "GCV). `sklearn ÷ headwise` compares fit times on the same rows in the same run. Each "
        "workload states the command and machine state it ran with.\n",
    ]
    kept = _kept_sections(name) if args.keep else {}
    done: dict[str, str] = {}
    jobs: list[tuple[Callable[[], Workload], int, bool, str]] = []
    if args.quick:
        jobs.append((lambda: gaussian_clusters(3000, 32, 8), 1, True, ""))
    for wl in [] if args.quick else args.workloads.split(","):
        if wl == "100k":
            skip = "100k" in args.skip_sklearn.split(",")
            jobs.append((lambda: gaussian_clusters(100_000, 384, 100), args.repeats, not skip,
                         "scikit-learn not run here (--skip-sklearn): its 5-fold grids take "
                         "10–25 minutes each on this machine; ≥ 10× is judged on Banking77.\n"
                         if skip else ""))
        elif wl == "1m":
            jobs.append((
                lambda: gaussian_clusters(1_000_000, 384, 1000, n_test=20000), 1, False,
                "One repeat; scikit-learn not run at 1M rows: the tuned grids fit 26 times (5 values "
                "× 5 folds + refit) and one LinearDiscriminantAnalysis(lsqr) fit took 262 s here "
                "(bench/results/heads.md), so ≥ 10× is judged on the 100k and Banking77 workloads.\n",
            ))  # fmt: skip
        else:
            jobs.append((lambda wl=wl: real_workload(wl), args.repeats, True, ""))
    for make, repeats, sklearn, note in jobs:
        state = machine() + (f" OPENBLAS_NUM_THREADS={threads}." if threads else "")
        w = make()
        print(f"running {w.name} ...", flush=True)
        header, rows = run(w, repeats, sklearn)
        done[w.name] = "\n".join([header + note, f"Command: `{command()}`\n", state + "\n",
                                  md_table(COLUMNS, rows) + "\n"])
        del w
        gc.collect()
        sections = {**kept, **done}
        write_fragment(name, "\n".join(intro + [sections[k] for k in sections]))
    if args.precision_check:
        done["Precision check"] = precision_check(args.repeats)
        sections = {**kept, **done}
        write_fragment(name, "\n".join(intro + [sections[k] for k in sections]))
    print((RESULTS / f"{name}.md").read_text())


def _kept_sections(name: str) -> dict[str, str]:
    """Workload sections (``### <workload>: ...`` up to the next ``###``) of the fragment."""
    path = RESULTS / f"{name}.md"
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for part in path.read_text().split("\n### ")[1:]:
        title = part.split(":", 1)[0]
        out[title] = "### " + part.rstrip() + "\n"
    return out


if __name__ == "__main__":
    main()
