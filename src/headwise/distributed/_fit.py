"""Fitting a head on a Ray Dataset: statistics on the workers, the solve on the driver.

NCM, LDA, ridge and Gaussian naive Bayes are pure functions of :class:`SufficientStats`, and
RanPAC (``rpridge``) of the statistics of its projected features: one Ray Data aggregate
accumulates them per block and merges them, then the head is solved here. The logistic probe
runs L-BFGS here over data-parallel objective and gradient sums (:class:`RayRowSource`).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InputError
from ..heads import LogisticHead, RandomProjectionRidgeHead, StatsHead
from ._parallel_rows import RayRowSource
from ._stats import FEATURES, LABELS, ray_stats

__all__ = ["fit_head_ray", "fit_inputs_ray", "RAY_HEADS"]

RAY_HEADS = ("ncm", "lda", "ridge", "nb", "rpridge", "logistic")


def _n_features(ds: Any, features: str) -> int:
    shape = ds.schema().types[list(ds.schema().names).index(features)]
    dims = getattr(shape, "shape", None)
    if dims and len(dims) == 1:
        return int(dims[0])
    batch = ds.select_columns([features]).take_batch(1, batch_format="numpy")
    return int(batch[features].shape[-1])


def _refuse_val(head: Any) -> None:
    if getattr(head, "alpha_selection", "gcv") == "val":
        raise InputError(
            "alpha_selection='val' holds out rows, which statistics alone cannot do; use "
            "alpha_selection='gcv' (the default) on Ray."
        )


def fit_head_ray(
    head: Any,
    ds: Any,
    *,
    features: str = FEATURES,
    labels: str = LABELS,
    workers: int | None = None,
) -> Any:
    """Fit ``head`` on the rows of a Ray Dataset without gathering them on the driver.

    Parameters
    ----------
    head : NCMHead, LDAHead, RidgeHead, GaussianNBHead, RandomProjectionRidgeHead or LogisticHead
        Settings that need the rows themselves (LDA ``shrinkage="ledoit-wolf"``, ridge
        ``alpha_selection="val"``) are refused with a message.
    ds : ray.data.Dataset
        ``features``: one vector per row (tensor column); ``labels``: one label per row.
    workers : int, optional
        Logistic only: actors that hold the rows (default: the cluster's CPUs).

    Returns
    -------
    head
        Fitted; the same parameters as fitting on one machine, up to floating-point rounding
        (statistics heads) or the optimiser's tolerance (logistic).
    """
    if isinstance(head, RandomProjectionRidgeHead):
        _refuse_val(head)
        d = _n_features(ds, features)
        W = head.projection(d)
        stats = ray_stats(ds, features=features, labels=labels, gram=True, squares=False,
                          projection=W)  # fmt: skip
        return head.fit_from_projected_stats(stats, d)
    if isinstance(head, StatsHead):
        _refuse_val(head)
        head._check_params()
        head._check_incremental("fitting on Ray")
        stats = ray_stats(ds, features=features, labels=labels, gram=head._needs_gram,
                          squares=head._needs_squares)  # fmt: skip
        return head.fit_from_stats(stats)
    if isinstance(head, LogisticHead):
        source = RayRowSource(ds, features=features, labels=labels, workers=workers)
        try:
            return head.fit_rows(source, source.labels)
        finally:
            source.close()
    raise InputError(
        f"{type(head).__name__} needs every row in one place; on Ray, fit one of "
        f"{', '.join(RAY_HEADS)} (or collect the rows and call fit)."
    )


def fit_inputs_ray(
    head: Any,
    inputs: list[Any],
    labels: Any,
    encoder: Any,
    *,
    indices: Any = None,
    encoder_options: dict[str, Any] | None = None,
    store: Any = None,
    batch_size: int = 64,
    dtype: str = "float32",
    address: str | None = None,
) -> tuple[Any, Any, float]:
    """Embed ``inputs`` on Ray into the store, then fit ``head`` on Ray on the rows ``indices``.

    The fitting rows are read from the store's shards block by block (never as one matrix).
    Returns ``(EmbedResult, fitted head, fit seconds)``.
    """
    import time

    from ._embed import embed_source
    from ._read import from_inputs
    from ._session import ray_session, worker_errors
    from ._stats import embedding_dataset

    with ray_session(address), worker_errors():
        res = embed_source(from_inputs(inputs), encoder, encoder_options=encoder_options,
                           store=store, batch_size=batch_size, dtype=dtype)  # fmt: skip
        t0 = time.perf_counter()
        ds = embedding_dataset(res.embeddings, labels, indices=indices)
        fitted = fit_head_ray(head, ds)
        return res, fitted, time.perf_counter() - t0
