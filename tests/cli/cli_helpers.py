from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

VOCAB = {
    "sport": "match goal team cup league coach referee striker season score",
    "finance": "stocks bank rates market shares profit loan bonds investor fund",
    "weather": "rain storm sunny forecast cloud wind snow temperature humid cold",
}


def toy_rows(n_per_class: int = 40, seed: int = 0) -> list[dict]:
    """Texts whose words reveal their class, so even the hash encoder separates them."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, words in VOCAB.items():
        vocab = words.split()
        for i in range(n_per_class):
            text = " ".join(rng.choice(vocab, size=6)) + f" item{i}"
            rows.append({"text": text, "label": label, "split": "test" if i % 4 == 0 else "train"})
    return rows


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m headwise.cli.main ...` in a subprocess (the real entry path)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "headwise.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=600,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI's error message, after checking it failed with exit 1, one line and no traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("(set HEADWISE_DEBUG=1")
    return " ".join(lines[:-1])
