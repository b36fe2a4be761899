"""Embedding store: each row embedded once per encoder key, cached on disk, resumable.

>>> from headwise.store import EmbeddingStore
"""

from __future__ import annotations

from ._maintain import EntryInfo, GcResult
from ._set import EmbeddingSet, TokenArrays
from ._store import EmbeddingStore
from ._verify import VerifyResult

__all__ = ["EmbeddingSet", "EmbeddingStore", "EntryInfo", "GcResult", "TokenArrays", "VerifyResult"]
