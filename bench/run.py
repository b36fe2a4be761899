"""Run every benchmark and assemble BENCHMARKS.md from the fragments in bench/results/.

Usage: python bench/run.py [--quick] [--only heads,closedform,outofcore,encoding,precision,cachehit]

--quick is a smoke run (CI): tiny workloads, fragments written as bench/results/*-quick.md and
BENCHMARKS.md left alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "heads", "closedform", "logistic_banking77", "outofcore", "encoding", "precision", "endtoend",
    "cachehit",
)
FRAGMENT = {"logistic_banking77": "logistic"}
NOT_QUICK = {"logistic_banking77"}  # needs the full Banking77 embeddings
# Results of the protocol, trust, media, LLM, store (v1 vs v2) and crash-safety benchmarks, appended after the performance tables when
# present. Their scripts run separately (hours on this machine); each fragment states its command.
EXTRA_FRAGMENTS = (
    "protocols",
    "trust",
    "media",
    "llm_tokens",
    "store",
    "crash",
    "serve",
    "accuracy",
    "logistic_synthetic",
    "ray",
    "active",
    "multilabel",
    "longtail",
    "gzsl",
    "mlp",
)
QUICK_ALSO = ("accuracy",)  # extra-fragment scripts whose --quick smoke run joins `run.py --quick`


def assemble() -> Path:
    parts = [
        "# headwise benchmarks\n",
        "Every table states the command that produced it and the machine it ran on. The machine is "
        "shared and noisy: read the ratios (measured in the same run), not the absolute seconds.\n",
    ]
    from targets import section

    parts.append(section())
    for name in ORDER:
        frag = HERE / "results" / f"{FRAGMENT.get(name, name)}.md"
        if frag.exists():
            parts.append(frag.read_text())
        else:
            parts.append(
                f"## {name}: not measured yet\n\nNo full run of `python bench/{name}.py` has been "
                "recorded; its quick mode runs in CI.\n"
            )
    for name in EXTRA_FRAGMENTS:
        frag = HERE / "results" / f"{name}.md"
        if frag.exists():
            parts.append(frag.read_text())
    out = HERE.parent / "BENCHMARKS.md"
    out.write_text("\n".join(parts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=",".join(ORDER))
    ap.add_argument("--assemble-only", action="store_true")
    args = ap.parse_args()
    if not args.assemble_only:
        names = args.only.split(",") + (list(QUICK_ALSO) if args.quick else [])
        for name in names:
            if args.quick and name in NOT_QUICK:
                continue
            script = HERE / f"{name}.py"
            if not script.exists():
                continue
            cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
            print("$", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, cwd=HERE.parent)
    if not args.quick:
        print("wrote", assemble())


if __name__ == "__main__":
    main()
