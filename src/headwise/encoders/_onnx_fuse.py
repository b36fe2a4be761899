"""Operator fusion of an fp32 ONNX transformer export (ONNX Runtime's transformer optimizer).

``onnxruntime.transformers.optimizer.optimize_model(..., model_type="bert")`` rewrites a BERT-like
graph into ONNX Runtime's fused CPU kernels: ``EmbedLayerNormalization`` (the three embedding
look-ups, their sum and the LayerNorm), one ``Attention`` per layer (QKV projection, scaled
scores, mask, softmax and context in one kernel, instead of about twenty nodes), ``BiasGelu`` and
``SkipLayerNormalization``. The session-level "all" optimisation level finds only the last two.

Attention fusion needs two things of the export (see :func:`headwise.encoders._onnx._export`): the
eager attention implementation (the SDPA trace scales queries and keys separately, a pattern the
optimizer does not match) and the attention mask built as transformers 4 built it. The fused
graph is checked against torch like the plain export; a graph the optimizer cannot fuse, or whose
fused outputs drift, is kept unfused (the reason goes into the export's ``meta.json``).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
from pathlib import Path
from typing import Any

from ._hf_dir import _read_json

__all__ = ["FUSABLE_MODEL_TYPES", "fuse_export", "fusion_spec"]

#: ``config.json`` model types whose encoder layers follow BERT's graph, which the optimizer's
#: ``"bert"`` model type fuses.
FUSABLE_MODEL_TYPES: tuple[str, ...] = ("bert", "roberta", "xlm-roberta", "distilbert")


def fusion_spec(directory: Path) -> dict[str, Any] | None:
    """What the optimizer needs for the model in ``directory``, or ``None`` when it is not fusable.

    Read straight from ``config.json`` (no transformers import). The result is hashed into the
    export's folder name, so a fused and an unfused export never share a folder.

    >>> fusion_spec(Path("/nonexistent")) is None
    True
    """
    raw = _read_json(directory / "config.json")
    if not isinstance(raw, dict) or raw.get("model_type") not in FUSABLE_MODEL_TYPES:
        return None
    heads = raw.get("num_attention_heads", raw.get("n_heads"))
    hidden = raw.get("hidden_size", raw.get("dim"))
    if not isinstance(heads, int) or not isinstance(hidden, int) or heads <= 0 or hidden % heads:
        return None
    return {"optimizer": "bert", "num_heads": heads, "hidden_size": hidden}


def fuse_export(source: Path, dest: Path, spec: dict[str, Any]) -> dict[str, int]:
    """Write the fused graph of ``source`` to ``dest``; return the count of each fused operator.

    Raises whatever the optimizer raises (the caller keeps the plain export then).
    """
    optimizer = importlib.import_module("onnxruntime.transformers.optimizer")
    quiet = io.StringIO()
    logger = logging.getLogger("onnxruntime.transformers")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(quiet):
            model = optimizer.optimize_model(
                str(source),
                model_type=spec["optimizer"],
                num_heads=spec["num_heads"],
                hidden_size=spec["hidden_size"],
                opt_level=0,  # graph fusions only; the session applies its own level on load
                use_gpu=False,
            )
            model.save_model_to_file(str(dest))
            stats = model.get_fused_operator_statistics()
    finally:
        logger.setLevel(level)
    return {name: int(count) for name, count in stats.items() if count}
