"""`headwise eval --protocol active`: parse the options, build the teacher, render the curves.

The protocol itself is :func:`headwise.protocols.active_eval`; this module only wires the
command line to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError


def _strategies(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    if not out:
        raise InputError("--strategies must be a comma list such as random,entropy,coreset.")
    return out


def active_rows(payload: dict[str, Any]) -> tuple[str, list[str], list[list[Any]]]:
    """Table title, columns and rows of an ``ActiveResult.to_json()`` payload."""
    strategies = payload["strategies"]
    sizes = next(iter(strategies.values()))["n_labels"]
    cols = ["strategy", "AULC", "±95%", *(f"{n} labels" for n in sizes)]
    rows = [[n, c["aulc"]["mean"], c["aulc"]["ci95"],
             *(f"{m:.4f} ± {h:.4f}" for m, h in zip(c["mean"], c["ci95"], strict=True))]
            for n, c in strategies.items()]  # fmt: skip
    title = (f"active learning on {payload.get('dataset')}: {payload['head']} head, "
             f"{payload['rounds']} rounds of {payload['budget']}, test accuracy")  # fmt: skip
    return title, cols, rows


def run_active(
    X: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray, *, key: Any, encoder: str,
    options: dict[str, Any], head: str | None, start: int, strategies: str, rounds: int,
    budget: int | None, seeds: int,
) -> dict[str, Any]:  # fmt: skip
    """Run the protocol; the teacher is the zero-shot head on the class names when it is needed
    (a ``dho`` head, or ``start=0``)."""
    from ..protocols import active_eval

    head_name = head or "dho"
    if "," in head_name:
        raise InputError("--protocol active refits one head; pass a single --heads name, e.g. dho.")
    teacher = None
    if head_name == "dho" or start == 0:
        from ..encoders import get_encoder
        from ..heads import ZeroShotHead

        teacher = ZeroShotHead(get_encoder(encoder, **options)).fit_names(np.unique(y[tr]))
    res = active_eval(head_name, X[tr], y[tr], X[te], y[te], strategies=_strategies(strategies),
                      start=start, rounds=rounds, budget=budget, seeds=seeds, teacher=teacher,
                      encoder_key=key)  # fmt: skip
    return res.to_json()
