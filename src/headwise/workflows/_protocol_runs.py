"""The built-in protocols of :func:`~headwise.workflows.evaluate`, one run function each."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..datasets import Table
from ._data import require_splits
from ._embed import NAMED_HEADS, Embedded, StoreBackedEncoder, embed_table, zero_shot_prior
from ._evaluate import EvalRequest, EvalResult, MeanCI, register_protocol
from ._overlap import overlap_warnings

_DEFAULT_HEADS = {
    "linear": "ncm,lda,ridge,logistic",
    "fewshot": "ncm,lda,ridge,logistic",
    "incremental": "ncm,lda,ridge,rpridge",
    "transductive": "ncm",
    "ood": "lda",
    "longtail": "lda,logistic,logitadjust",
}


def _embed(table: Table, req: EvalRequest) -> tuple[Embedded, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tr, va, te = require_splits(table, "the protocol")
    emb = embed_table(table, req.encoder, req.options, batch_size=req.batch_size, progress=req.progress)
    assert table.labels is not None
    return emb, table.labels, tr, va, te


def _heads(req: EvalRequest, protocol: str, emb: Embedded) -> dict[str, Any]:
    """The heads a protocol compares; those that read the class names (``auto``, ``zeroshot``,
    ``blend``) get the encoder that made the rows, as :func:`~headwise.workflows.fit_head`
    gives it."""
    from ..heads import get_head
    from ..protocols import resolve_heads

    heads = resolve_heads(req.heads or _DEFAULT_HEADS[protocol])
    for name in NAMED_HEADS:
        if name in heads and (prior := zero_shot_prior(name, req.encoder, emb)):
            heads[name] = get_head(name, **prior)
    return heads


def _meta(table: Table, req: EvalRequest) -> dict[str, Any]:
    return {"dataset": table.path.name, "encoder": req.encoder}


@register_protocol("linear")
def run_linear(table: Table, req: EvalRequest) -> EvalResult:
    """Every head with its grid chosen on validation, scored once on test, with overlap checks."""
    from ..protocols import linear_eval
    from ..splits import row_keys

    emb, y, tr, va, te = _embed(table, req)
    X = emb.X
    text_rows = all(isinstance(t, str) for t in table.texts)
    keys = row_keys(texts=table.texts) if text_rows else row_keys(X=X)
    res = linear_eval(
        _heads(req, "linear", emb), X[tr], y[tr], X[te], y[te],
        X_val=X[va] if va.size else None, y_val=y[va] if va.size else None,
        train_keys=keys[tr], val_keys=keys[va] if va.size else None, test_keys=keys[te],
        drop_overlap=req.drop_overlap, seeds=range(req.seeds), encoder_key=emb.encoder_key,
    )  # fmt: skip
    rows = tuple(
        (n, r.val_accuracy, r.test_accuracy, r.test.ci95, r.macro_f1, r.fit_seconds,
         ", ".join(f"{k}={v}" for k, v in r.chosen.items()) or None)
        for n, r in res.heads.items()
    )  # fmt: skip
    title = f"linear evaluation on {table.path.name} ({res.n_test} test rows"
    title += f", {res.n_dropped_overlap} overlapping dropped)" if res.n_dropped_overlap else ")"
    cols = ("head", "val acc", "test acc", "±95% CI", "macro-F1", "fit s", "chosen")
    return EvalResult("linear", title, cols, rows, res.to_json(**_meta(table, req)), res)


def _fewshot_mteb(table: Table, req: EvalRequest) -> EvalResult:
    from ..protocols import mteb_eval, mteb_samples_per_label

    emb, y, tr, _, te = _embed(table, req)
    X = emb.X
    spl = mteb_samples_per_label(table.path.name)
    res = mteb_eval(X[tr], y[tr], X[te], y[te], samples_per_label=spl,
                    heads=_heads(req, "fewshot", emb), encoder_key=emb.encoder_key)  # fmt: skip
    rows = tuple((n, s.mean, s.ci95, min(s.per_seed), max(s.per_seed)) for n, s in res.heads.items())
    title = f"MTEB protocol on {table.path.name}: {spl} per label, {res.n_experiments} experiments"
    cols = ("head", "accuracy", "±95% CI", "min", "max")
    payload = res.to_json(**_meta(table, req))
    warnings = overlap_warnings(table, tr, te, payload, X)
    return EvalResult("fewshot", title, cols, rows, payload, res, warnings=warnings)


def _fewshot(table: Table, req: EvalRequest, *, name: str) -> EvalResult:
    from ..protocols import few_shot_eval, transductive_eval

    if req.preset == "mteb":
        return _fewshot_mteb(table, req)
    emb, y, tr, _, te = _embed(table, req)
    X = emb.X
    trans = name == "transductive" or req.transductive
    fn = transductive_eval if trans else few_shot_eval
    res = fn(_heads(req, name, emb), X[tr], y[tr], X[te], y[te], shots=list(req.shots),
             seeds=req.seeds, encoder_key=emb.encoder_key)  # fmt: skip
    payload = res.to_json(**_meta(table, req))
    payload["protocol"] = "fewshot"
    if trans:
        payload["transductive"] = True
    k_list = next(iter(res.heads.values())).shots
    rows = tuple((n, *(MeanCI(m, c) for m, c in zip(cv.mean, cv.ci95, strict=True)))
                 for n, cv in res.heads.items())  # fmt: skip
    title = f"{name} on {table.path.name}: test accuracy ± 95% CI, {req.seeds} seeds"
    cols = ("head", *(f"{k}-shot" for k in k_list))
    warnings = overlap_warnings(table, tr, te, payload, X)
    return EvalResult(name, title, cols, rows, payload, res, warnings=warnings)


@register_protocol("fewshot")
def run_fewshot(table: Table, req: EvalRequest) -> EvalResult:
    """k labelled rows per class, averaged over seeds (``preset="mteb"``: MTEB's protocol)."""
    return _fewshot(table, req, name="fewshot")


@register_protocol("transductive")
def run_transductive(table: Table, req: EvalRequest) -> EvalResult:
    """Few-shot where each head also refines itself on the unlabelled test rows."""
    return _fewshot(table, req, name="transductive")


@register_protocol("incremental")
def run_incremental(table: Table, req: EvalRequest) -> EvalResult:
    """Classes arrive in tasks; heads learn with partial_fit and keep no stored examples."""
    from ..protocols import class_incremental_eval

    emb, y, tr, _, te = _embed(table, req)
    X = emb.X
    res = class_incremental_eval(req.heads or _DEFAULT_HEADS["incremental"], X[tr], y[tr], X[te], y[te],
                                 n_tasks=req.tasks, seeds=range(req.seeds), encoder_key=emb.encoder_key)  # fmt: skip
    rows = tuple((n, c.average, c.final, c.forgetting, " ".join(f"{v:.3f}" for v in c.accuracy_after_task))
                 for n, c in res.heads.items())  # fmt: skip
    title = f"class-incremental on {table.path.name}: {req.tasks} tasks, no stored examples"
    cols = ("head", "average", "final", "forgetting", "accuracy after each task")
    payload = res.to_json(**_meta(table, req))
    return EvalResult("incremental", title, cols, rows, payload, res,
                      warnings=overlap_warnings(table, tr, te, payload, X))  # fmt: skip


@register_protocol("zeroshot")
def run_zeroshot(table: Table, req: EvalRequest) -> EvalResult:
    """Class names as prompts through the encoder; no labelled rows used."""
    from ..protocols import zero_shot_eval

    emb, y, _, _, te = _embed(table, req)
    res = zero_shot_eval(StoreBackedEncoder(emb.encoder), emb.X[te], y[te], labels=np.unique(y))
    rows = ((table.path.name, res.n_test, len(res.class_names), res.accuracy, res.macro_f1),)
    title = f"zero-shot ({req.encoder}, {len(res.templates)} templates)"
    cols = ("dataset", "n", "classes", "accuracy", "macro-F1")
    return EvalResult("zeroshot", title, cols, rows, res.to_json(**_meta(table, req)), res)


@register_protocol("ood")
def run_ood(table: Table, req: EvalRequest) -> EvalResult:
    """Held-out classes as out-of-distribution: AUROC and conformal-threshold rates per score."""
    from ._ood import ood_eval

    return ood_eval(table, req)


@register_protocol("active")
def run_active(table: Table, req: EvalRequest) -> EvalResult:
    """Label efficiency: accuracy as rows get labelled round by round, per query strategy."""
    from ._active import active_table

    return active_table(table, req)


@register_protocol("longtail")
def run_longtail(table: Table, req: EvalRequest) -> EvalResult:
    """A seeded long-tailed train split (exponential profile, ratio ``imbalance``): overall,
    many- (>100), medium- (20-100) and few-shot (<20) test accuracy per head."""
    from ..exceptions import InputError
    from ..protocols import long_tail_eval

    if req.imbalance is None:
        raise InputError("--protocol longtail needs --imbalance R (e.g. 10 or 100).")
    emb, y, tr, _, te = _embed(table, req)
    X = emb.X
    res = long_tail_eval(req.heads or _DEFAULT_HEADS["longtail"], X[tr], y[tr], X[te], y[te],
                         imbalance=req.imbalance, seeds=range(req.seeds), encoder_key=emb.encoder_key)  # fmt: skip
    g = res.n_classes_per_group
    rows = tuple((n, r.overall.mean, r.many.mean, r.medium.mean, r.few.mean, r.fit_seconds)
                 for n, r in res.heads.items())  # fmt: skip
    title = (f"long-tailed {table.path.name}, imbalance {req.imbalance:g} ({g['many']} many / "
             f"{g['medium']} medium / {g['few']} few-shot classes), test accuracy, {req.seeds} seeds")  # fmt: skip
    cols = ("head", "overall", "many", "medium", "few", "fit s")
    payload = res.to_json(**_meta(table, req))
    return EvalResult("longtail", title, cols, rows, payload, res,
                      warnings=overlap_warnings(table, tr, te, payload, X))  # fmt: skip
