"""Saving and loading heads without pickle: safetensors arrays + JSON metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..exceptions import (
    EncoderMismatchError,
    HeadFileError,
    HeadFormatError,
    HeadwiseError,
    InputError,
    UnknownHeadError,
)
from ._schema import validate_loaded_head, validate_state

__all__ = [
    "HEAD_FORMAT",
    "HEAD_FORMAT_VERSION",
    "atomic_save_safetensors",
    "content_digest",
    "read_safetensors",
    "save_head",
    "load_head",
    "load_head_extras",
    "saved_head_name",
    "describe_encoder_key",
    "check_encoder_key",
]

HEAD_FORMAT = "headwise.head"
HEAD_FORMAT_VERSION = 1


_DIGEST = "digest"  # header entry: SHA-256 of every array and every other header entry


def content_digest(arrays: dict[str, np.ndarray], header: dict[str, str]) -> str:
    """SHA-256 over every array (name, dtype, shape, bytes) and every header entry but the
    digest itself, in sorted order: any changed byte of a saved head changes it."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.view(np.uint8).ravel().data if a.size else b"")
    for name in sorted(k for k in header if k != _DIGEST):
        h.update(f"{name}\0{header[name]}\0".encode())
    return "sha256:" + h.hexdigest()


def atomic_save_safetensors(
    path: Path, arrays: dict[str, np.ndarray], header: dict[str, str]
) -> Path:
    """Write ``arrays`` to ``path`` atomically (:func:`headwise._atomic.atomic_write`), with
    their :func:`content_digest` in the header, which :func:`read_safetensors` checks.

    Write failures (missing folder, a folder at ``path``, read-only, disk full) raise
    :class:`~headwise.exceptions.OutputError` with one line; nothing half-written is left.
    """
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    header = {**header, _DIGEST: content_digest(arrays, header)}
    return atomic_write(Path(path), save(arrays, metadata=header), what="Head file")


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise InputError(f"Head file {path} is a folder; give the .safetensors file inside it.")
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
    # files saved before the digest existed have none and load as they are
    if _DIGEST in header and header[_DIGEST] != content_digest(arrays, header):
        raise HeadFormatError(
            f"{path} is damaged: its contents no longer match the digest written when it was "
            "saved (a byte changed on disk or in transit). Fit and save the head again, or copy "
            "it anew."
        )
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
    if callable(getattr(value, "encode", None)) and isinstance(getattr(value, "name", None), str):
        return value.name  # an encoder among a head's parameters (zero-shot): saved by its name
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


def saved_head_name(path: str | Path) -> str | None:
    """The registry name recorded in a head file's header (None when it is no headwise head);
    reads the header only, builds nothing."""
    try:
        _, header = read_safetensors(Path(path))
    except HeadwiseError:
        return None
    name = header.get("head") if header.get("format") == HEAD_FORMAT else None
    return name if isinstance(name, str) else None


def load_head_extras(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """The ``extra_arrays`` and ``extra_meta`` saved with a head (``({}, None)`` if none)."""
    arrays, header = read_safetensors(Path(path))
    if header.get("format") != HEAD_FORMAT:
        raise HeadFormatError(f"{path} is not a headwise head file (no '{HEAD_FORMAT}' header).")
    extras = {
        k[len(EXTRA_PREFIX) :]: v for k, v in arrays.items() if k.startswith(EXTRA_PREFIX)
    }
    meta = _json_field(Path(path), header, "extra", (dict, type(None)), "null")
    return extras, meta


def _json_field(
    path: Path, header: dict[str, str], field: str, kind: type | tuple[type, ...], default: str
) -> Any:
    raw = header.get(field, default)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        raise HeadFileError(
            f"Head file {path} has invalid JSON in its '{field}' metadata; it was edited or "
            "damaged. Fit and save the head again."
        ) from None
    if not isinstance(value, kind):
        raise HeadFileError(
            f"Head file {path} has '{field}' metadata of type {type(value).__name__}, expected "
            f"{' or '.join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))}. "
            "Fit and save the head again."
        )
    return value


def load_head(path: str | Path, *, expected_encoder_key: dict[str, Any] | None = None) -> Any:
    """Load a head saved by :func:`save_head`; refuse one fitted on another encoder's embeddings.

    The file is checked against the head schema before it is used: format and version, a
    registered head name, known parameters, every array the state lists present with a numeric
    dtype and finite values, and a probe prediction whose shape matches the class list. Any
    failure is one :class:`~headwise.exceptions.HeadFileError` line naming what is wrong.
    The encoder key is checked here too, so callers can check it before embedding anything.
    """
    from ._registry import get_head_class

    path = Path(path)
    arrays, header = read_safetensors(path)
    if header.get("format") != HEAD_FORMAT:
        raise HeadFormatError(f"{path} is not a headwise head file (no '{HEAD_FORMAT}' header).")
    raw_version = header.get("format_version", "0")
    try:
        version = int(raw_version)
    except ValueError:
        raise HeadFileError(
            f"Head file {path} has format_version {raw_version!r}, not a number; it was edited "
            "or damaged. Fit and save the head again."
        ) from None
    if version > HEAD_FORMAT_VERSION:
        raise HeadFormatError(
            f"{path} uses head format version {version}; this headwise reads up to "
            f"{HEAD_FORMAT_VERSION}. Upgrade headwise to load it."
        )
    if "head" not in header:
        raise HeadFileError(f"Head file {path} does not say which head it holds (no 'head' entry).")
    try:
        cls = get_head_class(header["head"])
    except UnknownHeadError as exc:
        raise HeadFileError(f"Head file {path} names an unknown head: {exc}") from None
    key = _json_field(path, header, "encoder_key", (dict, type(None)), "null")  # type: ignore[arg-type]
    check_encoder_key(path, key, expected_encoder_key)
    params = _json_field(path, header, "params", dict, "{}")
    state = _json_field(path, header, "state", dict, "{}")
    known = set(cls().get_params(deep=False))
    unknown = sorted(set(params) - known)
    if unknown:
        raise HeadFileError(
            f"Head file {path} sets unknown parameter(s) {', '.join(unknown)} for head "
            f"{header['head']!r} (known: {', '.join(sorted(known))}). Fit and save the head again."
        )
    validate_state(path, arrays, state)
    try:
        head = cls(**params)
        head._set_state(arrays, state)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise HeadFileError(
            f"Head file {path} does not match the {header['head']!r} head's schema "
            f"({type(exc).__name__}: {exc}). Fit and save the head again."
        ) from None
    head.encoder_key_ = key
    validate_loaded_head(path, head)
    return head


def check_encoder_key(
    path: str | Path, key: dict[str, Any] | None, expected: dict[str, Any] | None
) -> None:
    """Refuse a head fitted on embeddings of another encoder (cheap: call before embedding)."""
    if expected is not None and key is not None and key != expected:
        raise EncoderMismatchError(
            f"{path} was fitted on embeddings from {describe_encoder_key(key)}, but these come "
            f"from {describe_encoder_key(expected)}. Refit the head or embed with "
            "the encoder it was fitted on."
        )
