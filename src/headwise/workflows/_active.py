"""The ``active`` protocol of the evaluate registry: label-efficiency curves per query strategy."""

from __future__ import annotations

import numpy as np

from ..datasets import Table
from ..exceptions import InputError
from ._data import require_splits
from ._embed import StoreBackedEncoder, embed_table
from ._evaluate import EvalRequest, EvalResult, MeanCI
from ._overlap import overlap_warnings

__all__ = ["active_table"]


def _strategies(text: str) -> list[str]:
    out = [s.strip() for s in text.split(",") if s.strip()]
    if not out:
        raise InputError("--strategies must be a comma list such as random,entropy,coreset.")
    return out


def active_table(table: Table, req: EvalRequest) -> EvalResult:
    """Refit one head as rows get labelled round by round; the teacher is the zero-shot head on
    the class names when it is needed (a ``dho`` head, or ``start=0``)."""
    from ..heads import ZeroShotHead
    from ..protocols import active_eval

    tr, _, te = require_splits(table, "the active protocol")
    emb = embed_table(table, req.encoder, req.options, batch_size=req.batch_size, progress=req.progress)
    X, y = emb.X, table.labels
    assert y is not None
    head_name = req.heads or "dho"
    if "," in head_name:
        raise InputError("--protocol active refits one head; pass a single --head name, e.g. dho.")
    teacher = None
    if head_name == "dho" or req.start == 0:
        teacher = ZeroShotHead(StoreBackedEncoder(emb.encoder)).fit_names(np.unique(y[tr]))
    res = active_eval(head_name, X[tr], y[tr], X[te], y[te], strategies=_strategies(req.strategies),
                      start=req.start, rounds=req.rounds, budget=req.budget, seeds=req.seeds,
                      teacher=teacher, encoder_key=emb.encoder_key)  # fmt: skip
    payload = {"dataset": table.path.name, "encoder": req.encoder, **res.to_json()}
    strategies = payload["strategies"]
    sizes = next(iter(strategies.values()))["n_labels"]
    cols = ("strategy", "AULC", "±95% CI", *(f"{n} labels" for n in sizes))
    rows = tuple((n, c["aulc"]["mean"], c["aulc"]["ci95"],
                  *(MeanCI(m, h) for m, h in zip(c["mean"], c["ci95"], strict=True)))
                 for n, c in strategies.items())  # fmt: skip
    title = (f"active learning on {table.path.name}: {payload['head']} head, "
             f"{payload['rounds']} rounds of {payload['budget']}, test accuracy")  # fmt: skip
    return EvalResult("active", title, cols, rows, payload, res,
                      warnings=overlap_warnings(table, tr, te, payload, X))  # fmt: skip
