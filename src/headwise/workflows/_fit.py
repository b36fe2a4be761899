"""Fit one head on a table's train split, optionally calibrated, and save it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import working
from ..datasets import Table
from ._calibrate import (
    CALIB_SEED,
    calibration_warnings,
    check_calib_frac,
    fit_calibration,
    split_for_calibration,
    write_trust_run_for,
)
from ._data import indices_for
from ._embed import (
    Embedded,
    embed_table,
    resolve_encoder_params,
    zero_shot_prior,
)

__all__ = ["FitResult", "fit_head"]


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_head` did: the fitted head, where it went and how it scores."""

    head_name: str  # registry name
    head: Any = field(repr=False)  # the fitted estimator
    out: Path | None  # the saved head file (None when not saved)
    n_train: int  # rows the head was fitted on (calibration rows excluded)
    n_classes: int
    fit_seconds: float
    embedded: Embedded = field(repr=False)
    validation_accuracy: float | None = None  # on the table's validation split, when present
    n_calibration: int | None = None  # rows held out for calibration (fit --calibrate)
    temperature: float | None = None
    trust: dict[str, Any] | None = None  # test-split trust summary (with calibrate=True)
    run_dir: Path | None = None
    chosen: dict[str, Any] = field(default_factory=dict)  # what the head chose (chosen_settings)
    warnings: tuple[str, ...] = ()  # results that stand but deserve a look (thin calibration)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready summary (the CLI's ``fit --json``)."""
        out: dict[str, Any] = {
            "head": self.head_name,
            "out": None if self.out is None else str(self.out),
            "n_train": self.n_train,
            "n_classes": self.n_classes,
            "fit_seconds": self.fit_seconds,
            "embed_seconds": self.embedded.seconds,
            "cache_hit": self.embedded.cached,
            "cache_entry": self.embedded.entry,
            "chosen": self.chosen,
        }
        if self.n_calibration is not None:
            out["n_calibration"] = self.n_calibration
            out["temperature"] = self.temperature
        if self.run_dir is not None:
            out["run_dir"] = str(self.run_dir)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.validation_accuracy is not None:
            out["validation_accuracy"] = self.validation_accuracy
        if self.trust is not None:
            out["test"] = self.trust
        return out


def _test_trust(head: Any, cal: Any, X: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, Any]:
    """Test accuracy, ECE before/after temperature scaling, and coverage / set size at ``alpha``."""
    from ..trust import expected_calibration_error, set_coverage

    codes = np.searchsorted(head.classes_, y)
    known = np.isin(y, head.classes_)
    logits = head.logits(X)
    z = logits - logits.max(axis=1, keepdims=True)
    p_before = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    cp = cal.conformal(head)
    p_after = cp.predict_proba(X)
    sets = cp.predict_set(X, alpha)
    cov = set_coverage(sets[known], codes[known])
    return {
        "n_test": int(y.size),
        "accuracy": float(np.mean(head.classes_[p_after.argmax(axis=1)] == y)),
        "ece_before": float(expected_calibration_error(codes[known], p_before[known])),
        "ece_after": float(expected_calibration_error(codes[known], p_after[known])),
        "alpha": alpha,
        "coverage": cov["coverage"],
        "mean_set_size": cov["mean_size"],
    }


def fit_head(
    table: Table,
    *,
    encoder: str = "minilm",
    head: str = "auto",
    params: dict[str, Any] | None = None,
    out: str | Path | None = None,
    train_split: str = "train",
    options: dict[str, Any] | None = None,
    batch_size: int = 64,
    dtype: str = "float32",
    calibrate: bool = False,
    calib_frac: float = 0.2,
    alpha: float = 0.1,
    run_dir: str | Path | None = None,
    progress: bool | None = None,
    ray: bool = False,
    ray_address: str | None = None,
) -> FitResult:
    """Embed ``table`` (cached), fit ``head`` on its train split and save it to ``out``.

    With ``calibrate=True`` a stratified ``calib_frac`` of the train rows is held out (never
    fitted on): a temperature and the conformal calibration rows travel inside the head file,
    and when the table has a test split the result carries test accuracy, ECE before / after
    and coverage at ``alpha``; ``run_dir`` then also receives ``trust.json``. With ``ray``
    (or a ``ray_address``) the embedding and the fit run on Ray (:mod:`headwise.distributed`).
    """
    from ..heads import chosen_settings, get_head
    from ..trust import check_alpha, save_calibrated_head

    if calibrate:
        check_calib_frac(calib_frac)
        check_alpha(alpha, "fit --alpha")
    if run_dir is not None and not calibrate:
        from ..exceptions import InputError

        raise InputError("--run-dir writes calibration and conformal results; add --calibrate.")
    assert table.labels is not None
    from ..heads import is_multilabel_head

    if isinstance(head, str) and is_multilabel_head(head):
        from ..exceptions import InputError

        # it was saved, and `score` on it then failed with sklearn's traceback
        raise InputError(
            f"{head} predicts a set of labels per row, but the label column of "
            f"{table.path.name} holds one label per row; fit a single-label head, or give a "
            "list of labels per row."
        )
    params = dict(params or {})
    estimator = get_head(head, **resolve_encoder_params(params))
    idx = indices_for(table, train_split) if table.splits is not None else np.arange(len(table))
    cal_idx = None
    prior: dict[str, Any] = {}
    if calibrate:
        fit_pos, cal_pos = split_for_calibration(table.labels[idx], calib_frac)
        idx, cal_idx = idx[fit_pos], idx[cal_pos]
    if ray:
        from ..distributed import fit_inputs_ray

        res, estimator, fit_s = fit_inputs_ray(
            estimator, table.texts, table.labels, encoder, indices=idx, encoder_options=options,
            batch_size=batch_size, dtype=dtype, address=ray_address,
        )  # fmt: skip
        emb = Embedded(embeddings=res.embeddings, encoder_key=res.embeddings.encoder_key,
                       encoder_spec={"spec": encoder, "options": dict(options or {})},
                       entry=res.embeddings.key, cached=res.cache_hit, seconds=res.seconds, dtype=dtype)  # fmt: skip
    else:
        emb = embed_table(table, encoder, options, batch_size=batch_size, dtype=dtype, progress=progress)
        # the encoder for heads that read the class names (not on Ray, whose workers get the
        # head before the embedding)
        prior = zero_shot_prior(head, encoder, emb, params)
        estimator.set_params(**prior)
        t0 = time.perf_counter()
        with working(f"fitting {head} on {idx.size} rows", enabled=progress):
            estimator.fit(emb.X[idx], table.labels[idx])
        fit_s = time.perf_counter() - t0
    estimator.encoder_spec_ = emb.encoder_spec
    if isinstance(params.get("encoder"), str):  # save the encoder's name, not the object
        estimator.set_params(encoder=params["encoder"])
    elif prior:
        estimator.set_params(encoder=encoder)
    extra: dict[str, Any] = {}
    if cal_idx is not None:
        info = {"calib_frac": calib_frac, "seed": CALIB_SEED, "split": train_split}
        with working(f"calibrating on {cal_idx.size} held-out rows", enabled=progress):
            cal = fit_calibration(estimator, emb.X[cal_idx], table.labels[cal_idx], info)
        if out is not None:
            save_calibrated_head(estimator, out, cal, encoder_key=emb.encoder_key)
        extra = {"n_calibration": int(cal_idx.size), "temperature": float(cal.temperature),
                 "warnings": tuple(calibration_warnings(cal.temperature, int(cal_idx.size), alpha))}
        test = table.split_indices("test") if table.splits is not None else np.array([], int)
        with working("scoring the test split and writing the run", enabled=progress):
            if test.size:
                extra["trust"] = _test_trust(estimator, cal, emb.X[test], table.labels[test], alpha)
            if run_dir is not None:
                extra["run_dir"] = write_trust_run_for(run_dir, table, emb.X, estimator, cal)
    elif out is not None:
        estimator.save(out, encoder_key=emb.encoder_key)
    val_acc = None
    if table.splits is not None:
        val_idx = table.split_indices("validation")
        if val_idx.size:
            val_acc = float(estimator.score(emb.X[val_idx], table.labels[val_idx]))
    return FitResult(
        head_name=head, head=estimator, out=None if out is None else Path(out),
        n_train=int(idx.size), n_classes=int(len(estimator.classes_)), fit_seconds=fit_s,
        embedded=emb, validation_accuracy=val_acc, chosen=chosen_settings(estimator), **extra,
    )  # fmt: skip
