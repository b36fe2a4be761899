"""Shared shell of the token-level heads: token validation and logits."""

from __future__ import annotations

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
    Fitted attributes may be arrays, plain values or another registered head (saved nested,
    as by every :class:`BaseHead`).
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
