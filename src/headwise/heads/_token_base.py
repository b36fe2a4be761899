"""Shared shell of the token-level heads: token validation, logits, saving nested heads."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_labels
from ._base import BaseHead
from ._tokens import RaggedTokens, check_tokens

__all__ = ["TokenHead", "TOKEN_INPUT"]

#: Value of ``_input_kind`` on heads that take per-token features instead of (n, d) rows.
TOKEN_INPUT = "tokens"


class TokenHead(BaseHead):
    """A head whose ``X`` is token features (see :mod:`headwise.heads._tokens`), not (n, d) rows.

    Subclasses implement ``fit`` (calling :meth:`_validate_tokens_fit`) and ``_token_logits``.
    ``predict``, ``predict_proba`` and ``decision_function`` come from :class:`BaseHead`.
    Fitted attributes may be arrays, plain values or another registered head (saved nested).
    """

    _input_kind = TOKEN_INPUT

    def _validate_tokens_fit(self, X: Any, y: Any) -> tuple[RaggedTokens, np.ndarray]:
        tokens = check_tokens(X, type(self).__name__)
        y = check_labels(y, n_rows=len(tokens))
        self.n_features_in_ = tokens.dim
        return tokens, y

    def _token_logits(self, tokens: RaggedTokens) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def logits(self, X: Any) -> np.ndarray:
        """Class scores ``(n_examples, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        tokens = check_tokens(X, type(self).__name__, self.n_features_in_)
        return np.asarray(self._token_logits(tokens), dtype=np.float64)

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        from ._io import _jsonable
        from ._registry import name_of_head

        nested = {k: getattr(self, k) for k in self._fitted_attributes()}
        nested = {k: v for k, v in nested.items() if isinstance(v, BaseHead)}
        saved = {k: self.__dict__.pop(k) for k in nested}
        try:
            arrays, meta = super()._get_state()
        finally:
            self.__dict__.update(saved)
        for name, head in nested.items():
            a, m = head._get_state()
            arrays.update({f"{name}/{k}": v for k, v in a.items()})
            meta[name] = {
                "kind": "head",
                "head": name_of_head(type(head)),
                "params": json.loads(json.dumps(_jsonable(head.get_params(deep=False)))),
                "meta": m,
            }
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from ._registry import get_head_class

        plain = {k: v for k, v in meta.items() if v["kind"] != "head"}
        super()._set_state({k: v for k, v in arrays.items() if "/" not in k}, plain)
        for name, info in meta.items():
            if info["kind"] != "head":
                continue
            head = get_head_class(info["head"])(**info["params"])
            prefix = f"{name}/"
            head._set_state(
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
                info["meta"],
            )
            setattr(self, name, head)
