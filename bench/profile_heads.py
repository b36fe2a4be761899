"""Where a head's fit time goes: cProfile of ridge, LDA and logistic on a synthetic workload.

Usage: python bench/profile_heads.py [--n 100000] [--d 384] [--c 100] [--heads ridge,lda,logistic]
       python bench/profile_heads.py --set banking77 --shots 8 --heads auto   # few-shot auto

Prints one float32 ``X.T @ X`` (the floor the heads are measured against) and the top functions by
own time for each head's ``fit``; the numbers quoted in bench/results/targets-notes.md come from it.
``--set`` profiles instead on a shared text set's MiniLM embeddings (cached), ``--shots`` rows per
class drawn by MTEB's undersampling (first experiment), as in ``bench/accuracy.py``'s mteb setting.
Times are CPU seconds (``time.process_time``): with one BLAS thread
(``OPENBLAS_NUM_THREADS=1``) they are the work done, whatever else the machine runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from heads import gaussian_clusters
from headwise.heads import get_head


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--c", type=int, default=100)
    ap.add_argument("--heads", default="ridge,lda,logistic")
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--set", default="", help="a shared text set instead of synthetic data")
    ap.add_argument("--shots", type=int, default=0, help="rows per class drawn from --set (0: all)")
    args = ap.parse_args()
    if args.set:
        from accuracy import load_set

        from headwise.protocols import mteb_undersample

        X, y, _, _ = load_set(args.set)
        if args.shots:
            idx = mteb_undersample(y, args.shots, 1)[0]
            X, y = X[idx], y[idx]
    else:
        w = gaussian_clusters(args.n, args.d, args.c, n_test=1000)
        X, y = w.X, w.y
    t0 = time.process_time()
    X.T @ X
    print(f"{X.shape[0]} rows x {X.shape[1]}; floor (XᵀX): {time.process_time() - t0:.3f} CPU s")
    for name in args.heads.split(","):
        prof = cProfile.Profile(time.process_time)
        t0 = time.process_time()
        prof.enable()
        get_head(name).fit(X, y)
        prof.disable()
        print(f"== {name}: fit {time.process_time() - t0:.2f} CPU s")
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue().split("Ordered by")[1])


if __name__ == "__main__":
    main()
