"""Cached features of many sites of one model: each site its own cache entry, one forward pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["site_features"]


class _Precomputed:
    """Stands in for an encoder view whose features were computed in a shared forward pass.

    It has the view's name, dim, pooling and key, so the store files the features under exactly
    the key the view would have; ``encode`` hands back the rows of the texts asked for.
    """

    def __init__(self, view: Any, texts: list[str], features: np.ndarray) -> None:
        self.name, self.dim, self.pooling = view.name, view.dim, view.pooling
        self._view, self._features = view, features
        self._row = {t: i for i, t in enumerate(texts)}

    def key(self) -> dict[str, Any]:
        return dict(self._view.key())

    def encode(self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None) -> np.ndarray:
        return self._features[[self._row[t] for t in inputs]]


def site_features(
    encoder: Any,
    texts: Sequence[str],
    targets: Sequence[tuple[int, int | None, str]],
    *,
    store: Any = None,
    batch_size: int = 16,
    progress: bool | None = None,
) -> dict[tuple[int, int | None, str], np.ndarray]:
    """Pooled features of ``texts`` at every target ``(layer, attention_head, pooling)``.

    ``encoder`` is a :class:`~headwise.encoders._llm.CausalLMEncoder` (anything with ``view`` and
    ``encode_targets``). Each target is cached under its own key (the view's ``key()``); targets
    missing from the cache are computed together, one forward pass per batch for all of them.
    ``store=False`` skips the cache. Returns float32 ``(n, dim)`` arrays keyed by the resolved
    target (negative layers made positive).
    """
    from ..store import EmbeddingStore

    texts = list(texts)
    if not targets:
        raise InputError("site_features needs at least one (layer, attention_head, pooling) target.")
    if any(t[2] == "tokens" for t in targets):
        raise InputError("site_features keeps pooled vectors only; use pooling 'last' or 'mean'.")
    views = {}
    for t in targets:
        view = encoder.view(t[0], t[1], t[2])
        views[view.target] = view
    if store is False:
        return dict(encoder.encode_targets(texts, list(views), batch_size=batch_size, progress=progress))
    store = store if store is not None else EmbeddingStore()
    out: dict[Any, np.ndarray] = {}
    missing = []
    for target, view in views.items():
        hit = store.lookup(view, texts)
        if hit is None:
            missing.append(target)
        else:
            out[target] = hit.to_numpy()
    if missing:
        unique = list(dict.fromkeys(texts))  # one forward pass per distinct text
        computed = encoder.encode_targets(unique, missing, batch_size=batch_size, progress=progress)
        for target in missing:
            stand_in = _Precomputed(views[target], unique, computed[target])
            es = store.get_or_compute(stand_in, texts, shard_size=max(len(texts), 1), progress=False)
            out[target] = es.to_numpy()
    return out
