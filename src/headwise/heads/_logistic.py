"""Multinomial logistic probe: whitened features, a warm-started C path, C picked on held-out rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any, Self

import numpy as np
from sklearn.utils import check_random_state

from .._validation import (
    check_param_choice,
    check_param_float,
    check_param_int,
    param_error,
)
from ..exceptions import InputError
from ._base import BaseHead
from ._cpath import CSearch, PathSplit, evidence_threshold, paired_evidence, stratified_folds
from ._geometry import contest_sizes, geometries
from ._holdout import stratified_holdout
from ._losses import balanced_softmax_offsets, check_loss
from ._registry import register_head
from ._rows import ChunkSource, RowSource
from ._softmax import (
    ChunkedSoftmaxProblem,
    Preprocessor,
    SoftmaxProblem,
    class_moments,
    lda_start,
)
from ._whiten import centred_variance

__all__ = ["LogisticHead"]

_PREPROCESS = ("auto", "whiten", "isotropic", "standardize", "none")
_AUTO_KINDS = ("isotropic", "whiten")  # preprocess="auto": the default first, then the challenger
_GEOMETRY_EVIDENCE = 2.0  # paired standard errors of held-out log-loss gain needed to whiten
_ONE_SE = 1.0  # the one-standard-error rule: C leaves the prior C0 beyond this many
_PRIOR_EVIDENCE = 2.0  # ... once the best beats C0 itself by this many (the geometry's gate)
_KFOLD_MAX_ROWS = 1000  # cv="auto": k-fold up to this many rows, one holdout split above
_KFOLD_MIN_VAL = 400  # cv="auto": repeat the k-fold (up to 3 times) below this many rows
_KFOLD = 3  # cv="auto": folds on few rows (each C costs one fit per fold: 3 keeps few-shot fast)
_GRID = (0.1, 0.316, 1.0, 3.16, 10.0)  # Cs=None: half-decades around the prior C
_C_RULES = ("one_se", "min")
_SHARE_BLOCK = 8192  # rows per block of the prior's second moment
_PRIOR_RANGE = (1e-7, 1e7)  # the prior C0, inside the search's range [1e-8, 1e8]
_NOT_SAVED = ("oof_rows_", "oof_log_proba_", "oof_splits_")  # by-products for AutoHead


def _share(centred: float, total: float) -> float:
    return centred / total if total > 0 else 1.0


def centred_share(X: np.ndarray) -> float:
    """``E||x - m||² / E||x||²`` of the rows of ``X`` (1 for rows around the origin), summed
    in float64 over blocks of rows (no ``n × d`` temporary).

    >>> round(centred_share(np.array([[1.0, 0.0], [0.0, 1.0]])), 6)
    0.5
    """
    n = X.shape[0]
    total, sums = 0.0, np.zeros(X.shape[1])
    for start in range(0, n, _SHARE_BLOCK):
        block = np.asarray(X[start:start + _SHARE_BLOCK], dtype=np.float64)
        total += float(np.einsum("ij,ij->", block, block))
        sums += block.sum(axis=0)
    mean = sums / max(n, 1)
    return _share(total / max(n, 1) - float(mean @ mean), total / max(n, 1))


def _check_positive(owner: str, name: str, value: Any) -> None:
    check_param_float(value, name, owner, 0.0, low_open=True)


@register_head("logistic")
class LogisticHead(BaseHead):
    """Multinomial logistic regression (a softmax probe) with ``C`` tuned on held-out rows.

    Minimises ``Σ_i s_i CE_i + ||V||² / (2C)`` (sklearn's convention: intercept unpenalised,
    ``s_i`` the class weights) with L-BFGS on preprocessed rows ``z = (x - mean) @ T``, then
    folds the model back so that ``logits(X) = X @ coef_.T + intercept_`` on raw features.

    With ``C=None``, ``C`` is chosen on held-out rows: stratified k-fold (repeated when there
    are few rows) or one stratified ``validation_fraction`` holdout (see ``cv``). On every split
    the model is fitted along ``Cs``, each fit warm-started from its neighbour's solution. A
    ``C`` is scored by the log-loss of all held-out rows after one fitted temperature
    (``softmax(T z)``): the temperature removes the under-confidence of a strong penalty, so
    the score measures the direction of the logits rather than their scale. The walk starts at
    the prior ``C0`` (below) and moves towards lower score until the best ``C`` has both
    neighbours evaluated; when that is the smallest or largest ``C`` of the grid, the grid is
    extended by its own step, so the best never sits on an edge (within ``[1e-8, 1e8]``).

    ``c_rule="one_se"`` (default) then shrinks towards the prior by the one-standard-error
    rule: of the ``C`` whose score is within one standard error (of the paired per-row
    differences; a row held out by several repeats counts once, with its mean) of the best,
    the one nearest ``C0`` in ``log C`` wins. The prior ``C0_`` is sklearn's ``C=1`` on the
    rows scaled to unit RMS norm: on L2-normalised embeddings such as MiniLM's, exactly
    sklearn's default ``LogisticRegression()`` (``C0 = E||x - m||² / (d E||x||²)`` on the
    preprocessed features, ``1`` with ``preprocess="none"``; half that for two classes, where
    sklearn's model is the binary one). Held-out scores on 8 rows per class are noisy and a
    weaker penalty often looks better by chance (the best of several noisy scores is biased
    low), while sklearn's default is a strong baseline on embeddings: ``C`` leaves it only on
    evidence, so ``C0`` itself is kept unless the best beats it by more than two standard
    errors (the evidence the geometry contest and :class:`AutoHead` ask for to leave their
    defaults). ``c_rule="min"`` takes the lowest score. The head is then refitted on all rows
    at ``C_``,
    warm-started from the path (the holdout's solution, or the folds' mean). Classes with a
    single row always stay in training; if no row can be held out at all, the middle value of
    ``Cs`` (the lower one for an even count) is used.

    Which penalty: ``||V||²`` on the preprocessed ``z``. With ``preprocess="whiten"`` that is
    ``Wᵀ Σ W`` on raw weights (LDA's metric: weak directions are penalised less); with
    ``"isotropic"`` (centre, one common scale ``s``) it is ``s² ||W||²``, sklearn's raw-space
    penalty at ``C_sklearn = C / s²``: sklearn's default ``C=1`` is ``C = s²`` here, the prior
    ``C0`` for rows of unit norm.

    ``"auto"`` (default) chooses the geometry and ``C`` on the same held-out rows and the same
    criterion (held-out log-loss after temperature): it runs the C search in both
    geometries and keeps sklearn's raw-space penalty (``"isotropic"``, what a user of
    ``LogisticRegression`` expects) unless whitening lowers the held-out log-loss by more than
    two standard errors of the paired per-row differences (``geometry_evidence_``). Neither
    wins everywhere, and on a few hundred held-out rows most differences are noise, so the
    familiar penalty is the default and whitening has to earn its place. The contest runs on
    both routes (k-fold and holdout), on the same splits. Both geometries are solved on the
    same whitened rows (the isotropic one under its own penalty metric, with a preconditioner,
    so L-BFGS sees a well-conditioned problem either way), and on a holdout of many rows the
    contest is first run on stratified
    subsamples of the training part, stopping as soon as one geometry is ahead by more than two
    paired standard errors (see :mod:`headwise.heads._geometry`).

    Parameters
    ----------
    Cs : sequence of float > 0 or None, default=None
        Inverse penalties of the walk (then widened until the best is interior). ``None``:
        half-decades around the prior, ``C0 * (0.1, 0.316, 1, 3.16, 10)``.
    C : float > 0 or None, default=None
        Fit at this ``C`` on all rows, without a validation split.
    preprocess : {"auto", "whiten", "isotropic", "standardize", "none"}, default="auto"
        ``"auto"``: ``"isotropic"`` unless ``"whiten"`` is better on held-out log-loss by two
        paired standard errors, when ``C`` is validated; ``"isotropic"`` without a contest (a
        fixed ``C``, no validation rows); ``"whiten"`` in ``fit_streaming``.
        ``"isotropic"``: ``T = I / s`` with ``s²`` the mean per-feature variance.
        ``"whiten"``: ``T = Σ^{-1/2}`` of the OAS-shrunk pooled within-class covariance ``Σ``;
        the problem becomes well conditioned and the penalty is ``Wᵀ Σ W`` on raw-space
        weights ``W`` (LDA's metric). ``"standardize"``: per-feature z-scores. ``"none"``:
        exactly sklearn's ``LogisticRegression`` problem (for two classes, sklearn's binary
        problem at ``2 * C``); pass ``Cs`` suited to the scale of the features.
    validation_fraction : float in (0, 1), default=0.1
    max_iter : int >= 1, default=500
        L-BFGS iterations per fit (per ``C`` on the path, and for the final refit).
    tol : float > 0, default=1e-3
        Stop when the largest entry of the gradient of the mean loss is below ``tol``. The
        default is ample for accuracy on whitened features; use ``1e-8`` to match sklearn's
        objective to many digits.
    warm_start_from : {None, "lda"}, default=None
        Where the path starts: zero weights with log-prior intercepts, or the shrunk LDA
        classifier scaled by the factor that minimises the first objective. Whitening already
        carries LDA's information into the fit; measured on MiniLM embeddings of four data sets,
        the LDA start saved at most two L-BFGS iterations over the zero start and doubled them
        on Banking77 (its large weights along weak directions have to be undone).
    class_weight : dict, "balanced" or None, default=None
        Row weights per class, as in sklearn (``"balanced"``: ``n / (n_classes * count)``).
    loss : {"ce", "balanced_softmax"}, default="ce"
        ``"balanced_softmax"`` trains on ``logits + log π`` (π: training class frequencies) and
        predicts with ``logits``, for long-tailed data; ``C`` is then chosen on the adjusted
        validation logits. See :mod:`headwise.heads._losses`.
    random_state : int, RandomState or None, default=0
        Seeds the validation split.
    c_rule : {"one_se", "min"}, default="one_se"
        How the validated ``C`` is chosen: the one nearest the prior within one standard
        error of the best, or the best.
    cv : "auto", "holdout" or int >= 2, default="auto"
        How ``C`` is validated: ``"holdout"`` one ``validation_fraction`` split; an int, that
        many stratified folds (repeated up to 3 times while there are fewer than 400 rows);
        ``"auto"``: 3 folds up to 1000 rows, the holdout above. ``fit_streaming`` always uses
        the holdout.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    C_ : float
        The ``C`` of the final fit.
    Cs_ : ndarray
        The sorted grid actually tried, extensions included (``[C]`` when ``C`` is given).
    val_scores_, val_log_losses_ : ndarray of shape (len(Cs_),)
        Validation accuracy and log-loss per ``C`` over all held-out rows (NaN without a
        validation split).
    path_n_iter_ : ndarray of shape (len(Cs_),)
        L-BFGS iterations per ``C`` on the path, summed over the splits.
    preprocess_ : str
        The preprocessing used (the winner when ``preprocess="auto"``).
    geometry_log_losses_ : dict of str to float
        Held-out log-loss (after temperature) at the chosen ``C`` of each geometry tried
        (empty without validation), fitted on ``geometry_rows_`` training rows.
    geometry_rows_ : int
        Training rows (per split) of the contest that chose the geometry (a subsample when it
        decided there; 0 without a contest).
    geometry_evidence_ : float
        Held-out log-loss gain of whitening over the isotropic penalty in paired standard
        errors (``preprocess="auto"`` with validation splits; NaN otherwise).
    C0_ : float
        The prior ``C`` (see above): where the search starts and what it shrinks towards.
    n_splits_ : int
        Validation splits the C search ran on (0: none).
    oof_rows_, oof_log_proba_ : ndarray
        Held-out rows and their log-probabilities at ``C_`` (averaged over repeats), for model
        selection by :class:`AutoHead`; not saved with the head.
    oof_splits_ : list of (ndarray, ndarray)
        The (training rows, held-out rows) of every validation split; not saved.
    n_iter_ : int
        L-BFGS iterations of the final fit.

    Examples
    --------
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + np.arange(10)[:, None] * 0.01
    >>> LogisticHead(C=1.0).fit(X, [0] * 5 + [1] * 5).predict([[0.0, 0.0], [1.0, 1.0]]).tolist()
    [0, 1]
    """

    _out_of_fold = True  # fit leaves oof_rows_ / oof_log_proba_ for AutoHead

    def __init__(
        self,
        Cs: Sequence[float] | None = None,
        C: float | None = None,
        preprocess: str = "auto",
        validation_fraction: float = 0.1,
        max_iter: int = 500,
        tol: float = 1e-3,
        warm_start_from: str | None = None,
        class_weight: dict[Any, float] | str | None = None,
        random_state: Any = 0,
        cv: int | str = "auto",
        loss: str = "ce",
        c_rule: str = "one_se",
    ) -> None:
        self.Cs = Cs
        self.C = C
        self.preprocess = preprocess
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start_from = warm_start_from
        self.class_weight = class_weight
        self.random_state = random_state
        self.cv = cv
        self.loss = loss
        self.c_rule = c_rule

    def _check_params(
        self, n_features: int | None = None, centred_share: float = 1.0
    ) -> np.ndarray:
        owner = type(self).__name__
        try:
            Cs = np.asarray(
                _GRID if self.Cs is None else self.Cs, dtype=np.float64
            ).ravel()
        except (TypeError, ValueError):
            Cs = np.array([np.nan])
        if Cs.size == 0 or not np.all((Cs > 0) & np.isfinite(Cs)):
            raise param_error(owner, "Cs", "a non-empty sequence of floats in (0, inf)", self.Cs)
        if self.C is not None:
            _check_positive(owner, "C", self.C)
        check_param_float(self.validation_fraction, "validation_fraction", owner, 0.0, 1.0,
                          low_open=True)
        check_param_choice(self.preprocess, "preprocess", owner, _PREPROCESS)
        check_param_int(self.max_iter, "max_iter", owner, 1)
        _check_positive(owner, "tol", self.tol)
        check_param_choice(self.warm_start_from, "warm_start_from", owner, ("lda", None))
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise param_error(owner, "class_weight",
                              "None, 'balanced' or a dict mapping labels to weights", cw)
        check_loss(self.loss, owner, ("ce", "balanced_softmax"))
        check_param_choice(self.c_rule, "c_rule", owner, _C_RULES)
        cv = self.cv
        if not (
            cv in ("auto", "holdout")
            or isinstance(cv, Integral) and not isinstance(cv, bool) and cv >= 2
        ):
            raise param_error(owner, "cv", "'auto', 'holdout' or an int >= 2", cv)
        if n_features is not None:
            self.C0_ = self._prior(n_features, centred_share)
            if self.Cs is None:
                Cs = Cs * self.C0_
        return np.unique(Cs)  # sorted: the path runs from the strongest penalty to the weakest

    def _prior(self, n_features: int, centred_share: float) -> float:
        """sklearn's ``C=1`` on the rows scaled to unit RMS norm, in the preprocessed space.

        Preprocessed features ``z = (x - m) / s`` have unit mean variance, ``s² = E||x - m||²/d``;
        rows scaled to unit RMS norm are ``x / r`` with ``r² = E||x||²``. sklearn's penalty
        ``||W||²/2`` at ``C=1`` on them is ``||V||² r²/(2 s²)`` on the weights ``V`` of ``z``,
        so ``C0 = s²/r² = centred_share / d`` with ``centred_share = E||x - m||² / E||x||²``
        (``1`` on raw features, ``preprocess="none"``). With two classes sklearn fits one
        weight vector ``w``; the softmax's two rows ``±w/2`` cost half its penalty, so its
        ``C=1`` is half that ``C`` here."""
        C0 = 1.0 if self.preprocess == "none" else centred_share / max(n_features, 1)
        C0 = C0 / 2 if self.classes_.size == 2 else C0
        # rows that hardly vary around a large offset (or not at all) would put sklearn's
        # default far below any C the search can reach: start at the weakest reachable one
        return float(np.clip(C0, *_PRIOR_RANGE))

    def _c_search(self, splits: list[PathSplit]) -> CSearch:
        """A C search on ``splits`` that starts at, and with ``c_rule="one_se"`` shrinks
        towards, the prior ``C0_``."""
        prior = self.C0_ if self.c_rule == "one_se" else None
        return CSearch(splits, self.max_iter, self.tol, prior)

    def _class_weights(self, codes: np.ndarray) -> np.ndarray:
        K = self.classes_.size
        if self.class_weight is None:
            return np.ones(K)
        if isinstance(self.class_weight, str):  # "balanced", as sklearn: n / (K * count)
            counts = np.bincount(codes, minlength=K).astype(np.float64)
            return codes.size / (K * np.maximum(counts, 1.0))
        weights = np.ones(K)
        for label, w in self.class_weight.items():
            hit = np.flatnonzero(self.classes_ == label)
            if hit.size == 0:
                raise InputError(
                    f"class_weight names the label {label!r}, which is not in y "
                    f"(labels: {self.classes_[:10].tolist()}). Use labels exactly as in y."
                )
            if isinstance(w, bool) or not isinstance(w, Real) or not 0 <= w < np.inf:
                raise InputError(f"class_weight[{label!r}] must be a float in [0, inf). Got {w!r}.")
            weights[hit] = w
        if not np.any(weights > 0):
            raise InputError("class_weight gives every class weight 0; at least one must be > 0.")
        return weights

    def _problem(
        self, Z: np.ndarray, codes: np.ndarray, basis: np.ndarray | None = None
    ) -> SoftmaxProblem:
        s = None if self.class_weight is None else self._class_weights(codes)[codes]
        return SoftmaxProblem(Z, codes, self.classes_.size, s, basis)

    def _start(self, pre: Preprocessor, prob: SoftmaxProblem, C: float) -> np.ndarray:
        """Zero weights and prior intercepts, or the temperature-scaled LDA classifier."""
        counts = np.bincount(prob.codes, minlength=prob.K).astype(np.float64)
        w = counts * self._class_weights(prob.codes)
        log_prior = np.log(np.maximum(w, 1e-300) / w.sum())
        if self.warm_start_from is None:
            return np.concatenate(
                [np.zeros(prob.n_features * prob.K), log_prior - log_prior.mean()]
            )
        theta = lda_start(pre, log_prior)
        return prob.best_scale(theta, C) * theta

    def fit(self, X: Any, y: Any) -> LogisticHead:
        """Fit on embeddings ``X`` (n, d) and labels ``y`` (n,); see the class docstring."""
        self._check_params()
        X, y = self._validate_fit(X, y)
        codes, folds = self._begin(y)
        Cs = self._check_params(X.shape[1], centred_share(X))
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        K = self.classes_.size
        kinds: tuple[str, ...] = (self.preprocess,)
        if self.preprocess == "auto":  # the geometries compete on the same splits
            kinds = _AUTO_KINDS
        self.geometry_log_losses_: dict[str, float] = {}
        self.geometry_evidence_ = float("nan")
        self.geometry_rows_ = 0 if not folds or len(kinds) == 1 else int(folds[0][0].size)
        if not folds:
            self.preprocess_ = kinds[0]
            ((pre, metric),) = geometries(class_moments(X, codes, K), kinds[:1]).values()
            Z, basis = pre.rows(X, dtype)
            prob = self._problem(Z, codes, basis).with_metric(metric)
            return self._fit_path(Cs, pre, prob, [])
        early: tuple[dict[str, float], float] | None = None
        if len(kinds) > 1 and len(folds) == 1:  # a holdout of many rows: decide on subsamples
            ((tr, va),) = folds  # of the training part first, where one can
            rng = check_random_state(self.random_state)
            for size in contest_sizes(tr.size, K):
                sub = stratified_holdout(codes[tr], size / tr.size, rng)
                if sub is None:
                    break
                self._geometry_search(X, codes, [(tr[sub[1]], va)], kinds, Cs, dtype)
                if abs(self.geometry_evidence_) > evidence_threshold(_GEOMETRY_EVIDENCE, va.size):
                    kinds = (kinds[int(self.geometry_evidence_ > 0)],)
                    self.geometry_rows_ = int(sub[1].size)
                    early = (dict(self.geometry_log_losses_), self.geometry_evidence_)
                    break
        self.preprocess_, pre, splits, search = self._geometry_search(
            X, codes, folds, kinds, Cs, dtype
        )
        if early is not None:  # report the contest that decided, not the winner's lone search
            self.geometry_log_losses_, self.geometry_evidence_ = early
        if len(folds) > 1:  # k-fold: the refit gets its own preprocessing from every row
            moments = class_moments(X, codes, K)
            ((pre, metric),) = geometries(moments, (self.preprocess_,)).values()
            Z, basis = pre.rows(X, dtype)
            prob = self._problem(Z, codes, basis).with_metric(metric)
        else:  # one holdout: same preprocessing, so the rows are already transformed
            ((tr, va),) = folds
            part = splits[0].part
            if part.basis is not None:  # centring all rows is cheaper than gathering the parts
                Z, _ = pre.rows(X, dtype)
            else:
                Z = np.empty((X.shape[0], part.Z.shape[1]), dtype=part.Z.dtype)
                Z[tr], Z[va] = part.Z, splits[0].val.Z
            prob = self._problem(Z, codes, part.basis).with_metric(part.metric)
        return self._fit_path(Cs, pre, prob, splits, search)

    def _geometry_search(
        self,
        X: np.ndarray,
        codes: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        kinds: tuple[str, ...],
        Cs: np.ndarray,
        dtype: type,
    ) -> tuple[str, Preprocessor, list[PathSplit], CSearch]:
        """The C search of every geometry in ``kinds`` on ``folds``; the winner's geometry,
        preprocessing, splits and search. Sets ``geometry_log_losses_`` and, for two
        geometries, ``geometry_evidence_``.

        Each geometry's C is the one :meth:`_c_search` chooses (``c_rule``), and the geometries
        are compared by the per-row held-out log-losses (after temperature) at those C."""
        K = self.classes_.size
        per_kind: dict[str, list[PathSplit]] = {kind: [] for kind in kinds}
        pre_of: dict[str, Preprocessor] = {}  # each geometry's (last split's) preprocessing
        for tr, va in folds:  # rows transformed once per split, shared by the geometries
            made: dict[int, tuple[SoftmaxProblem, SoftmaxProblem]] = {}
            X_tr = X[tr]  # one copy, for the moments, then centred in place for the problem
            geos = geometries(class_moments(X_tr, codes[tr], K), kinds)
            single = len({id(pre) for pre, _ in geos.values()}) == 1
            for kind, (pre, metric) in geos.items():
                if id(pre) not in made:
                    Z_tr, basis = pre.rows(X_tr, dtype, overwrite=single)
                    Z_va, _ = pre.rows(X[va], dtype, overwrite=True)
                    made[id(pre)] = (
                        self._problem(Z_tr, codes[tr], basis),
                        self._val_problem(Z_va, codes[va], K, codes[tr], basis),
                    )
                part, val = made[id(pre)]
                part, pre_of[kind] = part.with_metric(metric), pre
                per_kind[kind].append(PathSplit(part, val, va, self._start(pre, part, float(Cs[0]))))
        self.geometry_log_losses_ = {}
        best: tuple[np.ndarray, str, list[PathSplit], CSearch] | None = None
        for kind, splits in per_kind.items():  # each geometry gets its own C search
            search = self._c_search(splits)
            search.run(Cs)
            C = search.choose(_ONE_SE, _PRIOR_EVIDENCE)
            self.geometry_log_losses_[kind] = search.scores[C][1]
            losses = search.row_losses[C]
            if best is not None:
                self.geometry_evidence_ = paired_evidence(best[0], losses)
                if self.geometry_evidence_ <= evidence_threshold(_GEOMETRY_EVIDENCE, losses.size):
                    continue
            best = (losses, kind, splits, search)
        assert best is not None
        _, kind, splits, search = best
        return kind, pre_of[kind], splits, search

    def _begin(
        self, y: np.ndarray, kfold: bool = True
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Classes and the validation splits (none with a fixed ``C``) of both fitting routes."""
        self._require_two_classes(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.oof_rows_ = np.zeros(0, dtype=np.int64)
        self.oof_log_proba_ = np.zeros((0, self.classes_.size))
        self.oof_splits_ = []
        if self.C is not None:
            return codes, []
        n_folds = self.cv
        if n_folds == "auto" or not kfold:
            n_folds = _KFOLD if codes.size <= _KFOLD_MAX_ROWS and kfold else "holdout"
        if n_folds == "holdout":
            split = stratified_holdout(codes, self.validation_fraction, self.random_state)
            self.oof_splits_ = [] if split is None else [split]
            return codes, list(self.oof_splits_)
        rng = check_random_state(self.random_state)
        repeats = max(1, min(3, _KFOLD_MIN_VAL // max(codes.size, 1)))
        folds = []
        for _ in range(repeats):
            fold = stratified_folds(codes, int(n_folds), rng)
            for f in range(int(n_folds)):
                if np.any(fold == f):
                    folds.append((np.flatnonzero(fold != f), np.flatnonzero(fold == f)))
        self.oof_splits_ = list(folds)
        return codes, folds

    def _fit_path(
        self,
        Cs: np.ndarray,
        pre: Preprocessor,
        prob: SoftmaxProblem,
        splits: list[PathSplit],
        search: CSearch | None = None,
    ) -> LogisticHead:
        """The C search on ``splits`` (if any, unless ``search`` ran it), then the refit on
        ``prob`` at the chosen C."""
        self.n_splits_ = len(splits)
        if splits:
            if search is None:
                search = self._c_search(splits)
                search.run(Cs)
            self.C_ = search.choose(_ONE_SE, _PRIOR_EVIDENCE)
            grid = sorted(search.scores)
            self.Cs_ = np.array(grid)
            self.val_scores_ = np.array([search.scores[c][0] for c in grid])
            self.val_log_losses_ = np.array([search.scores[c][1] for c in grid])
            self.path_n_iter_ = np.array([sum(sp.n_iter[c] for sp in splits) for c in grid])
            if not isinstance(prob, ChunkedSoftmaxProblem):
                self.oof_rows_, self.oof_log_proba_ = search.oof_log_proba(
                    self.C_, prob.codes.size, prob.K
                )
            # one holdout split shares the refit's preprocessing: warm start from its solution;
            # k-fold: the folds' mean solution (same geometry, nearly the same scaling) is a
            # start a few iterations from the refit's optimum
            theta = np.mean([sp.thetas[self.C_] for sp in splits], axis=0)
        else:
            self.C_ = float(self.C) if self.C is not None else float(Cs[(Cs.size - 1) // 2])
            self.Cs_ = np.array([self.C_]) if self.C is not None else Cs
            self.val_scores_ = np.full(self.Cs_.size, np.nan)
            self.val_log_losses_ = np.full(self.Cs_.size, np.nan)
            self.path_n_iter_ = np.zeros(self.Cs_.size, dtype=np.int64)
            theta = self._start(pre, prob, self.C_)
        theta, self.n_iter_ = prob.solve(theta, self.C_, self.max_iter, self.tol)
        W, b = pre.to_original(*prob.split(self._predictive(theta, prob)))
        self.coef_ = np.ascontiguousarray(W.T)
        self.intercept_ = b
        return self

    def fit_streaming(self, chunks: Callable[[Any], Iterator[tuple[Any, Any]]], y: Any) -> Self:
        """Fit without holding the rows in memory: every pass re-reads them in chunks.

        ``chunks(positions)`` yields ``(X_chunk, y_chunk)`` for the given positions of ``y``
        (all rows for ``None``), in any order, e.g. from memory-mapped cache shards; prefer
        :func:`headwise.heads.fit_streaming`, which builds it. The labels ``y`` (one per row) are
        small and held in memory. The problem, the holdout split, the preprocessing and the C
        path are exactly those of :meth:`fit`: one pass accumulates the class moments for the
        whitening (float64 sufficient statistics), then each L-BFGS evaluation is one pass.
        Memory stays at one chunk whatever the number of rows; time is about (iterations + 2)
        passes over the data per ``C``.
        """
        return self.fit_rows(ChunkSource(chunks), y)

    def fit_rows(self, source: RowSource, y: Any) -> Self:
        """Fit on rows held by ``source`` (chunks re-read here, or Ray workers), labels ``y``.

        The same problem, holdout split, preprocessing and C search as :meth:`fit_streaming`;
        ``source`` supplies the class statistics and evaluates the objective and gradient over
        its rows (see :mod:`headwise.heads._rows`). Only ``y``, the parameters and the gradients
        live here. One difference from :meth:`fit`: with ``preprocess="auto"`` this route keeps
        the whitened geometry, because the geometry contest compares per-row held-out losses,
        which a chunked problem never holds; pass ``preprocess="isotropic"`` to choose the other.
        For the same reason ``C`` is scored by the plain held-out log-loss (no temperature) and
        the lowest wins (no one-standard-error rule); the walk still starts at the prior.
        """
        self._check_params()
        y = np.asarray(y)
        if y.ndim != 1 or y.size == 0:
            raise InputError(f"y must be a non-empty 1-D array of labels; got shape {y.shape}.")
        for name in ("n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)
        codes, folds = self._begin(y, kfold=False)
        K = self.classes_.size
        weights = self._class_weights(codes) if self.class_weight is not None else None
        train_pos = folds[0][0] if folds else None
        stats = source.stats(train_pos)
        if stats.classes.size != K or not np.array_equal(stats.classes, self.classes_):
            raise InputError(
                "The rows' labels do not match y: the source must yield the rows of y at the "
                "positions asked for, with the same labels."
            )
        self.n_features_in_ = stats.n_features
        cov = stats.within_scatter() / stats.n_samples
        mean = stats.counts @ stats.class_means / stats.n_samples
        centred = centred_variance(stats.counts, stats.class_means, cov)
        Cs = self._check_params(stats.n_features, _share(centred, centred + float(mean @ mean)))
        self.preprocess_ = "whiten" if self.preprocess == "auto" else self.preprocess
        self.geometry_log_losses_ = {}
        self.geometry_evidence_ = float("nan")
        pre = Preprocessor.from_moments(stats.counts, stats.class_means, cov, self.preprocess_)
        dtype = np.float32  # stored embeddings are float32/float16; sums stay float64

        def problem(positions: np.ndarray | None, w: np.ndarray | None) -> SoftmaxProblem:
            sel = codes if positions is None else codes[positions]
            s_sum = float(sel.size if w is None else w[sel].sum())
            return source.problem(positions, sel, self.classes_, pre, w, s_sum, dtype)

        prob = problem(None, weights)
        if not folds:
            return self._fit_path(Cs, pre, prob, [])
        ((tr, va),) = folds
        part = problem(tr, weights)
        split = PathSplit(part, problem(va, None), va, self._start(pre, part, float(Cs[0])))
        return self._fit_path(Cs, pre, prob, [split])

    def _val_problem(
        self,
        Z: np.ndarray,
        codes: np.ndarray,
        K: int,
        train_codes: np.ndarray,
        basis: np.ndarray | None = None,
    ) -> SoftmaxProblem:
        """Validation rows, scored on the predictive logits (balanced softmax: ``− log π``)."""
        if self.loss != "balanced_softmax":
            return SoftmaxProblem(Z, codes, K, basis=basis)
        offsets = balanced_softmax_offsets(np.bincount(train_codes, minlength=K))
        return _ShiftedProblem(Z, codes, K, offsets, basis)

    def _predictive(self, theta: np.ndarray, prob: SoftmaxProblem) -> np.ndarray:
        """The trained parameters as used for prediction (balanced softmax: ``− log π``)."""
        if self.loss != "balanced_softmax":
            return theta
        out = theta.copy()
        out[-prob.K :] -= balanced_softmax_offsets(np.bincount(prob.codes, minlength=prob.K))
        return out

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def _fitted_attributes(self) -> list[str]:
        return [k for k in super()._fitted_attributes() if k not in _NOT_SAVED]


class _ShiftedProblem(SoftmaxProblem):
    """Rows scored on ``logits − offsets`` (validation of the balanced-softmax loss)."""

    def __init__(
        self,
        Z: np.ndarray,
        codes: np.ndarray,
        K: int,
        offsets: np.ndarray,
        basis: np.ndarray | None = None,
    ) -> None:
        super().__init__(Z, codes, K, basis=basis)
        self.offsets = offsets

    def logits(self, theta: np.ndarray) -> np.ndarray:
        return super().logits(theta) - self.offsets.astype(self.Z.dtype)
