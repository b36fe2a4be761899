"""Layer sweep: one forward pass caches every hidden layer; a head is fitted per layer."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._progress import track
from ..exceptions import InputError
from ..probing import SweepResult, plot_sweep  # the one sweep result and plot
from ..splits import stratified_holdout
from ._common import accuracy, fresh, resolve_heads
from ._results import RunRecord, _jsonable, data_hash, head_params
from .linear import DEFAULT_GRIDS, _select

__all__ = ["resolve_layers", "embed_layers", "layer_sweep_eval", "layer_sweep_json", "plot_sweep"]


class _LayerView:
    """An encoder as seen at one layer: its cache key, and rows already computed for it."""

    def __init__(self, encoder: Any, layer: int, rows: dict[str, np.ndarray] | None = None):
        self._encoder, self._layer, self._rows = encoder, layer, rows
        self.name = encoder.name
        self.dim = encoder.dim
        self.pooling = getattr(encoder, "pooling", "mean")

    def key(self) -> dict[str, Any]:
        return dict(self._encoder.key_for_layer(self._layer))

    def encode(self, inputs: Sequence[str], *, batch_size: int = 32, progress: Any = None) -> np.ndarray:
        if self._rows is None:  # pragma: no cover - the sweep always hands rows over
            raise InputError("this layer view has no precomputed rows")
        return np.stack([self._rows[t] for t in inputs])


def resolve_layers(encoder: Any, layers: Any) -> list[int]:
    """``"all"`` -> ``0..n_layers``; a comma list or ints -> those layers, normalised."""
    if not (hasattr(encoder, "encode_layers") and hasattr(encoder, "key_for_layer")):
        raise InputError(
            f"Encoder {getattr(encoder, 'name', encoder)!r} exposes no hidden layers to sweep; "
            "use a transformer encoder (minilm or hf:<local model dir>)."
        )
    n = int(encoder.n_layers)
    if isinstance(layers, str):
        if layers.strip().lower() == "all":
            return list(range(n + 1))
        try:
            layers = [int(v) for v in layers.split(",") if v.strip()]
        except ValueError:
            raise InputError(
                f"--layers must be 'all' or a comma list of ints such as 0,3,6. Got {layers!r}."
            ) from None
    out = sorted({encoder._resolve_layer(int(v)) for v in layers})
    if not out:
        raise InputError("No layers to sweep; pass 'all' or a comma list such as 0,3,6.")
    return out


def embed_layers(
    encoder: Any,
    texts: Sequence[str],
    layers: Any = "all",
    *,
    store: Any = None,
    batch_size: int = 64,
    dtype: str = "float32",
) -> dict[int, np.ndarray]:
    """Embeddings of ``texts`` at every layer, cached under each layer's own key.

    Layers already in the cache are read from it; all the missing ones come from a single
    ``encoder.encode_layers`` pass (one forward pass per batch for every layer) and are
    written to the store, each entry exactly as ``HFEncoder(layer=l)`` would make it.
    """
    from ..store import EmbeddingStore

    store = EmbeddingStore() if store is None else store
    wanted = resolve_layers(encoder, layers)
    texts = list(texts)
    out: dict[int, np.ndarray] = {}
    missing = []
    for layer in wanted:
        hit = store.lookup(_LayerView(encoder, layer), texts, dtype=dtype)
        if hit is None:
            missing.append(layer)
        else:
            out[layer] = hit.to_numpy()
    if missing:
        uniq = list(dict.fromkeys(texts))
        computed = encoder.encode_layers(uniq, missing, batch_size=batch_size)
        for layer in missing:
            rows = dict(zip(uniq, np.asarray(computed[layer], dtype=np.float32), strict=True))
            es = store.get_or_compute(_LayerView(encoder, layer, rows), texts, dtype=dtype,
                                      batch_size=batch_size)
            out[layer] = es.to_numpy()
    return {layer: out[layer] for layer in wanted}


def layer_sweep_eval(
    head: Any,
    layers: Mapping[int, np.ndarray],
    y: Any,
    *,
    train_idx: Any,
    test_idx: Any,
    val_idx: Any = None,
    validation_fraction: float = 0.1,
    seed: int = 0,
    grid: Mapping[str, list[Any]] | None = None,
    encoder_key: Mapping[str, Any] | None = None,
) -> SweepResult:
    """Validation and test accuracy of ``head`` at every layer of ``layers`` (``{layer: X}``).

    Per layer, the head's settings (``grid``, default :data:`DEFAULT_GRIDS` for its name) are
    chosen on the validation rows (``val_idx``, or a stratified ``validation_fraction`` of
    train carved once, the same rows for every layer), the winner is refitted on train plus
    validation, and the test rows are scored once. The result has one column, the
    encoder's pooling (from ``encoder_key``), and carries the run record.
    """
    (name, est), = resolve_heads([head] if not isinstance(head, Mapping) else head).items()
    y = np.asarray(y)
    tr, te = np.asarray(train_idx), np.asarray(test_idx)
    if val_idx is None or len(val_idx) == 0:
        split = stratified_holdout(y[tr], validation_fraction, seed)
        if split is None:
            raise InputError("Could not carve a validation split from train (one row per class).")
        va, tr = tr[split[1]], tr[split[0]]
    else:
        va = np.asarray(val_idx)
    if np.intersect1d(te, np.r_[tr, va]).size:
        raise InputError("Test rows overlap the train/validation rows of the sweep.")
    g = DEFAULT_GRIDS.get(name, {}) if grid is None else grid
    keys = sorted(layers)
    vals, tests = [], []
    for layer in track(keys, f"sweep: {name} per layer"):
        X = np.asarray(layers[layer])
        params, val = _select(est, g, X[tr], y[tr], X[va], y[va])
        final = fresh(est).set_params(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            final.fit(X[np.r_[tr, va]], y[np.r_[tr, va]])
        vals.append(val)
        tests.append(accuracy(y[te], final.predict(X[te])))
    record = RunRecord(
        protocol="sweep", encoder=encoder_key,
        data_hash=data_hash(y, tr, va, te, *(layers[k] for k in keys[:1])),
        seeds=(seed,), heads={name: head_params(est)}, settings={"grid": dict(g)},
    )
    key = dict(encoder_key or {})
    return SweepResult.from_grid(
        "layers", str(key.get("id", "")), name, None, keys, (str(key.get("pooling", "mean")),),
        np.array(vals)[:, None], np.array(tests)[:, None], tr.size, va.size, te.size, record=record,
    )  # fmt: skip


def layer_sweep_json(results: Sequence[SweepResult], **extra: Any) -> dict[str, Any]:
    """The run file of per-layer sweeps (``RUN/sweep.json``): the first head's curve at the
    top (with its record), every head's under ``heads``."""
    first = results[0]
    return _jsonable({
        "protocol": "sweep", **extra, "head": first.head, "layers": list(first.layers),
        "val_accuracy": first.val_accuracy[:, 0].tolist(),
        "test_accuracy": first.test_accuracy[:, 0].tolist(), "best_layer": first.best_layer,
        "record": first.record.to_json(),
        "heads": {r.head: {"val_accuracy": r.val_accuracy[:, 0].tolist(),
                           "test_accuracy": r.test_accuracy[:, 0].tolist(),
                           "best_layer": r.best_layer} for r in results},
    })  # fmt: skip
