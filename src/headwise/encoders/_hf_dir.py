"""Local Hugging Face model directories: checks, weight revisions, sentence-transformers defaults.

Also the lazy, offline-by-default import of torch and transformers used by :mod:`._hf`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..exceptions import InputError, MissingDependencyError

__all__ = [
    "CONFIG_FILES",
    "check_backend_installed",
    "check_model_dir",
    "files_sha256",
    "import_backend",
    "light_config",
    "module_available",
    "tokenizer_max_length",
    "no_loading_bars",
    "sentence_transformers_defaults",
    "weight_files",
]

# Small files besides the weights that change what the model outputs (tokenizer, architecture).
CONFIG_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model",
    "sentencepiece.bpe.model", "tokenizer.model", "sentence_bert_config.json",
)  # fmt: skip
_digests: dict[str, str] = {}  # "path|size|mtime_ns|inode" -> sha256, this process
_DIGESTS_FILE = "digests.json"  # the same memo across processes, beside the embedding cache
_disk_loaded = False


def _digest_file() -> Path:
    from ..config import cache_dir

    return cache_dir() / _DIGESTS_FILE


def _load_disk_digests() -> None:
    global _disk_loaded
    if _disk_loaded:
        return
    _disk_loaded = True
    try:
        saved = json.loads(_digest_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # absent or unreadable: digests are recomputed (and the file rewritten)
    if isinstance(saved, dict):
        _digests.update({k: v for k, v in saved.items() if isinstance(v, str) and len(v) == 64})


def _save_disk_digests() -> None:
    """Best effort, atomic: a read-only cache only costs re-hashing next time."""
    from .._atomic import atomic_write, make_folder

    path = _digest_file()
    try:
        make_folder(path.parent)
        atomic_write(path, json.dumps(_digests, sort_keys=True), what="Digest file", durable=False)
    except OSError:  # OutputError is an OSError: a read-only cache is fine here
        pass


def _file_sha256(path: Path) -> str:
    """sha256 of a file, memoised on (path, size, mtime_ns, inode) in memory and on disk.

    Weight files are hundreds of MB: hashing them on every run would dominate a cache hit. A file
    rewritten in place changes its mtime (and usually its size or inode), which invalidates the memo.
    """
    st = path.stat()
    memo = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    if memo not in _digests:
        _load_disk_digests()
    if memo not in _digests:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _digests[memo] = h.hexdigest()
        if st.st_size >= 1 << 20:  # only big files are worth a disk write
            _save_disk_digests()
    return _digests[memo]


def files_sha256(files: Sequence[Path]) -> str:
    """sha256 over the names and contents of ``files``, in the order given."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}\0{_file_sha256(f)}\n".encode())
    return h.hexdigest()


def weight_files(directory: Path) -> list[Path]:
    """The files AutoModel loads weights from: *.safetensors if any, else pytorch_model*.bin."""
    return sorted(directory.glob("*.safetensors")) or sorted(directory.glob("pytorch_model*.bin"))


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Return the absolute model directory, or say why ``path`` is not one."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(
            f"Model directory '{path}' does not exist. headwise loads Hugging Face models from local "
            "directories only (no downloads); use 'hf:<directory holding config.json>'."
        )
    if not p.is_dir():
        raise InputError(f"'{path}' is a file; 'hf:' needs the model directory that holds it.")
    if not (p / "config.json").is_file():
        raise InputError(
            f"'{path}' has no config.json, so it is not a Hugging Face model directory. "
            "Point 'hf:' at the folder that holds config.json and the weights."
        )
    if not weight_files(p):
        raise InputError(
            f"'{path}' has no weight files (*.safetensors or pytorch_model*.bin); "
            "save the model with save_pretrained() into that directory."
        )
    return p.resolve()


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"Could not read '{path}': {exc}. Is the model directory intact?"
        ) from None


def sentence_transformers_defaults(directory: Path) -> dict[str, Any]:
    """Pooling, normalisation, max length and lower-casing from sentence-transformers files."""
    modules = _read_json(directory / "modules.json") or []
    types = [
        (str(m.get("type", "")), str(m.get("path", ""))) for m in modules if isinstance(m, dict)
    ]
    pooling_dir = next((path for t, path in types if t.endswith(".Pooling")), "1_Pooling")
    pooling_cfg = _read_json(directory / pooling_dir / "config.json") or {}
    sbert = _read_json(directory / "sentence_bert_config.json") or {}
    return {
        "pooling": "cls" if pooling_cfg.get("pooling_mode_cls_token") else "mean",
        "normalize": any(t.endswith(".Normalize") for t, _ in types),
        "max_length": sbert.get("max_seq_length"),
        "lowercase": bool(sbert.get("do_lower_case", False)),
    }


def light_config(directory: Path) -> dict[str, Any] | None:
    """Layer count, width and position limit read straight from ``config.json``.

    ``None`` when the file does not give plain integers (nested or unusual configs): the caller
    then asks transformers' ``AutoConfig``. Reading the JSON keeps a cache hit free of the
    torch/transformers import (seconds).
    """
    raw = _read_json(directory / "config.json")
    if not isinstance(raw, dict):
        return None
    n_layers, dim = raw.get("num_hidden_layers"), raw.get("hidden_size")
    if not isinstance(n_layers, int) or not isinstance(dim, int):
        return None
    max_pos = raw.get("max_position_embeddings")
    return {
        "num_hidden_layers": n_layers,
        "hidden_size": dim,
        "max_position_embeddings": max_pos if isinstance(max_pos, int) else None,
        "is_encoder_decoder": bool(raw.get("is_encoder_decoder", False)),
        "model_type": raw.get("model_type") if isinstance(raw.get("model_type"), str) else None,
    }


def tokenizer_max_length(directory: Path) -> int | None:
    """``model_max_length`` from ``tokenizer_config.json`` (what ``AutoTokenizer`` reports)."""
    raw = _read_json(directory / "tokenizer_config.json")
    value = raw.get("model_max_length") if isinstance(raw, dict) else None
    return value if isinstance(value, int) and value <= 1_000_000 else None


def module_available(name: str) -> bool:
    """Whether ``import name`` would find the module, without importing it."""
    if name in sys.modules:
        return sys.modules[name] is not None  # None marks a module blocked from import
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_backend_installed(extra: str) -> None:
    """Fail early (without importing them) when torch or transformers is missing."""
    missing = [m for m in ("torch", "transformers") if not module_available(m)]
    if missing:
        raise MissingDependencyError(
            f"Hugging Face encoders need torch and transformers; {' and '.join(missing)} "
            f"could not be found. pip install 'headwise[{extra}]'"
        )


def import_backend(extra: str) -> tuple[Any, Any]:
    """Import torch and transformers offline-by-default; say which extra to install if missing."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            f"Hugging Face encoders need torch and transformers, which could not be imported ({exc}). "
            f"pip install 'headwise[{extra}]'"
        ) from exc
    return torch, transformers


@contextmanager
def no_loading_bars(transformers: Any) -> Iterator[None]:
    """Hide transformers' own "Loading weights" bar; headwise shows its own progress."""
    log = transformers.utils.logging
    was_on = getattr(log, "is_progress_bar_enabled", lambda: False)()
    if was_on:
        log.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            log.enable_progress_bar()
