"""Transductive few-shot evaluation: each head next to its transductive refinement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..heads import TransductiveHead
from ._common import resolve_heads
from ._results import FewShotResult
from .few_shot import few_shot_eval

__all__ = ["transductive_eval"]


def transductive_eval(
    heads: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    shots: Any = (1, 5),
    seeds: Any = 10,
    encoder_key: Mapping[str, Any] | None = None,
    **transductive_params: Any,
) -> FewShotResult:
    """Few-shot accuracy of every head and of ``TransductiveHead(base=head)`` on the same rows.

    The transductive head sees the unlabelled test set as one batch. Result heads are named
    ``name`` and ``name+transductive``.
    """
    named = resolve_heads(heads)
    both: dict[str, Any] = {}
    for name, head in named.items():
        both[name] = head
        both[f"{name}+transductive"] = TransductiveHead(base=head, **transductive_params)
    return few_shot_eval(both, X_train, y_train, X_test, y_test, shots=shots, seeds=seeds,
                         encoder_key=encoder_key, protocol="transductive")
