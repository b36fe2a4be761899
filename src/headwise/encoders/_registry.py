"""Encoder registry: entry-point plugins, built-ins through the same path, runtime registration.

A spec is ``"<name>"`` or ``"<name>:<arg>"``: ``"minilm"``, ``"hash:64"``, ``"hf:/models/bert"``.
``<name>`` is looked up, in order, among factories registered at run time
(:func:`register_encoder`), then entry points in the ``headwise.encoders`` group (headwise's own
built-ins are declared there too, like any third-party plugin), then a fallback table of the
built-ins for when the package metadata is absent (e.g. running from a source tree). The factory
is called as ``factory(arg, **options)``.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ..exceptions import HeadwiseError, InputError, MissingDependencyError, UnknownEncoderError
from ._protocol import Encoder

__all__ = ["get_encoder", "list_encoders", "describe_encoders", "encoder_modality", "register_encoder", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "headwise.encoders"

EncoderFactory = Callable[..., Encoder]

_BUILTINS: dict[str, str] = {
    "hash": "headwise.encoders._hash:make_hash_encoder",
    "minilm": "headwise.encoders._hf:make_minilm_encoder",
    "hf": "headwise.encoders._hf:make_hf_encoder",
    "mobilenetv2": "headwise.encoders._vision:make_mobilenetv2_encoder",
    "efficientnet-lite0": "headwise.encoders._vision:make_efficientnet_lite0_encoder",
    "whisper-base": "headwise.encoders._whisper:make_whisper_base_encoder",
    "smollm2": "headwise.encoders._smollm2:make_smollm2_encoder",
}
_NAME = re.compile(r"[a-z][a-z0-9_.\-]*")
_runtime: dict[str, EncoderFactory] = {}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, EntryPoint]:
    """Installed entry points of the group, with the built-in table filling any gaps."""
    found: dict[str, EntryPoint] = {
        name: EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
        for name, value in _BUILTINS.items()
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name.lower()] = ep
    return found


def register_encoder(name: str, factory: EncoderFactory) -> None:
    """Register ``factory`` under ``name`` for this process, shadowing any plugin of that name.

    ``factory(arg, **options)`` receives the part of the spec after ``"name:"`` (or ``None``) and
    the options given to :func:`get_encoder`, and returns an :class:`Encoder`. Registering the same
    name again replaces the earlier factory (re-running a notebook cell is fine).

    >>> from headwise.encoders._hash import HashEncoder
    >>> register_encoder("tiny", lambda arg, **opts: HashEncoder(dim=4))
    >>> get_encoder("tiny").dim
    4
    >>> _ = _runtime.pop("tiny")
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"Encoder names must be lowercase, start with a letter and hold only letters, digits, "
            f"'_', '.' or '-' (no ':'). Got {name!r} instead."
        )
    if not callable(factory):
        raise InputError(
            f"The factory for encoder '{name}' must be callable as factory(arg, **options); "
            f"got {type(factory).__name__}."
        )
    _runtime[name] = factory


def list_encoders() -> list[str]:
    """Sorted names of every encoder scheme available: built-ins, plugins and runtime ones.

    >>> {"hash", "hf", "minilm"} <= set(list_encoders())
    True
    """
    return sorted(set(_entry_points()) | set(_runtime))


INFO_FIELDS = ("modality", "dim", "layers", "licence", "extra", "description")


def describe_encoders() -> list[dict[str, Any]]:
    """One dict per encoder scheme: name, the factory's ``info`` fields, and whether it can run.

    A factory may carry ``factory.info = {"modality": "text|image|audio", "dim": ..., "layers":
    ..., "licence": ..., "extra": ..., "description": ...}``, optionally with ``"available"``, a
    callable saying whether its weights and libraries are installed (checked without importing
    them). Loading a factory must stay cheap: entry-point modules import no torch at top level.
    A plugin that cannot be imported is listed as unavailable, with the reason.

    >>> next(d for d in describe_encoders() if d["name"] == "hash")["modality"]
    'text'
    """
    out = []
    for name in list_encoders():
        row: dict[str, Any] = {"name": name, **dict.fromkeys(INFO_FIELDS)}
        try:
            factory = _runtime.get(name) or _load_factory(name, _entry_points()[name])
        except HeadwiseError as exc:
            out.append({**row, "available": False, "problem": str(exc)})
            continue
        info = getattr(factory, "info", None)
        info = info if isinstance(info, dict) else {}
        row.update({k: info.get(k) for k in INFO_FIELDS})
        if "install" in info:
            row["install"] = info["install"]
        check = info.get("available", True)
        try:
            row["available"] = bool(check() if callable(check) else check)
        except Exception as exc:  # a plugin's check must not break the listing
            row.update(available=False, problem=f"{type(exc).__name__}: {exc}")
        out.append(row)
    return out


def encoder_modality(spec: str) -> str:
    """``"text"``, ``"image"`` or ``"audio"``: what the encoder named by ``spec`` takes as input.

    Read from the factory's ``info`` without building the encoder; ``"text"`` when it says
    nothing (or the name is unknown, which :func:`get_encoder` then reports).

    >>> encoder_modality("hash"), encoder_modality("mobilenetv2")
    ('text', 'image')
    """
    name = str(spec).strip().partition(":")[0].lower()
    factory: Any = _runtime.get(name)
    if factory is None:
        ep = _entry_points().get(name)
        if ep is None:
            return "text"
        factory = _load_factory(name, ep)
    info = getattr(factory, "info", None)
    modality = info.get("modality") if isinstance(info, dict) else None
    return modality if modality in ("image", "audio") else "text"


def _load_factory(name: str, ep: EntryPoint) -> EncoderFactory:
    try:
        factory = ep.load()
    except ImportError as exc:
        raise MissingDependencyError(
            f"Encoder plugin '{name}' ({ep.value}) could not be imported: {exc}. "
            "Install the package that provides it, or its missing dependency."
        ) from exc
    except Exception as exc:
        raise HeadwiseError(
            f"Encoder plugin '{name}' ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(factory):
        raise HeadwiseError(
            f"Encoder plugin '{name}' ({ep.value}) is a {type(factory).__name__}, not a factory function."
        )
    return factory  # type: ignore[no-any-return]


def _unknown(spec: str, name: str) -> UnknownEncoderError:
    hint = ""
    if ":" not in spec and (os.sep in spec or "/" in spec):
        if os.path.isdir(os.path.expanduser(spec)):
            hint = f" Did you mean 'hf:{spec}'?"
        else:
            hint = " Hub ids cannot be downloaded here; pass a local directory as 'hf:<dir>'."
    what = f"'{spec}'" if name == spec.lower() else f"'{spec}' (no encoder named '{name}')"
    return UnknownEncoderError(
        f"Unknown encoder {what}.{hint} Use 'hf:<local model directory>' for local Hugging Face "
        f"models; `headwise encoders list` shows installed ones: {', '.join(list_encoders())}."
    )


def _check_options(
    name: str, factory: EncoderFactory, arg: str | None, options: dict[str, Any]
) -> None:
    """Refuse options the factory's signature cannot take, naming the ones it can."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins or C callables: let the call decide
        return
    try:
        sig.bind(arg, **options)
    except TypeError:
        params = [
            p.name
            for p in list(sig.parameters.values())[1:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        bad = sorted(set(options) - set(params))
        raise InputError(
            f"Encoder '{name}' does not accept option(s) {', '.join(map(repr, bad))}; "
            f"it accepts: {', '.join(params) or 'none'}."
        ) from None


def get_encoder(spec: str, **options: Any) -> Encoder:
    """Build the encoder named by ``spec``.

    Parameters
    ----------
    spec : str
        ``"minilm"``, ``"hash"``, ``"hash:64"``, ``"hf:/path/to/model/dir"`` or a plugin's name.
    **options
        Passed to the factory: ``layer``, ``pooling``, ``max_length``, ``normalize``, ``device``,
        ``backend`` ("torch" or "onnx"), ``precision`` ("fp32" or "int8"; ``quantize`` is the older
        spelling: None or "int8") for Hugging Face models,
        ``dim`` for the hash encoder. Options set to ``None`` count as not given.

    Examples
    --------
    >>> enc = get_encoder("hash", dim=16)
    >>> enc.name, enc.dim
    ('hash', 16)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(
            f"An encoder spec must be a non-empty string such as 'minilm'; got {spec!r}."
        )
    spec = spec.strip()
    name, sep, rest = spec.partition(":")
    name = name.lower()
    arg = rest if sep else None
    options = {k: v for k, v in options.items() if v is not None}
    factory = _runtime.get(name)
    if factory is None:
        ep = _entry_points().get(name)
        if ep is None:
            raise _unknown(spec, name)
        factory = _load_factory(name, ep)
    _check_options(name, factory, arg, options)
    encoder = factory(arg, **options)
    if not isinstance(encoder, Encoder):
        raise HeadwiseError(
            f"The factory for encoder '{name}' returned a {type(encoder).__name__}, which is not an "
            "Encoder (it needs name, dim, pooling, key() and encode())."
        )
    return encoder
