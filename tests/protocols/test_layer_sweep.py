from __future__ import annotations

import numpy as np
import pytest

from headwise.encoders import HashEncoder
from headwise.exceptions import InputError
from headwise.protocols import embed_layers, layer_sweep_eval, resolve_layers
from headwise.store import EmbeddingStore


class FakeLayered:
    """A 3-layer 'transformer': layer l is the hash embedding scaled and shifted by l."""

    name = "fake-layered"
    dim = 16
    pooling = "mean"
    n_layers = 3

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self._h = HashEncoder(dim=16)

    def _resolve_layer(self, layer: int) -> int:
        if not -self.n_layers - 1 <= layer <= self.n_layers:
            raise InputError(f"bad layer {layer}")
        return layer % (self.n_layers + 1)

    def key_for_layer(self, layer: int) -> dict:
        return {"id": self.name, "layer": self._resolve_layer(layer)}

    def key(self) -> dict:
        return self.key_for_layer(-1)

    def encode_layers(self, texts, layers, *, batch_size=32):
        self.calls.append(list(layers))
        base = self._h.encode(list(texts))
        return {layer: base * (1 + layer) + layer for layer in layers}


def test_all_layers_from_one_pass_then_cache():
    enc = FakeLayered()
    texts = ["a b", "c d", "e f", "a b"]
    out = embed_layers(enc, texts, "all")
    assert sorted(out) == [0, 1, 2, 3] and enc.calls == [[0, 1, 2, 3]]
    base = HashEncoder(dim=16).encode(texts)
    for layer, X in out.items():
        np.testing.assert_allclose(X, base * (1 + layer) + layer, rtol=1e-6)
    again = embed_layers(enc, texts, [1, 3])
    assert enc.calls == [[0, 1, 2, 3]]  # served from the cache, one entry per layer key
    np.testing.assert_array_equal(again[3], out[3])
    assert len(EmbeddingStore().entries()) == 4


def test_resolve_layers_and_refusals():
    enc = FakeLayered()
    assert resolve_layers(enc, "all") == [0, 1, 2, 3]
    assert resolve_layers(enc, "0,-1") == [0, 3]
    with pytest.raises(InputError, match="comma list"):
        resolve_layers(enc, "zero")
    with pytest.raises(InputError, match="no hidden layers"):
        resolve_layers(HashEncoder(), "all")


def test_sweep_scores_each_layer():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 30)
    informative = np.where(y[:, None] == 1, 2.0, -2.0) + rng.normal(size=(60, 4))
    layers = {0: rng.normal(size=(60, 4)), 1: informative}
    tr, te = np.arange(0, 60, 2), np.arange(1, 60, 2)
    res = layer_sweep_eval("lda", layers, y, train_idx=tr, test_idx=te)
    assert res.layers == (0, 1) and res.best_layer == 1
    assert res.test_accuracy[1] > 0.9 > res.test_accuracy[0]
    with pytest.raises(InputError, match="overlap"):
        layer_sweep_eval("lda", layers, y, train_idx=tr, test_idx=tr[:3], val_idx=te)
