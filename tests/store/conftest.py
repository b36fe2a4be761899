"""Fake encoders satisfying the encoder contract, and a cache isolated in tmp_path."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from headwise.store import EmbeddingStore


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("HEADWISE_CACHE_DIR", str(root))
    monkeypatch.setenv("HEADWISE_PROGRESS", "0")
    return root


@pytest.fixture
def store(isolated_cache: Path) -> EmbeddingStore:
    return EmbeddingStore()


def text_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


@dataclass
class Tokens:
    vectors: np.ndarray
    offsets: np.ndarray


class FakeEncoder:
    """Deterministic vectors from the text's hash; counts calls; can fail or misbehave on demand."""

    def __init__(
        self,
        dim: int = 8,
        *,
        name: str = "fake",
        revision: str = "r1",
        pooling: str = "mean",
        fail_on_call: int | None = None,
        nan_inputs: Sequence[str] = (),
        out_dim: int | None = None,
    ) -> None:
        self.name, self.dim, self.pooling, self.revision = name, dim, pooling, revision
        self.fail_on_call = fail_on_call
        self.nan_inputs = set(nan_inputs)
        self.out_dim = dim if out_dim is None else out_dim
        self.calls = 0
        self.rows = 0
        self.kwargs: list[dict[str, object]] = []

    def key(self) -> dict[str, object]:
        return {"name": self.name, "revision": self.revision, "pooling": self.pooling}

    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | Tokens:
        self.calls += 1
        self.rows += len(inputs)
        self.kwargs.append({"batch_size": batch_size, "progress": progress})
        if self.fail_on_call is not None and self.calls == self.fail_on_call:
            raise RuntimeError(f"encoder killed on call {self.calls}")
        if self.pooling == "tokens":
            return self._tokens(inputs)
        out = np.stack([text_vector(t, self.out_dim) for t in inputs])
        for i, t in enumerate(inputs):
            if t in self.nan_inputs:
                out[i, 0] = np.nan
        return out

    def _tokens(self, inputs: Sequence[str]) -> Tokens:
        vecs = [text_vector(f"{j}:{w}", self.dim) for t in inputs for j, w in enumerate(t.split())]
        counts = [len(t.split()) for t in inputs]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        vectors = np.stack(vecs) if vecs else np.zeros((0, self.dim), np.float32)
        return Tokens(vectors, offsets)

    def expected(self, inputs: Sequence[str]) -> np.ndarray:
        return np.stack([text_vector(t, self.dim) for t in inputs])


@pytest.fixture
def texts() -> list[str]:
    return [f"sample text number {i} about topic {i % 7}" for i in range(50)]


@pytest.fixture
def make_encoder() -> type[FakeEncoder]:
    """The FakeEncoder class, as a factory (fixtures avoid importing from conftest)."""
    return FakeEncoder
