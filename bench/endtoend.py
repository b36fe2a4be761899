"""End to end: `headwise quickstart` from a cold cache vs the script a user writes by hand.

Usage: python bench/endtoend.py [--quick] [--repeats 3] [--data ../shared/data/banking77.jsonl.gz]

A = ``headwise quickstart DATA --json --precision fp32`` with its own empty HEADWISE_CACHE_DIR
every run (so the ONNX export, the embedding of every row and all six heads plus its sklearn
baseline are timed), and A' = the same with ``--precision int8`` (the default int8 recipe); the
table marks which of the two is minilm's default (``MINILM_DEFAULT_PRECISION``, read when the
fragment is written);
B = ``python bench/handwritten_probe.py DATA`` (sentence-transformers ``encode`` + sklearn
``LogisticRegression`` over 5 C values chosen on the same 10% holdout of train, refit, test).
Same encoder weights, same train/test split. They run in turn, A A' B A A' B …, after one
untimed warm-up round on 150 rows (imports, page cache); every figure is whole-process wall time,
and the ratio B ÷ A is taken round by round, then its median quoted, so drift in the machine's
load hits both sides of a ratio alike. Target: A at least 3× faster at equal or better test accuracy.
Quick mode (CI): 800 rows, one round, fragment ``endtoend-quick``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, SHARED_DATA, command, machine, md_table, write_fragment  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGET = 3.0


def quick_data(tmp: Path, n: int = 600) -> Path:
    """Seeded random ``n`` train and ``n // 3`` test rows of ``n // 10`` Banking77 classes."""
    import random

    with gzip.open(SHARED_DATA / "banking77.jsonl.gz", "rt") as f:
        lines = f.readlines()
    random.Random(0).shuffle(lines)
    rows = [json.loads(line) for line in lines]
    # n train rows from the fewest classes that give every class ≥ 10 of them (a stratified
    # holdout needs two per class), and test rows of those classes only
    classes = sorted({r["label"] for r in rows})
    random.Random(1).shuffle(classes)
    keep = set(classes[: max(2, min(len(classes), n // 10))])
    train = [i for i, r in enumerate(rows) if r["split"] == "train" and r["label"] in keep][:n]
    test = [i for i, r in enumerate(rows) if r["split"] == "test" and r["label"] in keep][: n // 3]
    kept = [lines[i] for i in sorted(train + test)]
    out = tmp / f"banking77-{n}.jsonl.gz"
    with gzip.open(out, "wt") as g:
        g.writelines(kept)
    return out


def run_json(cmd: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Wall seconds of the whole process and the JSON object it printed."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    text = proc.stdout.strip()
    try:
        return wall, json.loads(text)  # headwise --json: one (indented) object
    except json.JSONDecodeError:
        return wall, json.loads(text.splitlines()[-1])  # the script by hand: its last line


def headwise_run(data: Path, tmp: Path, precision: str | None = None) -> tuple[float, dict[str, Any]]:
    cache = Path(tempfile.mkdtemp(dir=tmp, prefix="cold-cache-"))
    env = {**os.environ, "HEADWISE_CACHE_DIR": str(cache), "HEADWISE_PROGRESS": "0"}
    exe = shutil.which("headwise") or "headwise"
    cmd = [exe, "quickstart", str(data), "--json", "--out", str(cache / "best.safetensors")]
    cmd += ["--precision", precision] if precision else []
    wall, out = run_json(cmd, env)
    shutil.rmtree(cache, ignore_errors=True)
    best = next(r for r in out["rows"] if r["head"] == out["best"])
    return wall, {"acc": best["test_accuracy"], "best": out["best"], "embed": out["embed_seconds"],
                  "precision": "int8" if out["encoder"].get("quantize") == "int8" else "fp32",
                  "recipe": out["encoder"].get("int8_recipe"),
                  "backend": out["encoder"].get("backend")}


def default_precision() -> str:
    """minilm's CPU default as the code on disk says now (the source, not a stale import)."""
    source = (REPO / "src" / "headwise" / "encoders" / "_hf.py").read_text()
    m = re.search(r'^MINILM_DEFAULT_PRECISION = "(\w+)"', source, flags=re.M)
    return m.group(1) if m else "?"


def user_run(data: Path) -> tuple[float, dict[str, Any]]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    wall, out = run_json([sys.executable, str(HERE / "handwritten_probe.py"), str(data)], env)
    return wall, {"acc": out["test_accuracy"], "C": out["C"], "embed": out["embed_seconds"]}


def write_report(runs: list[Any], args: Any, header: str, data: Path) -> None:
    """Write the fragment from the rounds run so far."""
    repeats = len(runs)
    med = statistics.median
    b_acc = med(r[2][1]["acc"] for r in runs)
    b_info = runs[-1][2][1]
    table, lines = [], []
    default = default_precision()
    for k, label in ((0, "`headwise quickstart --precision fp32` (cold cache)"),
                     (1, "`headwise quickstart --precision int8` (cold cache)")):
        if ("int8" if k else "fp32") == default:
            label += ", the default"
        ratios = [r[2][0] / r[k][0] for r in runs]
        acc = med(r[k][1]["acc"] for r in runs)
        info = runs[-1][k][1]
        ok = med(ratios) >= TARGET and acc >= b_acc
        table.append([label, med(r[k][0] for r in runs), med(r[k][1]["embed"] for r in runs),
                      f"{100 * acc:.2f}", f"{med(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})",
                      f"best head {info['best']}; minilm {info['backend']} {info['precision']}"
                      + (f" ({info['recipe']})" if info.get("recipe") else "")])
        lines.append(f"{label}: by hand ÷ quickstart median **{med(ratios):.2f}×**, test accuracy "
                     f"{100 * acc:.2f} vs {100 * b_acc:.2f}: target ≥ {TARGET:g}× at equal or "
                     f"better accuracy {'met' if ok else '**missed**'}.")
    table.append(["by hand: sentence-transformers + LogisticRegression (5 C)",
                  med(r[2][0] for r in runs), med(r[2][1]["embed"] for r in runs),
                  f"{100 * b_acc:.2f}", "1", f"C = {b_info['C']:g}"])
    text = "\n".join([
        "## End to end: quickstart vs a hand-written probe" + (" — quick smoke run" if args.quick else "") + "\n",
        f"Command: `{command()}`\n",
        header + "\n",
        f"Data: `{data.name if args.quick else os.path.relpath(data, REPO)}`. Whole-process wall "
        f"seconds, median of {repeats} round(s); each round runs the three commands in turn, after "
        "one untimed warm-up round on 150 rows. `embed s` is the embedding part as each process "
        "reports it (headwise: cache lookup + ONNX export + encoding into an empty cache). "
        "quickstart fits six heads and its sklearn baseline; the script by hand fits six "
        "LogisticRegressions (five on the holdout, one refit). `× by hand` is (by hand ÷ this "
        "row) per round, median and range.\n",
        md_table(["run", "wall s", "embed s", "test acc %", "× by hand", "notes"], table),
        "",
        *[line + "\n" for line in lines],
        f"Load average when written: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.\n",
    ])  # fmt: skip
    out = write_fragment("endtoend-quick" if args.quick else "endtoend", text)
    print(text)
    print("wrote", out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "banking77.jsonl.gz")
    args = ap.parse_args()
    header = machine()
    repeats = 1 if args.quick else args.repeats
    with tempfile.TemporaryDirectory(prefix="hw-e2e-") as t:
        tmp = Path(t)
        data = quick_data(tmp) if args.quick else args.data.resolve()
        warm = quick_data(tmp, 150)  # warm-up on a few rows: imports, page cache of the weights
        headwise_run(warm, tmp)
        user_run(warm)
        runs: list[tuple[tuple[float, dict[str, Any]], ...]] = []
        for i in range(repeats):  # A, A', B in turn: quickstart (fp32, int8) and by hand
            a = headwise_run(data, tmp, "fp32")
            a8 = headwise_run(data, tmp, "int8")
            b = user_run(data)
            runs.append((a, a8, b))
            print(f"round {i + 1}: headwise {a[0]:.1f} s {a[1]}, int8 {a8[0]:.1f} s {a8[1]}, "
                  f"by hand {b[0]:.1f} s {b[1]}", flush=True)
            write_report(runs, args, header, data)  # after every round: partial runs still count



if __name__ == "__main__":
    main()
