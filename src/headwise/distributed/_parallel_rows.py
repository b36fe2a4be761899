"""Data-parallel rows for the logistic probe: each Ray actor keeps a contiguous part of the rows.

The dataset is split in row order into one part per worker actor. Statistics and every
evaluation of the softmax objective run on the actors over their rows; the driver only sends
the parameters, receives per-worker sums (objective, gradient, scores) and adds them in worker
order. L-BFGS itself runs on the driver, so the fit follows
:meth:`~headwise.heads.LogisticHead.fit_rows` step for step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from ..exceptions import InputError
from ..heads import SufficientStats
from ..heads._softmax import ChunkedSoftmaxProblem, Preprocessor, softmax_terms
from ._session import worker_errors
from ._stats import FEATURES, LABELS

__all__ = ["ShardWorker", "RayRowSource", "RaySoftmaxProblem"]


class ShardWorker:
    """Holds rows ``[offset, offset + n)`` of the data; answers sums over a selection of them."""

    def __init__(self, shard: Any, offset: int, features: str, labels: str) -> None:
        xs, ys = [], []
        for b in shard.iter_batches(batch_size=None, batch_format="numpy"):
            xs.append(np.asarray(b[features]))
            ys.append(np.asarray(b[labels]))
        self.X = np.concatenate(xs) if xs else np.zeros((0, 0), np.float32)
        self.y = np.concatenate(ys) if ys else np.zeros(0)
        self.offset = int(offset)
        self._problems: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}

    def n_rows(self) -> int:
        return int(self.y.shape[0])

    def node_id(self) -> str:
        """The Ray node this part lives on (to check how the rows are spread)."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def _local(self, positions: np.ndarray | None) -> np.ndarray | slice:
        if positions is None:
            return slice(None)
        lo, hi = np.searchsorted(positions, [self.offset, self.offset + self.y.shape[0]])
        return np.asarray(positions[lo:hi] - self.offset)

    def stats(self, positions: np.ndarray | None) -> SufficientStats:
        sel = self._local(positions)
        X = np.asarray(self.X[sel], dtype=np.float64)
        if X.shape[0] == 0:
            return SufficientStats.empty(self.X.shape[1], squares=False)
        return SufficientStats.from_data(X, self.y[sel], squares=False)

    def prepare(self, pid: int, positions: np.ndarray | None, classes: np.ndarray,
                pre: Preprocessor, weights: np.ndarray | None, dtype: type) -> int:  # fmt: skip
        """Transform the selected rows once for problem ``pid``; return how many there are."""
        sel = self._local(positions)
        codes = np.searchsorted(classes, self.y[sel])
        Z = pre.transform(self.X[sel], dtype)
        s = None if weights is None else weights[codes]
        self._problems[pid] = (Z, codes, s)
        return int(codes.size)

    def terms(self, pid: int, V: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        Z, codes, s = self._problems[pid]
        if codes.size == 0:
            return 0.0, np.zeros_like(V), np.zeros_like(c)
        return softmax_terms(Z, codes, s, V, c)

    def scores(self, pid: int, V: np.ndarray, c: np.ndarray) -> tuple[int, float, int]:
        Z, codes, _ = self._problems[pid]
        if codes.size == 0:
            return 0, 0.0, 0
        logits = (Z @ V.astype(Z.dtype) + c.astype(Z.dtype)).astype(np.float64)
        hits = int(np.sum(logits.argmax(axis=1) == codes))
        loss = -float(log_softmax(logits, axis=1)[np.arange(codes.size), codes].sum())
        return hits, loss, int(codes.size)

    def scaled_ce(self, pid: int, V: np.ndarray, c: np.ndarray, a: float) -> float:
        Z, codes, s = self._problems[pid]
        if codes.size == 0:
            return 0.0
        logits = a * (Z @ V.astype(Z.dtype) + c.astype(Z.dtype)).astype(np.float64)
        ce = -log_softmax(logits, axis=1)[np.arange(codes.size), codes]
        return float(ce.sum() if s is None else s @ ce)


class RaySoftmaxProblem(ChunkedSoftmaxProblem):
    """The chunked softmax problem whose sums are computed by the shard workers."""

    def __init__(self, workers: list[Any], pid: int, pre: Preprocessor, n_features: int,
                 codes: np.ndarray, n_classes: int, s_sum: float, dtype: type) -> None:  # fmt: skip
        super().__init__(lambda: iter(()), pre, n_features, codes, n_classes, s_sum, dtype)
        self.workers, self.pid = workers, pid

    def _gather(self, method: str, *args: Any) -> list[Any]:
        import ray

        with worker_errors():
            return ray.get([getattr(w, method).remote(self.pid, *args) for w in self.workers])

    def __call__(self, theta: np.ndarray, inv_C: float) -> tuple[float, np.ndarray]:
        V, c = self.split(theta)
        f, gV, gc = 0.5 * inv_C * float(np.vdot(V, V)), inv_C * V, np.zeros(self.K)
        for fc, gVc, gcc in self._gather("terms", V, c):
            f, gV, gc = f + fc, gV + gVc, gc + gcc
        return f / self.s_sum, np.concatenate([gV.ravel(), gc]) / self.s_sum

    def scores(self, theta: np.ndarray) -> tuple[float, float]:
        V, c = self.split(theta)
        parts = self._gather("scores", V, c)
        hits, loss, n = (sum(p[i] for p in parts) for i in range(3))
        return hits / max(n, 1), loss / max(n, 1)

    def best_scale(self, theta: np.ndarray, C: float) -> float:
        V, c = self.split(theta)
        vv = float(np.vdot(V, V))

        def f(log_a: float) -> float:
            a = float(np.exp(log_a))
            return float(sum(self._gather("scaled_ce", V, c, a))) + 0.5 * a * a * vv / C

        return float(np.exp(minimize_scalar(f, bounds=(-12.0, 3.0), method="bounded").x))


class RayRowSource:
    """A :class:`~headwise.heads._rows.RowSource` over a Ray Dataset split across actors.

    Parameters
    ----------
    ds : ray.data.Dataset
        ``features`` (one vector per row) and ``labels`` columns.
    workers : int, optional
        Actors holding the parts (default: the cluster's CPUs, at most one per 1,000 rows).
    """

    def __init__(self, ds: Any, *, features: str = FEATURES, labels: str = LABELS,
                 workers: int | None = None) -> None:  # fmt: skip
        import ray

        names = list(ds.schema().names)
        for col in (features, labels):
            if col not in names:
                raise InputError(
                    f"Column '{col}' not found in the Ray Dataset; it has: {', '.join(names)}."
                )
        ds = ds.select_columns([features, labels])
        ys = [np.asarray(b[labels]) for b in ds.select_columns([labels]).iter_batches(
            batch_size=None, batch_format="numpy")]  # fmt: skip
        self.labels = np.concatenate(ys) if ys else np.zeros(0)
        n = int(self.labels.shape[0])
        if n == 0:
            raise InputError("The Ray Dataset has no rows to fit on.")
        cpus = int(ray.cluster_resources().get("CPU", 1))
        k = max(1, min(cpus if workers is None else int(workers), max(1, n // 1000)))
        cuts = [round(n * i / k) for i in range(1, k)]
        parts = ds.split_at_indices(cuts) if cuts else [ds.materialize()]
        offsets = [0, *cuts]
        # One part per live node in turn, so the rows and the gradient work are spread over the
        # machines (a soft affinity lets Ray put every part on the driver's node when the other
        # nodes' worker pools are still cold).
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
        actor = ray.remote(num_cpus=0)(ShardWorker)
        self.workers = [
            actor.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
                nodes[i % len(nodes)], soft=False)).remote(p, off, features, labels)
            for i, (p, off) in enumerate(zip(parts, offsets, strict=True))
        ]  # fmt: skip
        with worker_errors():
            sizes = ray.get([w.n_rows.remote() for w in self.workers])
        if sum(sizes) != n:  # pragma: no cover - split_at_indices keeps every row once
            raise InputError(f"The workers hold {sum(sizes)} rows, the dataset has {n}.")
        self._pid = 0

    def stats(self, positions: np.ndarray | None) -> SufficientStats:
        import ray

        pos = None if positions is None else np.sort(np.asarray(positions))
        ref = ray.put(pos)
        with worker_errors():
            parts = ray.get([w.stats.remote(ref) for w in self.workers])
        out = parts[0]
        for p in parts[1:]:
            out = out + p
        return out

    def problem(self, positions: np.ndarray | None, codes: np.ndarray, classes: np.ndarray,
                pre: Preprocessor, weights: np.ndarray | None, s_sum: float,
                dtype: type) -> RaySoftmaxProblem:  # fmt: skip
        import ray

        if positions is not None and np.any(np.diff(positions) < 0):
            order = np.argsort(positions, kind="stable")
            positions, codes = np.asarray(positions)[order], codes[order]
        self._pid += 1
        refs = [ray.put(positions), ray.put(pre)]
        with worker_errors():
            ray.get([w.prepare.remote(self._pid, refs[0], classes, refs[1], weights, dtype)
                     for w in self.workers])  # fmt: skip
        d = int(pre.shift.shape[0])
        return RaySoftmaxProblem(self.workers, self._pid, pre, d, codes, classes.size, s_sum, dtype)

    def close(self) -> None:
        """Stop the actors (their rows are freed)."""
        import ray

        for w in self.workers:
            ray.kill(w)
        self.workers = []
