"""Read the files a run directory may hold; each is optional."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["RUN_FILES", "RunData", "load_run"]

# file name -> what writes it
RUN_FILES = {
    "linear.json": "linear-probe protocol (leaderboard)",
    "fewshot.json": "few-shot protocol (learning curves)",
    "incremental.json": "class-incremental protocol",
    "active.json": "active-learning protocol (learning curves by strategy)",
    "sweep.json": "layer sweep",
    "trust.json": "`headwise fit --calibrate --run-dir` (calibration, conformal)",
    "trust_arrays.npz": "`headwise fit --calibrate --run-dir` (test labels and probabilities)",
    "ood.json": "`headwise ood --run-dir` (held-out-class OOD detection)",
    "multilabel.json": "`headwise fit --calibrate --run-dir` on multi-label data (per-label F1, label-set coverage)",
}


@dataclass
class RunData:
    path: Path
    docs: dict[str, Any] = field(default_factory=dict)  # stem -> parsed JSON
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # from trust_arrays.npz
    problems: list[str] = field(default_factory=list)  # files present but unreadable

    def get(self, stem: str) -> Any:
        return self.docs.get(stem)


def load_run(run_dir: str | Path) -> RunData:
    """Parse every known file in ``run_dir``; unreadable ones are listed, not fatal."""
    run = Path(run_dir)
    if run.exists() and not run.is_dir():
        raise InputError(f"{run} is a file; give the run folder that `headwise eval/fit --run-dir` wrote.")
    if not run.is_dir():
        raise InputError(f"Run directory {run} does not exist; `headwise fit ... --run-dir {run}` makes one.")
    data = RunData(run)
    for name in RUN_FILES:
        p = run / name
        if not p.is_file():
            continue
        try:
            if name.endswith(".json"):
                data.docs[p.stem] = json.loads(p.read_text(encoding="utf-8"))
            else:
                with np.load(p, allow_pickle=False) as npz:
                    data.arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            data.problems.append(f"{name}: {type(exc).__name__}: {exc}")
    if not data.docs and not data.arrays and data.problems:
        raise InputError(f"{run} holds no readable report file: {'; '.join(data.problems)}.")
    if not data.docs and not data.arrays:
        known = ", ".join(RUN_FILES)
        raise InputError(
            f"{run} holds none of the files a report is made from ({known}). Write some with "
            f"`headwise fit DATA --calibrate --run-dir {run}`."
        )
    return data
