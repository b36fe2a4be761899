"""AutoHead: hyper-parameters and heads chosen on out-of-sample evidence from every training row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import log_softmax

from .._threads import small_linalg
from .._validation import check_param_choice, check_param_float, check_param_int, param_error
from ..exceptions import InputError
from ._base import BaseHead
from ._cpath import _TIE, evidence_threshold
from ._ensemble import mean_log_loss, mix_log_proba, stacking_weights
from ._holdout import stratified_holdout
from ._io import _jsonable
from ._registry import get_head, get_head_class, name_of_head, register_head
from ._selection import Evaluated, evaluate_candidate
from ._zeroshot import _ZeroShotBase

__all__ = ["AutoHead"]

_COMBINE = ("stack", "select")
_MEMBERS = "estimators_"
_MIN_WEIGHT = 1e-3  # stacking weights below this are dropped (and the rest renormalised)
_PRIOR = "zeroshot"  # the candidate that ``encoder`` adds


def _is_number(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


@register_head("auto")
class AutoHead(BaseHead):
    """Choose settings and heads on out-of-sample predictions of every row; stack the heads.

    1. **Evidence.** Every candidate's setting is chosen on out-of-sample log-probabilities:
       exact leave-one-out for ``ncm``, ``lda``, ``ridge`` and ``knn`` (closed forms, checked
       against refits), the logistic head's own out-of-fold predictions (repeated stratified
       k-fold on few rows, a holdout split on many), stratified 5-fold refits for any other
       head. The heads are then compared on the same footing. When the logistic head
       validates by k-fold (few rows), every other candidate is scored on the logistic head's
       own splits instead, its setting chosen there too (one factorisation per split gives
       LDA's whole shrinkage path and ridge's α path; probabilities averaged over repeats as
       the logistic head's): leave-one-out trains on ``n - 1`` rows and the folds on ``2n/3``,
       and on 8 rows per class that difference alone favoured the statistics heads, which gain
       least from rows (auto then fell below its logistic default on three of five text sets).
       On a single holdout (many rows) the training sizes hardly differ, and the statistics
       heads keep their leave-one-out evidence on the held-out rows. The evaluation rows are
       every row whose class has at least two rows (capped at ``max_eval_rows`` by a
       stratified draw), restricted to the logistic head's held-out rows.
    2. **Settings.** Each candidate's hyper-parameter (LDA shrinkage, ridge α, kNN k, logistic
       C) is the one with the lowest log-loss after one fitted temperature per setting
       (softmax(T z)); grids that can run off an end are widened until the best is interior.
    3. **Combination.** ``combine="stack"`` mixes the candidates' calibrated probabilities with
       the simplex weights that maximise the same out-of-sample log-likelihood (stacking of
       predictive distributions): each single head is a vertex, so the stack is never below the
       best head on this evidence; weights collapse onto one head when the evidence is strong
       and spread when it is thin. ``combine="select"`` keeps the head with the lowest
       log-loss alone.
    4. **Evidence gate.** The combination replaces the ``default`` head only if its per-row
       out-of-sample log-loss beats the default's by more than ``evidence`` standard errors of
       the paired differences (at the normal law's level, read as Student's t over the
       evaluation rows: 2.05 on 48; never on fewer than 30 rows, see
       :func:`headwise.heads._cpath.evidence_threshold`; there the default is kept exactly,
       without the temperature fitted on those rows either). With a few dozen rows no choice
       among heads is reliable (on 16 rows, 1-NN can look best by luck); the default is then
       kept, a head chosen on
       principle: the logistic head, which is sklearn's ``LogisticRegression`` at its default
       penalty unless its own held-out evidence moves ``C`` (the baseline a user would
       otherwise run, so ``auto`` leaves it only on evidence); without it, shrunk LDA (the
       plug-in Bayes classifier for Gaussian classes with a shared covariance, no iterative
       fit). The evidence of a k-fold head (trained on fewer rows) is pessimistic next to the
       leave-one-out evidence of the statistics heads, one more reason for the gate. Heads
       with a weight are refitted on every row at their chosen setting.

    Logits are ``log Σ_h w_h softmax(T_h z_h(x))``.

    **Zero-shot prior.** Given the ``encoder`` that made ``X`` (one that embeds text in the
    same space: a sentence encoder, or an image-text model's ``encode_text``), the zero-shot
    head (cosine to the prompt embeddings of each class's name) joins the candidates. Its fit
    reads no row, so its logits on every evaluation row are exactly held out; it is weighed
    by the same evidence and gate as every head, so it enters the stack where the class names
    help and stays out where they say nothing (codes such as ``ABBR``). Names are the labels
    (underscores as spaces) or ``class_names``; labels that are all numbers name nothing and
    add no zero-shot candidate. Other heads that need an encoder (``blend``) compete the same
    way when listed in ``candidates``; they get ``encoder`` and ``class_names`` too.
    If no row can be held out (every class has one row), the default head is used alone.

    Parameters
    ----------
    candidates : sequence of str, default=("ncm", "lda", "ridge", "knn", "logistic")
        Registered head names (see :func:`headwise.heads.list_heads`).
    combine : {"stack", "select"}, default="stack"
    max_eval_rows : int >= 10, default=3000
        At most this many evaluation rows (kNN's leave-one-out costs rows × n × d).
    random_state : int, RandomState or None, default=0
        Seeds the folds, the holdout and the evaluation-row draw.
    candidate_params : dict of str to dict, default=None
        Constructor parameters per candidate name; a parameter given here is fixed rather than
        searched, e.g. ``{"lda": {"shrinkage": 0.2}, "logistic": {"Cs": (0.01, 0.1)}}``.
    default : str or None, default=None
        The head kept unless the evidence favours the combination. ``None``: ``"logistic"``
        if it is a candidate, else ``"lda"``, else the first candidate (also the fallback when
        ``default`` is not among them).
    evidence : float >= 0, default=2.0
        Standard errors of out-of-sample log-loss gain needed to leave ``default`` (at the
        normal law's one-sided level, as Student's t over the evaluation rows; with fewer than
        30 rows the default is kept); ``0`` takes the combination whenever it is better on
        average.
    encoder : encoder or None, default=None
        The encoder that made ``X`` (an object with ``encode`` or ``encode_text``; heads never
        load encoders, :func:`headwise.workflows.fit_head` passes one): adds the zero-shot
        head to the candidates.
    class_names : sequence or mapping or None, default=None
        Class names for the zero-shot prior: one per class in sorted label order, or
        ``{label: name}``; default: the labels.

    Attributes
    ----------
    members_ : list of str
        Candidates with a positive weight, in candidate order.
    weights_, temperatures_ : ndarray of shape (n_members,)
    estimators_ : list of BaseHead
        The members, refitted on every row.
    params_ : dict of str to dict
        The setting chosen for every candidate.
    scores_, log_losses_ : dict of str to float
        Out-of-sample accuracy and log-loss (after temperature) of every candidate.
    stack_log_loss_ : float
        Out-of-sample log-loss of the final weights on the same rows (in-sample weights).
    evidence_ : float
        Gain of the combination over ``default`` in standard errors (NaN without evidence).
    n_eval_rows_ : int
    best_name_ : str
        The member with the largest weight; ``best_estimator_`` is its head.
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(3.0, 1.0, (20, 3)), rng.normal(-3.0, 1.0, (20, 3))]
    >>> head = AutoHead(candidates=("ncm", "lda")).fit(X, ["a"] * 20 + ["b"] * 20)
    >>> head.predict([[2.0, 3.0, 4.0]]).tolist(), sorted(head.scores_)
    (['a'], ['lda', 'ncm'])
    """

    def __init__(
        self,
        candidates: Sequence[str] = ("ncm", "lda", "ridge", "knn", "logistic"),
        combine: str = "stack",
        max_eval_rows: int = 3000,
        random_state: Any = 0,
        candidate_params: Mapping[str, Mapping[str, Any]] | None = None,
        default: str | None = None,
        evidence: float = 2.0,
        encoder: Any = None,
        class_names: Any = None,
    ) -> None:
        self.candidates = candidates
        self.encoder = encoder
        self.class_names = class_names
        self.combine = combine
        self.default = default
        self.evidence = evidence
        self.max_eval_rows = max_eval_rows
        self.random_state = random_state
        self.candidate_params = candidate_params

    def _check_params(self) -> list[str]:
        owner = type(self).__name__
        names = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        if not names or not all(isinstance(n, str) for n in names):
            raise param_error(owner, "candidates", "a non-empty sequence of head names",
                              self.candidates)
        if len(set(names)) != len(names):
            raise InputError(
                f"The 'candidates' parameter of {owner} lists a head twice: {names}. To compare "
                "settings of one head, give that head a grid (e.g. logistic's Cs) instead."
            )
        for name in names:
            get_head_class(name)  # UnknownHeadError lists the registered names
        if "auto" in names:
            raise InputError(f"{owner} cannot be its own candidate; remove 'auto' from candidates.")
        if self.default is not None and not isinstance(self.default, str):
            raise param_error(owner, "default", "a head name or None", self.default)
        check_param_choice(self.combine, "combine", owner, _COMBINE)
        check_param_float(self.evidence, "evidence", owner, 0.0)
        check_param_int(self.max_eval_rows, "max_eval_rows", owner, 10)
        prior = {_PRIOR} if self.encoder is not None else set()
        extra = set(self.candidate_params or {}) - set(names) - prior
        if extra:
            raise InputError(
                f"candidate_params names {sorted(extra)}, which are not among the candidates "
                f"{names}. Add them to candidates or drop their parameters."
            )
        return names

    def _default(self, names: list[str]) -> str:
        for name in (self.default, "logistic", "lda"):
            if name in names:
                return name
        return names[0]

    def _params(self, name: str) -> dict[str, Any]:
        params = dict((self.candidate_params or {}).get(name, {}))
        head = get_head_class(name)
        if issubclass(head, _ZeroShotBase):
            for key in ("encoder", "class_names"):
                if getattr(self, key) is not None:
                    params.setdefault(key, getattr(self, key))
            # members are fitted on label codes: name each code by the label it stands for
            params["class_names"] = head(**params)._names_for(self.classes_)
        return params

    def _with_prior(self, names: list[str]) -> list[str]:
        """The listed candidates, plus the zero-shot head when ``encoder`` is given, unless
        it is listed already or the class names are all numbers (a number names nothing a
        text encoder could match)."""
        if self.encoder is None or _PRIOR in names:
            return names
        if all(_is_number(n) for n in self._params(_PRIOR)["class_names"]):
            return names
        return [*names, _PRIOR]

    def _eval_rows(self, codes: np.ndarray, fitted: dict[str, BaseHead]) -> np.ndarray:
        counts = np.bincount(codes)
        rows = np.flatnonzero(counts[codes] >= 2)
        for head in fitted.values():
            rows = np.intersect1d(rows, head.oof_rows_)
        if rows.size > self.max_eval_rows:
            keep = stratified_holdout(codes[rows], self.max_eval_rows / rows.size, self.random_state)
            rows = rows if keep is None else rows[keep[1]]
        return rows

    def fit(self, X: Any, y: Any) -> AutoHead:
        """Gather out-of-sample evidence, choose settings and weights, refit the members.

        On few rows of few features (both at most ``SMALL_DIM``) every product is small, and
        the fit runs with one BLAS thread (see :mod:`headwise._threads`).
        """
        names = self._check_params()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        with small_linalg(max(X.shape)):
            return self._fit(names, X, y)

    def _fit(self, names: list[str], X: np.ndarray, y: np.ndarray) -> AutoHead:
        self.classes_, codes = np.unique(y, return_inverse=True)
        names = self._with_prior(names)
        K = self.classes_.size
        # heads that validate themselves (logistic) run first: their held-out rows bound ours
        fitted = {}
        for name in names:
            head = get_head(name, **self._params(name))
            if getattr(head, "_out_of_fold", False):
                head.fit(X, codes)
                if head.oof_rows_.size:  # else (a fixed C) it is scored by k-fold refits
                    fitted[name] = head
        rows = self._eval_rows(codes, fitted)
        self.n_eval_rows_ = int(rows.size)
        if rows.size == 0:
            return self._fallback(names, X, codes, fitted)
        splits = [s for head in fitted.values() for s in head.oof_splits_]
        if not (len(fitted) == 1 and len(splits) > 1):
            splits = None  # k-fold (few rows): everyone on the logistic head's splits
        evidence = [
            evaluate_candidate(n, self._params(n), X, codes, K, rows, self.random_state,
                               fitted.get(n), splits)
            for n in names
        ]
        y_eval = codes[rows]
        self.params_ = {e.name: _jsonable(e.params) for e in evidence}
        self.scores_ = {e.name: e.accuracy for e in evidence}
        self.log_losses_ = {e.name: e.log_loss for e in evidence}
        lps = [e.log_proba for e in evidence]
        w = self._weights(lps, y_eval)
        # leave the default head only on evidence: the paired per-row log-loss gain of the
        # combination over it must exceed `evidence` standard errors
        ref = names.index(self._default(names))
        rr = np.arange(rows.size)
        gain = lps[ref][rr, y_eval] - mix_log_proba(lps, w)[rr, y_eval]
        se = float(np.std(gain, ddof=1) / np.sqrt(gain.size)) if gain.size > 1 else np.inf
        # a gain within _TIE nats a row is a tie (on rows every head calls uniform, the gain
        # is rounding noise, whose ratio to its own SE is anything)
        self.evidence_ = float(-gain.mean() / se) if se > 0 and -gain.mean() > _TIE else 0.0
        threshold = evidence_threshold(self.evidence, gain.size)
        if not self.evidence_ > threshold:
            w = np.eye(len(evidence))[ref]
        if np.isinf(threshold):  # too few rows for any evidence: the default as it is, T = 1
            evidence[ref].temperature = 1.0
        self.stack_log_loss_ = mean_log_loss(mix_log_proba(lps, w), y_eval)
        chosen = [(e, float(wi)) for e, wi in zip(evidence, w, strict=True) if wi > 0]
        self._set_members([e for e, _ in chosen], [wi for _, wi in chosen], X, codes)
        return self

    def _weights(self, lps: Sequence[np.ndarray], codes: np.ndarray) -> np.ndarray:
        """The combination's weights on this evidence: stacking (weights below ``_MIN_WEIGHT``
        dropped) or the single head with the lowest log-loss. A head whose evidence holds a
        NaN (a numerical failure on degenerate rows) gets no weight."""
        rr = np.arange(codes.size)
        ok = [i for i, lp in enumerate(lps) if not np.isnan(lp[rr, codes]).any()] \
            or list(range(len(lps)))
        w = np.zeros(len(lps))
        if self.combine == "stack":
            w[ok] = stacking_weights([lps[i] for i in ok], codes)
            w = np.where(w >= _MIN_WEIGHT, w, 0.0)
        else:
            w[ok[int(np.argmin([mean_log_loss(lps[i], codes) for i in ok]))]] = 1.0
        return w / w.sum()

    def _fallback(self, names: list[str], X: np.ndarray, codes: np.ndarray,
                  fitted: dict[str, BaseHead]) -> AutoHead:
        nan = float("nan")
        self.params_ = {n: _jsonable(self._params(n)) for n in names}
        self.scores_ = {n: nan for n in names}
        self.log_losses_ = {n: nan for n in names}
        self.stack_log_loss_ = nan
        self.evidence_ = nan
        ref = self._default(names)
        first = Evaluated(ref, self._params(ref), 1.0, np.zeros((0, 0)), nan, nan, fitted.get(ref))
        self._set_members([first], [1.0], X, codes)
        return self

    def _set_members(self, members: list[Evaluated], weights: list[float], X: np.ndarray,
                     codes: np.ndarray) -> None:
        self.members_ = [e.name for e in members]
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.temperatures_ = np.array([e.temperature for e in members])
        self.estimators_ = [
            e.fitted if e.fitted is not None else get_head(e.name, **e.params).fit(X, codes)
            for e in members
        ]
        self._finish()

    def _finish(self) -> None:
        top = int(np.argmax(self.weights_))
        self.best_name_ = self.members_[top]
        self.best_estimator_ = self.estimators_[top]

    def _logits(self, X: np.ndarray) -> np.ndarray:
        K = self.classes_.size
        parts = []
        for head, T in zip(self.estimators_, self.temperatures_, strict=True):
            z = np.full((X.shape[0], K), -np.inf)
            z[:, np.asarray(head.classes_, dtype=np.int64)] = head._logits(X)
            parts.append(log_softmax(np.where(np.isneginf(z), -np.inf, T * z), axis=1))
        if len(parts) == 1:
            return parts[0]
        return np.asarray(mix_log_proba(parts, self.weights_))

    # ---------------------------------------------------------------- persistence
    def _fitted_attributes(self) -> list[str]:
        return [k for k in super()._fitted_attributes() if k not in (_MEMBERS, "best_estimator_")]

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Own attributes, plus each member's state under the prefix ``estimators_.<i>.``."""
        arrays, meta = super()._get_state()
        infos = []
        for i, inner in enumerate(self.estimators_):
            inner_arrays, inner_meta = inner._get_state()
            arrays.update({f"{_MEMBERS}.{i}.{k}": v for k, v in inner_arrays.items()})
            infos.append({
                "head": name_of_head(type(inner)),
                "params": _jsonable(inner.get_params(deep=False)),
                "state": inner_meta,
            })
        meta[_MEMBERS] = {"kind": "heads", "members": infos}
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        meta = dict(meta)
        infos = meta.pop(_MEMBERS)["members"]
        members = []
        for i, info in enumerate(infos):
            prefix = f"{_MEMBERS}.{i}."
            inner = get_head_class(info["head"])(**info["params"])
            inner._set_state(
                {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
                info["state"],
            )
            members.append(inner)
        own = {k: v for k, v in arrays.items() if not k.startswith(f"{_MEMBERS}.")}
        super()._set_state(own, meta)
        self.estimators_ = members
        self._finish()
