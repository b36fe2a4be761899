"""Saving and loading heads without pickle: safetensors arrays + JSON metadata."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import EncoderMismatchError, HeadFormatError, InputError

__all__ = [
    "HEAD_FORMAT",
    "HEAD_FORMAT_VERSION",
    "atomic_save_safetensors",
    "read_safetensors",
    "save_head",
    "load_head",
    "load_head_extras",
    "describe_encoder_key",
]

HEAD_FORMAT = "headwise.head"
HEAD_FORMAT_VERSION = 1


def atomic_save_safetensors(
    path: Path, arrays: dict[str, np.ndarray], header: dict[str, str]
) -> Path:
    """Write ``arrays`` to ``path`` via a temp file in the same folder, then rename."""
    from safetensors.numpy import save

    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError(f"Folder {path.parent} does not exist; create it or choose another path.")
    data = save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=header)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Head file {path} does not exist; `headwise fit ... --out {path}` makes one.")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            header = dict(fh.metadata() or {})
            arrays = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise HeadFormatError(
            f"{path} is not a readable head file ({type(exc).__name__}: {exc}). "
            "Was it truncated? Fit and save the head again."
        ) from None
    return arrays, header


def describe_encoder_key(key: dict[str, Any] | None) -> str:
    """Short human description of an encoder key for error messages."""
    if not key:
        return "unknown encoder"
    parts = [str(key.get("id") or key.get("name") or "?")]
    rev = key.get("revision")
    if rev:
        parts.append(f"@{str(rev)[:12]}")
    for field in ("layer", "pooling", "max_length", "dim"):
        if key.get(field) is not None:
            parts.append(f" {field}={key[field]}")
    return "".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):  # e.g. LDAHead(priors=np.array([...]))
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


EXTRA_PREFIX = "extra."


def save_head(
    head: Any,
    path: str | Path,
    *,
    encoder_key: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Save a fitted head: its fitted arrays as tensors, parameters and the rest as JSON.

    ``extra_arrays`` (stored as ``extra.<name>`` tensors) and ``extra_meta`` (the ``extra``
    header entry, JSON) carry data that travels with the head, such as a temperature and
    conformal calibration rows. Readers that do not know them ignore them, so the format
    version is unchanged; :func:`load_head_extras` reads them back.
    """
    from sklearn.utils.validation import check_is_fitted

    from ._registry import name_of_head

    check_is_fitted(head)
    arrays, state = head._get_state()
    key = encoder_key if encoder_key is not None else getattr(head, "encoder_key_", None)
    header = {
        "format": HEAD_FORMAT,
        "format_version": str(HEAD_FORMAT_VERSION),
        "head": name_of_head(type(head)),
        "params": json.dumps(_jsonable(head.get_params(deep=False))),
        "state": json.dumps(_jsonable(state)),
        "encoder_key": json.dumps(_jsonable(key)),
    }
    if extra_meta is not None:
        header["extra"] = json.dumps(_jsonable(extra_meta))
    for name, value in (extra_arrays or {}).items():
        arrays[EXTRA_PREFIX + name] = np.asarray(value)
    return atomic_save_safetensors(Path(path), arrays, header)


def load_head_extras(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The ``extra_arrays`` and ``extra_meta`` saved with a head (``({}, None)`` if none)."""
    arrays, header = read_safetensors(Path(path))
    if header.get("format") != HEAD_FORMAT:
        raise HeadFormatError(f"{path} is not a headwise head file (no '{HEAD_FORMAT}' header).")
    extras = {
        k[len(EXTRA_PREFIX) :]: v for k, v in arrays.items() if k.startswith(EXTRA_PREFIX)
    }
    meta = json.loads(header["extra"]) if "extra" in header else None
    return extras, meta


def load_head(path: str | Path, *, expected_encoder_key: dict[str, Any] | None = None) -> Any:
    """Load a head saved by :func:`save_head`; refuse one fitted on another encoder's embeddings."""
    from ._registry import get_head_class

    arrays, header = read_safetensors(Path(path))
    if header.get("format") != HEAD_FORMAT:
        raise HeadFormatError(f"{path} is not a headwise head file (no '{HEAD_FORMAT}' header).")
    version = int(header.get("format_version", "0"))
    if version > HEAD_FORMAT_VERSION:
        raise HeadFormatError(
            f"{path} uses head format version {version}; this headwise reads up to "
            f"{HEAD_FORMAT_VERSION}. Upgrade headwise to load it."
        )
    cls = get_head_class(header["head"])
    head = cls(**json.loads(header["params"]))
    head._set_state(arrays, json.loads(header["state"]))
    key = json.loads(header.get("encoder_key", "null"))
    head.encoder_key_ = key
    if expected_encoder_key is not None and key is not None and key != expected_encoder_key:
        raise EncoderMismatchError(
            f"{path} was fitted on embeddings from {describe_encoder_key(key)}, but these come "
            f"from {describe_encoder_key(expected_encoder_key)}. Refit the head or embed with "
            "the encoder it was fitted on."
        )
    return head
