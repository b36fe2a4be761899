"""Embedding store: embed once, cache on disk, resume interrupted runs.

>>> from headwise.store import EmbeddingStore
"""

from __future__ import annotations

from ._set import EmbeddingSet, TokenArrays
from ._store import EmbeddingStore, EntryInfo, VerifyResult

__all__ = ["EmbeddingSet", "EmbeddingStore", "EntryInfo", "TokenArrays", "VerifyResult"]
