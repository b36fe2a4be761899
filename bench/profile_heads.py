"""Where a head's fit time goes: cProfile of ridge, LDA and logistic on a synthetic workload.

Usage: python bench/profile_heads.py [--n 100000] [--d 384] [--c 100] [--heads ridge,lda,logistic]

Prints one float32 ``X.T @ X`` (the floor the heads are measured against) and the top functions by
own time for each head's ``fit``; the numbers quoted in bench/results/targets-notes.md come from it.
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
    args = ap.parse_args()
    w = gaussian_clusters(args.n, args.d, args.c, n_test=1000)
    t0 = time.process_time()
    w.X.T @ w.X
    print(f"floor (float32 XᵀX): {time.process_time() - t0:.2f} CPU s")
    for name in args.heads.split(","):
        prof = cProfile.Profile(time.process_time)
        t0 = time.process_time()
        prof.enable()
        get_head(name).fit(w.X, w.y)
        prof.disable()
        print(f"== {name}: fit {time.process_time() - t0:.2f} CPU s")
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue().split("Ordered by")[1])


if __name__ == "__main__":
    main()
