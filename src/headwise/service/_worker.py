"""The encoder in a process of its own, so its forward passes never wait for the event loop's GIL.

Torch releases the GIL inside each operation but takes it back between them; in the serving
process the event loop holds it while it parses and answers requests, which slowed a MiniLM
forward pass by ~45% here. A worker process has its own interpreter: the main process does HTTP,
the worker does the encoder, and only texts and embedding arrays cross the pipe.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["encode", "key", "load", "measure"]

_encoder: Any = None
_overhead: float | None = None


def load(spec: str, options: dict[str, Any]) -> None:
    """Process initializer: build the encoder once."""
    global _encoder
    from ..encoders import get_encoder

    _encoder = get_encoder(spec, **options)


def key() -> dict[str, Any]:
    return dict(_encoder.key())


def measure() -> float | None:
    """Measure (once, after the warm-up) the fixed cost of a pass in this process."""
    global _overhead
    from ._batcher import measure_overhead

    _overhead = measure_overhead(_encoder.encode)
    return _overhead


def encode(texts: list[str]) -> np.ndarray:
    from ._batcher import encode_by_length

    return encode_by_length(_encoder, texts, _overhead)
