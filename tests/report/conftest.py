"""A run directory holding every file a report reads, made from synthetic numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headwise.heads import LDAHead
from headwise.trust import (
    TemperatureScaler,
    TrustCalibration,
    trust_summary,
    write_json,
    write_trust_run,
)


@pytest.fixture
def full_run(tmp_path: Path) -> Path:
    run = tmp_path / "RUN"
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=1.5, size=(6, 5))
    y = rng.integers(0, 6, 900)
    X = centres[y] + rng.normal(size=(900, 5))
    labels = np.array(["alpha", "beta", "gamma", "delta", "eps", "zeta"])[y]
    head = LDAHead().fit(X[:500], labels[:500])
    codes = np.searchsorted(head.classes_, labels[500:700])
    ts = TemperatureScaler().fit(head.logits(X[500:700]), codes)
    cal = TrustCalibration(ts.temperature_, X[500:700], labels[500:700], rng.random(200), {"calib_frac": 0.2})
    summary, arrays = trust_summary(head, cal, X[700:], labels[700:])
    write_trust_run(run, summary, arrays)
    write_json(run / "linear.json", {"protocol": "linear", "heads": {
        "lda": {"val_accuracy": 0.8, "test_accuracy": 0.79, "macro_f1": 0.78, "fit_seconds": 0.01},
        "ncm": {"val_accuracy": 0.7, "test_accuracy": 0.71, "macro_f1": 0.7, "fit_seconds": 0.001}}})
    write_json(run / "fewshot.json", {"protocol": "fewshot", "heads": {
        "lda": {"shots": [1, 2, 4, 8], "mean": [0.3, 0.45, 0.6, 0.7], "ci95": [0.05, 0.04, 0.03, 0.02],
                "per_seed": [[0.3, 0.31], [0.45, 0.44], [0.6, 0.61], [0.7, 0.69]]}}})
    from headwise.protocols import active_eval

    act = active_eval("ncm", X[:500], labels[:500], X[700:], labels[700:],
                      strategies=["random", "entropy"], rounds=3, budget=6, seeds=2)
    write_json(run / "active.json", act.to_json(dataset="toy"))
    write_json(run / "incremental.json", {"heads": {"lda": {"accuracy_after_task": [0.9, 0.85, 0.8],
                                                             "average": 0.85, "final": 0.8, "forgetting": 0.05}}})
    write_json(run / "sweep.json", {"protocol": "sweep", "head": "lda", "layers": [1, 2, 3, 4, 5, 6],
                                    "val_accuracy": [0.5, 0.6, 0.7, 0.75, 0.8, 0.78],
                                    "test_accuracy": [0.5, 0.6, 0.69, 0.74, 0.79, 0.77]})
    write_json(run / "ood.json", {"protocol": "ood", "head": "lda", "alpha": 0.1, "out_classes": ["x"],
                                  "n_in": 100, "n_out": 20, "n_calibration": 50,
                                  "methods": [{"method": "energy", "auroc": 0.8, "false_alarm_rate": 0.1,
                                               "detection_rate": 0.5}]})
    write_json(run / "multilabel.json", multilabel_summary(rng))
    return run


def multilabel_summary(rng: np.random.Generator, alpha: float = 0.1) -> dict:
    """``multilabel.json`` of a calibrated multi-label ridge head on toy rows (the real writer's input)."""
    from headwise.workflows import fit_multilabel, multilabel_run_summary

    W = rng.normal(size=(6, 4))
    X = rng.normal(size=(700, 6))
    Y = X @ W + rng.normal(scale=1.0, size=(700, 4)) > 0.8
    names = np.array(["arts", "bio", "chem", "dance"])
    lists = [names[np.flatnonzero(r)].tolist() for r in Y]
    fit = fit_multilabel("mlridge", {}, X[:500], lists[:500], calib_frac=0.3)
    return multilabel_run_summary(fit, X[500:], lists[500:], alpha)
