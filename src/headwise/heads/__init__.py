"""Heads: sklearn-compatible, logits-first classifiers on frozen embeddings."""

from ._base import BaseHead
from ._io import load_head, save_head
from ._registry import get_head, get_head_class, list_heads, register_head
from ._stats import SufficientStats

__all__ = [
    "BaseHead",
    "SufficientStats",
    "get_head",
    "get_head_class",
    "list_heads",
    "load_head",
    "register_head",
    "save_head",
]
