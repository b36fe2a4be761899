"""Zero-shot heads: class weights from text embeddings of class names, and a few-shot blend.

Works for any encoder whose text and input spaces are shared: for text inputs, the same text
encoder; for image-text models (CLIP), an encoder exposing ``encode_text`` for the class prompts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from .._validation import check_n_features, check_param_float, param_error
from ..exceptions import InputError
from ._base import BaseHead
from ._registry import register_head

__all__ = ["ZeroShotHead", "BlendHead", "TEXT_TEMPLATES", "class_text_weights", "label_to_name"]

#: Prompt ensemble for text classification; ``{}`` is replaced by the class name.
TEXT_TEMPLATES: tuple[str, ...] = (
    "{}",
    "This text is about {}.",
    "This example is {}.",
    "A message about {}.",
    "The category is {}.",
)


def label_to_name(label: Any) -> str:
    """A readable class name from a label: ``"card_arrival"`` -> ``"card arrival"``."""
    return str(label).replace("_", " ").strip()


def _normalize(A: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(A, axis=-1, keepdims=True)
    return A / np.where(n > 0, n, 1.0)


def _resolve_encoder(encoder: Any, owner: str = "ZeroShotHead") -> Any:
    """The encoder object that embeds the class prompts (heads never load encoders themselves)."""
    if encoder is None:
        raise InputError(
            f"{owner} needs an encoder to embed the class names: pass the encoder that made X "
            "(e.g. headwise.get_encoder('minilm')), an object with encode()/encode_text()."
        )
    if isinstance(encoder, str):
        raise InputError(
            f"{owner}(encoder={encoder!r}) got an encoder name; heads do not load encoders. Pass "
            f"the encoder object, headwise.get_encoder({encoder!r}) (headwise.workflows.fit_head "
            "does this for you, with prompt embeddings cached in the embedding store)."
        )
    if not (callable(getattr(encoder, "encode_text", None)) or callable(getattr(encoder, "encode", None))):
        raise InputError(f"{owner} got {type(encoder).__name__} as encoder; it has no encode() or encode_text().")
    return encoder


def class_text_weights(encoder: Any, names: Sequence[str], templates: Sequence[str]) -> np.ndarray:
    """Unit class vectors (C, d): each the normalised mean of its normalised prompt embeddings.

    Uses ``encoder.encode_text`` when present (image-text models), else ``encoder.encode``.
    Nothing is remembered here: to reuse prompt embeddings across fits (few-shot seeds), pass an
    encoder that caches, such as :class:`headwise.workflows.StoreBackedEncoder`.
    """
    if not templates or any("{}" not in t for t in templates):
        raise InputError(
            f"templates must be a non-empty list of strings containing '{{}}'. Got {templates!r}."
        )
    prompts = [t.format(n) for n in names for t in templates]
    encode = getattr(encoder, "encode_text", None) or encoder.encode
    E = np.asarray(encode(prompts), dtype=np.float64)
    E = _normalize(E).reshape(len(names), len(templates), -1).mean(axis=1)
    return _normalize(E)


class _ZeroShotBase(BaseHead):
    """Class prompts -> unit weights ``zs_weights_``; subclasses decide how data moves them."""

    def _names_for(self, classes: np.ndarray) -> list[str]:
        cn = self.class_names
        if cn is None:
            return [label_to_name(c) for c in classes]
        if isinstance(cn, Mapping):
            missing = [c for c in classes.tolist() if c not in cn and str(c) not in cn]
            if missing:
                raise InputError(f"class_names has no name for label(s) {missing[:3]!r}.")
            return [str(cn.get(c, cn.get(str(c)))) for c in classes.tolist()]
        names = [str(n) for n in cn]
        if len(names) != classes.size:
            raise InputError(
                f"class_names lists {len(names)} names but there are {classes.size} classes; "
                "pass one name per class (in sorted label order) or a label -> name mapping."
            )
        return names

    def _zero_shot_weights(self, classes: np.ndarray, n_features: int) -> np.ndarray:
        enc = _resolve_encoder(self.encoder)
        W = class_text_weights(enc, self._names_for(classes), tuple(self.templates))
        check_n_features(n_features, W.shape[1], f"the class-name embeddings of {type(self).__name__}")
        return W


@register_head("zeroshot")
class ZeroShotHead(_ZeroShotBase):
    """Zero-shot classifier: cosine between a row and its class's prompt-ensemble embedding.

    ``fit(X, y)`` reads only the labels (the class names come from them, or from
    ``class_names``) and the width of ``X``; no row influences the weights. ``fit_names``
    builds the head from a list of labels alone.

    Parameters
    ----------
    encoder : str or encoder, default=None
        Embeds the prompts; must share the input space of ``X`` (the encoder that made it).
    class_names : sequence or mapping, default=None
        Names per class (sorted label order) or ``{label: name}``; default: the labels with
        underscores as spaces.
    templates : sequence of str, default=TEXT_TEMPLATES
    scale : float > 0, default=20.0
        Logit scale (inverse temperature) of the cosine scores.

    Examples
    --------
    >>> from headwise.encoders import HashEncoder
    >>> enc = HashEncoder(dim=64)
    >>> head = ZeroShotHead(enc, templates=("{}",)).fit_names(["sport", "weather"])
    >>> head.predict(enc.encode(["sport", "weather"])).tolist()
    ['sport', 'weather']
    """

    _row_free = True  # fit reads the labels, never a row: held-out logits are its logits

    def __init__(
        self,
        encoder: Any = None,
        class_names: Any = None,
        templates: Sequence[str] = TEXT_TEMPLATES,
        scale: float = 20.0,
    ) -> None:
        self.encoder = encoder
        self.class_names = class_names
        self.templates = templates
        self.scale = scale

    def fit(self, X: Any, y: Any) -> Self:
        X, y = self._validate_fit(X, y, reset=True)
        self._require_two_classes(y)
        return self._build(np.unique(y), X.shape[1])

    def fit_names(self, labels: Sequence[Any]) -> Self:
        """Build from labels alone (no rows); the width comes from the prompt embeddings."""
        classes = np.unique(np.asarray(labels))
        if classes.size < 2:
            raise InputError("A classifier needs at least two class labels.")
        enc = _resolve_encoder(self.encoder)
        self.encoder_ = enc
        W = class_text_weights(enc, self._names_for(classes), tuple(self.templates))
        self.n_features_in_ = int(W.shape[1])
        self.classes_ = classes
        self.coef_ = W
        return self

    def _build(self, classes: np.ndarray, n_features: int) -> Self:
        self.classes_ = classes
        self.coef_ = self._zero_shot_weights(classes, n_features)
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return float(self.scale) * (_normalize(np.asarray(X, dtype=np.float64)) @ self.coef_.T)

    def _fitted_attributes(self) -> list[str]:
        return [a for a in super()._fitted_attributes() if a != "encoder_"]


_BLEND_CV_MAX_ROWS = 1000  # prior_strength=None: 3 folds up to this many rows, one holdout above
_BLEND_TIE = 1e-4  # held-out log-losses this close are ties, won by the stronger prior
_PATH_GTOL = 1e-5  # held-out fits (Banking77, 8 shots: scores within 1e-4 nats of gtol=1e-8, 2x faster)


def solve_blend(Xn: np.ndarray, codes: np.ndarray, W0: np.ndarray, prior_strength: float,
                C: float, max_iter: int, theta0: np.ndarray | None = None,
                gtol: float = 1e-8) -> tuple[np.ndarray, int]:
    """``(theta, iterations)`` minimising ``mean CE + (λ/2n)||W - W0||² + ||W||²/(2Cn)`` over
    ``theta = [W.ravel(), b]`` on unit rows ``Xn`` (L-BFGS from ``theta0``, default ``[W0, 0]``,
    until the largest gradient entry is below ``gtol``)."""
    n, d = Xn.shape
    K = W0.shape[0]
    Y = np.eye(K)[codes]
    pull = float(prior_strength) / n  # MAP: Σ CE + (λ/2)||W - W0||², divided by n
    l2 = 1.0 / (float(C) * n)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta[: K * d].reshape(K, d)
        b = theta[K * d:]
        Z = Xn @ W.T + b
        lp = log_softmax(Z, axis=1)
        G = (softmax(Z, axis=1) - Y) / n
        diff = W - W0
        loss = -float(np.sum(Y * lp)) / n + 0.5 * pull * float(np.sum(diff * diff))
        loss += 0.5 * l2 * float(np.sum(W * W))
        gW = G.T @ Xn + pull * diff + l2 * W
        return loss, np.r_[gW.ravel(), G.sum(axis=0)]

    start = np.r_[W0.ravel(), np.zeros(K)] if theta0 is None else theta0
    res = minimize(f, start, jac=True, method="L-BFGS-B",
                   options={"maxiter": int(max_iter), "ftol": 1e-12, "gtol": gtol})
    return res.x, int(res.nit)


def _blend_splits(codes: np.ndarray, random_state: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, held-out)`` positions: 3 stratified folds up to ``_BLEND_CV_MAX_ROWS`` rows, one
    10% stratified holdout above (the splits of :class:`LogisticHead` with ``cv="auto"``, without
    its repeats on few rows); classes with one row always train. Empty when no row can be held
    out."""
    from ._cpath import stratified_folds
    from ._holdout import stratified_holdout

    if codes.size <= _BLEND_CV_MAX_ROWS:
        fold = stratified_folds(codes, 3, random_state=random_state)
        return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f))
                for f in range(3) if np.any(fold == f)]
    split = stratified_holdout(codes, 0.1, random_state=random_state)
    return [] if split is None else [split]


@register_head("blend")
class BlendHead(_ZeroShotBase):
    """Logistic regression pulled toward the zero-shot weights, less so as shots grow.

    On unit-normalised rows ``x̂``, logits are ``x̂ Wᵀ + b``. The fit minimises
    ``Σ CE + (prior_strength / 2) ||W - scale·W₀||² + ||W||² / (2 C)`` (a Gaussian prior
    centred on the zero-shot weights ``W₀``; divided by ``n`` in the code), so the prior's
    weight relative to the data shrinks as ``1/n``: with one shot per class the head stays
    near zero-shot, with many it follows the data. ``encoder=None`` gives ``W₀ = 0`` (plain L2
    logistic regression on normalised rows).

    How much to trust the class names is a property of the data set: names that read like the
    rows ("card arrival", "joy") make a strong prior, codes ("ABBR", "acq") a harmful one. So by
    default (``prior_strength=None``) the strength is chosen from ``prior_strengths`` on held-out
    rows, as :class:`LogisticHead` chooses ``C``: stratified 3-fold up to 1000 rows, one 10%
    holdout above, scored by the held-out log-loss after one fitted temperature, walking the
    grid from its middle towards lower loss; a tie (within ``1e-4`` nats) goes to the stronger
    prior. The head is then refitted on all rows.

    Parameters
    ----------
    encoder, class_names, templates, scale
        As :class:`ZeroShotHead`.
    prior_strength : float >= 0 or None, default=None
        Precision of the prior around the zero-shot weights; ``None`` chooses it (above).
    prior_strengths : sequence of float >= 0, default=(0, 0.01, 0.03, 0.1, 0.3, 1, 3)
        The values tried when ``prior_strength=None`` (``0``: no prior).
    C : float > 0, default=10.0
        Inverse strength of a plain L2 penalty (keeps the problem well posed).
    max_iter : int, default=200
        L-BFGS iterations.
    random_state : int, RandomState or None, default=0
        Seeds the held-out folds.

    Attributes
    ----------
    prior_strength_ : float
        The strength of the final fit.
    prior_grid_, prior_scores_ : ndarray
        The strengths the walk scored (strongest first) and their held-out log-loss after
        temperature (empty when the strength was given, or when no row could be held out: then
        the middle of ``prior_strengths``).
    """

    def __init__(
        self,
        encoder: Any = None,
        class_names: Any = None,
        templates: Sequence[str] = TEXT_TEMPLATES,
        scale: float = 20.0,
        prior_strength: float | None = None,
        prior_strengths: Sequence[float] = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
        C: float = 10.0,
        max_iter: int = 200,
        random_state: Any = 0,
    ) -> None:
        self.encoder = encoder
        self.class_names = class_names
        self.templates = templates
        self.scale = scale
        self.prior_strength = prior_strength
        self.prior_strengths = prior_strengths
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        for name, lo_open in (("C", True), ("scale", True)):
            check_param_float(getattr(self, name), name, "BlendHead", 0.0, low_open=lo_open)
        if self.prior_strength is not None:
            check_param_float(self.prior_strength, "prior_strength", "BlendHead", 0.0)
        grid = self.prior_strengths
        if (isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or not grid
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and np.isfinite(v) and v >= 0 for v in grid)):
            raise param_error("BlendHead", "prior_strengths",
                              "a non-empty sequence of floats >= 0", grid)

    def _choose_strength(self, Xn: np.ndarray, codes: np.ndarray, W0: np.ndarray) -> float:
        """The strength with the lowest held-out log-loss after temperature (ties: stronger).

        The held-out loss is close to unimodal along the grid, so the grid is walked from its
        middle towards lower loss until the best has both neighbours scored (as logistic walks
        its C path): 3-5 strengths instead of all of them. Each fold's fit is warm-started from
        its fit at the nearest strength already scored."""
        from ._ensemble import fit_temperature, temperature_row_losses

        grid = sorted({float(v) for v in self.prior_strengths}, reverse=True)
        splits = _blend_splits(codes, self.random_state)
        if not splits:
            self.prior_grid_, self.prior_scores_ = np.zeros(0), np.zeros(0)
            return grid[len(grid) // 2]
        K, d = W0.shape
        scores: dict[int, float] = {}
        thetas: list[dict[int, np.ndarray]] = [{} for _ in splits]

        def score(j: int) -> None:
            z, y = [], []
            for i, (tr, va) in enumerate(splits):
                near = min(thetas[i], key=lambda k: abs(k - j), default=None)
                theta, _ = solve_blend(Xn[tr], codes[tr], W0, grid[j], float(self.C),
                                       int(self.max_iter), None if near is None else thetas[i][near],
                                       gtol=_PATH_GTOL)
                thetas[i][j] = theta
                z.append(Xn[va] @ theta[: K * d].reshape(K, d).T + theta[K * d:])
                y.append(codes[va])
            Z, Yv = np.concatenate(z), np.concatenate(y)
            scores[j] = float(temperature_row_losses(Z, Yv, fit_temperature(Z, Yv)).mean())

        def best() -> int:
            low = min(scores.values())
            return min(j for j, v in scores.items() if v <= low + _BLEND_TIE)  # stronger first

        score(len(grid) // 2)
        while todo := [j for j in (best() - 1, best() + 1) if 0 <= j < len(grid) and j not in scores]:
            score(todo[0])
        tried = sorted(scores)
        self.prior_grid_ = np.array([grid[j] for j in tried])
        self.prior_scores_ = np.array([scores[j] for j in tried])
        return grid[best()]

    def fit(self, X: Any, y: Any) -> Self:
        self._check_params()
        X, y = self._validate_fit(X, y, reset=True)
        self._require_two_classes(y)
        classes, codes = np.unique(y, return_inverse=True)
        n, d = X.shape
        K = classes.size
        W0 = (
            np.zeros((K, d)) if self.encoder is None
            else float(self.scale) * self._zero_shot_weights(classes, d)
        )
        Xn = _normalize(np.asarray(X, dtype=np.float64))
        if self.prior_strength is None:
            self.prior_strength_ = self._choose_strength(Xn, codes, W0)
        else:
            self.prior_strength_ = float(self.prior_strength)
            self.prior_grid_, self.prior_scores_ = np.zeros(0), np.zeros(0)
        theta, self.n_iter_ = solve_blend(Xn, codes, W0, self.prior_strength_, float(self.C),
                                          int(self.max_iter))
        self.classes_ = classes
        self.coef_ = theta[: K * d].reshape(K, d)
        self.intercept_ = theta[K * d:]
        self.zero_shot_coef_ = W0
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return _normalize(np.asarray(X, dtype=np.float64)) @ self.coef_.T + self.intercept_
