"""A deterministic, dependency-free encoder for tests and examples.

Each lower-cased word maps to a fixed pseudo-random Gaussian direction derived from SHAKE-256 of
the word (no RNG state, so the same on every platform, process and numpy version). A text's vector
is the normalised sum of its word directions plus a small per-text component, L2-normalised again.
Texts that share words are therefore similar, which is enough for toy classification.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from .._validation import check_texts
from ..exceptions import InputError
from ._protocol import check_batch_size

__all__ = ["HashEncoder", "make_hash_encoder"]

_FORMAT_VERSION = 1
_WORD = re.compile(r"\w+")
_TEXT_WEIGHT = 0.25  # size of the per-text component relative to the unit bag-of-words part
DEFAULT_DIM = 32


@lru_cache(maxsize=1 << 16)
def _direction(kind: str, token: str, dim: int) -> np.ndarray:
    """Unit vector for ``token``: Box-Muller Gaussians from SHAKE-256 output."""
    digest = hashlib.shake_256(
        f"headwise-hash-v{_FORMAT_VERSION}\0{kind}\0{token}".encode()
    ).digest(8 * dim)
    u = (np.frombuffer(digest, dtype="<u4").astype(np.float64) + 0.5) / 2.0**32
    z = np.sqrt(-2.0 * np.log(u[:dim])) * np.cos(2.0 * np.pi * u[dim:])
    z /= np.linalg.norm(z)
    z.flags.writeable = False
    return z


class HashEncoder:
    """Hash words to fixed random directions; deterministic and numpy-only.

    Parameters
    ----------
    dim : int, default 32
        Output width.

    Examples
    --------
    >>> enc = HashEncoder(dim=8)
    >>> X = enc.encode(["the cat sat", "the cat ran", "stock prices fell"])
    >>> X.shape, X.dtype.name
    ((3, 8), 'float32')
    >>> bool(X[0] @ X[1] > X[0] @ X[2])
    True
    """

    pooling = "mean"

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise InputError(
                f"The 'dim' option of the hash encoder must be a positive integer. Got {dim!r} instead."
            )
        self.dim = int(dim)
        self.name = "hash"

    def key(self) -> dict[str, Any]:
        """Everything that determines the output; part of the cache key."""
        return {
            "id": self.name,
            "dim": self.dim,
            "pooling": self.pooling,
            "normalize": True,
            "tokenizer": "lowercase \\w+",
            "version": _FORMAT_VERSION,
        }

    def _vector(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())
        v = np.zeros(self.dim)
        for w in words:
            v += _direction("word", w, self.dim)
        norm = np.linalg.norm(v)
        if norm > 0:
            v /= norm
        v = v + _TEXT_WEIGHT * _direction("text", text, self.dim)
        return v / np.linalg.norm(v)

    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray:
        """Return an ``(n, dim)`` float32 array of unit vectors; ``batch_size`` and ``progress`` are
        accepted for interface compatibility and do not change the result."""
        texts = check_texts(inputs)
        check_batch_size(batch_size)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self._vector(t)
        return out

    def __repr__(self) -> str:
        return f"HashEncoder(dim={self.dim})"


def make_hash_encoder(
    arg: str | None = None, *, dim: int | None = None, device: Any = None
) -> HashEncoder:
    """Entry-point factory: ``"hash"`` or ``"hash:<dim>"``; option ``dim``.

    ``device`` is accepted and ignored (the encoder is plain numpy) so callers can pass it to any
    encoder.

    >>> make_hash_encoder("16").dim
    16
    """
    if arg is not None and arg != "":
        try:
            spec_dim = int(arg)
        except ValueError:
            raise InputError(
                f"Encoder spec 'hash:{arg}' is not valid; the part after 'hash:' is the dimension, "
                "e.g. 'hash:64'."
            ) from None
        if dim is not None and dim != spec_dim:
            raise InputError(
                f"Encoder spec 'hash:{arg}' asks for dim {spec_dim} but the dim option is {dim}; "
                "give the dimension once."
            )
        dim = spec_dim
    return HashEncoder(DEFAULT_DIM if dim is None else dim)


make_hash_encoder.info = {  # type: ignore[attr-defined]
    "modality": "text", "dim": DEFAULT_DIM, "layers": "-", "licence": "Apache-2.0",
    "extra": "-", "description": "deterministic word-hashing encoder for tests and examples (numpy only)",
}  # fmt: skip
