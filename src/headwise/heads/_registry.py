"""Head registry: short lowercase names to estimator classes.

The registry imports no head: each head module registers itself with :func:`register_head`, and
``headwise.heads`` (which Python imports before any of its modules) imports every built-in head
module, so the table is full before anyone can ask it. No import circle.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import InputError, UnknownHeadError

__all__ = [
    "register_head", "get_head", "get_head_class", "is_multilabel_head", "is_token_head", "list_heads",
    "name_of_head",
]  # fmt: skip

_HEADS: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_head(name: str) -> Callable[[T], T]:
    """Class decorator adding a head under ``name`` (like timm's ``@register_model``)."""

    def deco(cls: T) -> T:
        _HEADS[name] = cls
        cls._head_name = name  # type: ignore[attr-defined]
        return cls

    return deco


def list_heads(pattern: str = "*") -> list[str]:
    """Registered head names matching an fnmatch ``pattern``.

    >>> "lda" in list_heads()
    True
    """
    return sorted(n for n in _HEADS if fnmatch.fnmatch(n, pattern))


def get_head_class(name: str) -> type:
    try:
        return _HEADS[name]
    except KeyError:
        raise UnknownHeadError(
            f"Unknown head '{name}'. Available heads: {', '.join(sorted(_HEADS))}."
        ) from None


def is_token_head(name: str) -> bool:
    """Whether the head ``name`` takes per-token features (``pooling="tokens"``), not (n, d) rows.

    >>> is_token_head("attentive"), is_token_head("lda")
    (True, False)
    """
    return getattr(get_head_class(name), "_input_kind", "rows") == "tokens"


def is_multilabel_head(name: str) -> bool:
    """Whether the head ``name`` predicts a set of labels per row (multi-label targets).

    >>> is_multilabel_head("mlridge"), is_multilabel_head("ridge")
    (True, False)
    """
    return getattr(get_head_class(name), "_target_kind", "single") == "multilabel"


def get_head(name: str, **params: Any) -> Any:
    """A new, unfitted head by registry name, e.g. ``get_head("ridge", alphas=[0.1, 1.0])``."""
    cls = get_head_class(name)
    known = cls._get_param_names() if hasattr(cls, "_get_param_names") else None
    unknown = sorted(set(params) - set(known)) if known is not None else []
    if unknown:
        raise InputError(
            f"Head '{name}' has no parameter {', '.join(repr(u) for u in unknown)}; its "
            f"parameters are: {', '.join(known) or 'none'}."
        )
    try:
        return cls(**params)
    except TypeError as exc:
        raise InputError(f"Bad parameters for head '{name}': {exc}") from None


def name_of_head(cls: type) -> str:
    name = getattr(cls, "_head_name", None)
    if name is None or _HEADS.get(name) is not cls:
        raise UnknownHeadError(f"{cls.__name__} is not a registered head; register it to save it.")
    return str(name)
