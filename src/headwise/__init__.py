"""headwise: heads on frozen foundation models.

Embed once with a pretrained encoder, keep the vectors in a trustworthy cache, then fit, compare and
save lightweight heads on them in seconds.

>>> import headwise
>>> "lda" in headwise.list_heads()
True
"""

from __future__ import annotations

import importlib
from typing import Any

from .datasets import Table, load_table
from .encoders import (
    Encoder,
    HashEncoder,
    TokenEmbeddings,
    get_encoder,
    list_encoders,
    register_encoder,
)
from .exceptions import (
    CacheError,
    EncoderMismatchError,
    HeadFileError,
    HeadFormatError,
    HeadwiseError,
    InputError,
    MissingDependencyError,
    OutputError,
    UnknownEncoderError,
    UnknownHeadError,
)
from .store import EmbeddingSet, EmbeddingStore

# Heads and the comparison import scikit-learn (over a second); they load on first use, so that
# embedding and cache commands start fast.
_LAZY = {
    "Leaderboard": ".compare",
    "compare_heads": ".compare",
    "ConformalClassifier": ".trust",
    "TemperatureScaler": ".trust",
    **dict.fromkeys(
        [
            "AutoHead",
            "GaussianNBHead",
            "KNNHead",
            "LDAHead",
            "LogisticHead",
            "NCMHead",
            "RidgeHead",
            "SufficientStats",
            "fit_streaming",
            "get_head",
            "list_heads",
            "load_head",
            "save_head",
            "stream_stats",
        ],
        ".heads",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'headwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AutoHead",
    "CacheError",
    "ConformalClassifier",
    "EmbeddingSet",
    "EmbeddingStore",
    "Encoder",
    "EncoderMismatchError",
    "GaussianNBHead",
    "HashEncoder",
    "HeadFileError",
    "HeadFormatError",
    "HeadwiseError",
    "InputError",
    "KNNHead",
    "LDAHead",
    "Leaderboard",
    "LogisticHead",
    "MissingDependencyError",
    "NCMHead",
    "OutputError",
    "RidgeHead",
    "SufficientStats",
    "Table",
    "TemperatureScaler",
    "TokenEmbeddings",
    "UnknownEncoderError",
    "UnknownHeadError",
    "compare_heads",
    "fit_streaming",
    "get_encoder",
    "get_head",
    "list_encoders",
    "list_heads",
    "load_head",
    "load_table",
    "register_encoder",
    "save_head",
    "stream_stats",
]
