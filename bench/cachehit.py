"""`headwise embed` cache hit vs recompute, as a user sees it on the command line.

Usage: python bench/cachehit.py [--quick] [--data banking77] [--repeats 5]

A fresh embedding cache (ONNX export warmed up first, so neither side pays it): the first
`headwise embed` computes and writes the vectors, the next ones hit. Two figures per run: the
seconds the command reports for its own work (`--json` "seconds": build the encoder and its key,
hash every input, look up or compute, write), and the process's wall time (Python start-up and
imports included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SHARED_DATA, command, machine, md_table, write_fragment


def embed(path: Path, env: dict[str, str]) -> tuple[float, float, bool]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "headwise.cli.main", "embed", str(path), "--json"],
        capture_output=True, text=True, env=env, check=True,
    )
    wall = time.perf_counter() - t0
    rec = json.loads(out.stdout)
    return float(rec["seconds"]), wall, bool(rec["cache_hit"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default="banking77")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="headwise-hit-"))
    try:
        data = SHARED_DATA / f"{args.data}.jsonl.gz"
        encoder_note = "minilm (default backend)"
        if args.quick:  # CI smoke run: a few rows with the hash encoder
            import gzip

            rows = gzip.open(data, "rt").read().splitlines()[:200]
            data = tmp / "small.jsonl"
            data.write_text("\n".join(rows) + "\n")
            args.repeats = 2
        env = {**os.environ, "HEADWISE_CACHE_DIR": str(tmp / "cache"), "HEADWISE_PROGRESS": "0"}
        warm = tmp / "warm.jsonl"
        warm.write_text(json.dumps({"text": "warm up the ONNX export", "label": 0}) + "\n")
        embed(warm, env)
        first_s, first_wall, hit = embed(data, env)
        assert not hit, "the first run must compute"
        hits = [embed(data, env) for _ in range(args.repeats)]
        assert all(h for _, _, h in hits), "later runs must hit the cache"
        hit_s = statistics.median(s for s, _, _ in hits)
        hit_wall = statistics.median(w for _, w, _ in hits)
        n = sum(1 for _ in open(data, "rb")) if data.suffix == ".jsonl" else None
        table = md_table(
            ["measure", "compute (1st run)", f"hit (median of {args.repeats})", "compute ÷ hit"],
            [
                ["in-command s", first_s, hit_s, first_s / hit_s],
                ["process wall s", first_wall, hit_wall, first_wall / hit_wall],
            ],
        )
        text = "\n".join([
            "## Cache hit vs recompute from the CLI (`headwise embed`)\n",
            f"Command: `{command()}`\n",
            machine() + "\n",
            f"Data: `{data.name if args.quick else 'shared/data/' + args.data + '.jsonl.gz'}`"
            f"{f' ({n} rows)' if n else ''}, encoder {encoder_note}, a fresh cache. The hit builds "
            "the encoder key from the model's JSON files and a weight digest remembered on disk "
            "(torch, transformers and onnxruntime are not imported), hashes every text and maps the "
            "shards. Wall time adds Python start-up and imports (numpy, typer, rich, the CLI's "
            "modules).\n",
            table,
            "",
        ])
        write_fragment("cachehit-quick" if args.quick else "cachehit", text)
        print(text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
