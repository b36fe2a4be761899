"""DHO: dual-head distillation from a teacher's probabilities into two linear heads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_param_choice, check_param_float, check_param_int
from ..exceptions import InputError
from ._base import BaseHead
from ._dho_select import ce_candidates, choose_ce_mixture, param_grid
from ._propagate import choose_propagation, pool_affinity
from ._registry import register_head
from ._soft_linear import (
    fit_soft_linear,
    mixture_log_proba,
    resolve_device,
    tempered_targets,
    torch_module,
)
from ._teacher import known_classes, moved_teacher, teacher_probabilities
from ._zeroshot import ZeroShotHead

__all__ = ["DHOHead"]

_BETAS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 4.0)


@register_head("dho")
class DHOHead(BaseHead):
    """Dual-head optimisation (Kang et al., 2025): a CE head on labels, a KD head on a teacher.

    Two linear heads on the same frozen features: the CE head minimises cross-entropy on the
    labelled rows, the KD head minimises ``T² KL(teacher_T || softmax(z_kd / T))`` on the
    labelled and unlabelled rows together. With frozen features the joint objective
    ``0.5·CE + 0.5·KD + penalties`` separates into two convex problems, each solved to
    convergence (L-BFGS, torch on ``device``): the KD head first, then the CE head. Prediction
    mixes ``α softmax(z_ce) + (1 − α) softmax(z_kd / β)``; ``predict_proba`` returns that mixture
    and ``logits`` its logarithm.

    Four choices make few labels count, each checked on the labelled rows only:

    * **A prototype teacher moved toward the pool.** When the teacher is a
      :class:`ZeroShotHead` (a class vector per name, ``softmax(scale · cos)``) and there is a
      pool, each class vector is replaced by the unit mean of itself and the centroid of the
      pool rows the teacher gives that class (weighted by its probabilities; ``pool_prototypes``
      is the centroid's weight, see :func:`~headwise.heads._teacher.pool_prototypes`): one
      soft k-means step that keeps the names as a prior, using only what DHO already holds.
      The teacher as given replaces it only when it is right on more labelled rows by more
      than one standard error of the paired difference (McNemar), the bar below.
    * **The teacher, smoothed over the pool.** With a teacher and a pool, the teacher's
      probabilities are propagated over the pool's cosine kNN graph (``n_neighbors``; see
      :mod:`~headwise.heads._propagate`) at the strength in ``propagation`` whose result is right
      most often on the labelled rows, whose labels it never saw; a strength must beat the plain
      teacher (strength 0) by more than one standard error of the paired difference.
    * **The CE head's prior**: its penalty is ``(λ/2)||θ_ce − θ_centre||²``. Centred on the KD
      head (a Gaussian prior on the teacher's head), a large ``λ`` returns the teacher's head and
      a small one moves toward the labels; every class is then known to the CE head, and every
      labelled row can be held out, even the only row of its class. Centred on zero, it is the
      paper's plain weight decay and the labels' own fit. ``ce_prior="auto"`` (the default)
      lets the cross-validation choose the centre with ``λ`` (zero-centred candidates only
      when every labelled class has two rows or more), so the labels-only head is in the
      searched family: with many labels a KD-centred head stops at the edge of the ``λ`` grid
      still pulled toward the teacher. A class with no labelled row at all gets its probability
      from the KD head alone, the CE head only splitting the mass the KD head gives the
      labelled classes (see :func:`ce_log_proba`).
    * **centre, λ, α and β**: the centre, ``λ`` (in ``ce_weight_decays``, going on a decade
      lower, up to ``extend_decays`` times, while the weakest is chosen), ``α`` (on the
      ``alpha_step`` grid) and ``β`` (in ``betas``) are chosen together by stratified
      cross-validation over the labelled rows (``n_folds`` folds; best held-out accuracy, ties:
      lower log-loss; see :mod:`~headwise.heads._dho_select`), shrunk toward the KD head alone:
      with a teacher, the best setting must be right on more held-out rows than ``α = 0,
      β = 1``. The KD head never sees a label, so its predictions on held-out labelled rows are
      honest; only the CE head is refitted per fold. When no row can be held out
      (``ce_prior="zero"`` with one label per class), ``α = 0.5``, ``β = 1`` and the largest
      ``λ`` are used.

    Rows are centred on the mean of all rows seen (labelled and unlabelled) and scaled to unit
    root-mean-square norm before fitting; the stored coefficients act on raw features.

    Parameters
    ----------
    temperature : float > 0, default=2.0
        Distillation temperature ``T``.
    ce_weight_decays : sequence of float > 0, default=(1e-3, 1e-2, 1e-1, 1, 10)
        Candidate ``λ`` for the CE head (mean loss plus ``(λ/2)||θ − θ_prior||²``).
    kd_weight_decay : float > 0, default=1e-5
        ``λ`` of the KD head, which has many soft-labelled rows and needs little: it should
        reproduce the teacher, not a shrunk copy of it.
    ce_prior : {"auto", "kd", "zero"}, default="auto"
        Centre of the CE head's penalty: the KD head's weights and bias (with a teacher), zero,
        or either, chosen by cross-validation.
    extend_decays : int >= 0, default=2
        When the cross-validation picks the weakest ``λ`` of ``ce_weight_decays`` (a search
        stopped at its edge), it goes on one decade lower, up to this many times. A grid of
        one ``λ`` is a fixed choice and is not extended.
    pool_prototypes : float in [0, 1], default=0.5
        Weight of the pool centroid in a :class:`ZeroShotHead` teacher's class vectors
        (0: the teacher as given). Ignored for other teachers and without unlabelled rows.
    propagation : sequence of float in [0, 1), default=(0, 0.5, 0.8, 0.9)
        Candidate label-propagation strengths for the teacher; ``(0,)`` turns smoothing off.
    n_neighbors : int >= 1, default=10
        Neighbours per row of the propagation graph.
    alpha_step : float in (0, 1], default=0.05
    betas : sequence of float > 0, default=(0.5, 0.75, 1, 1.25, 1.5, 2, 4)
    n_folds : int >= 2, default=5
    max_iter : int >= 1, default=500
        L-BFGS iterations per fit.
    tol : float > 0, default=1e-6
        Gradient tolerance (largest entry) of L-BFGS.
    warm_start : bool, default=False
        Start both heads' solvers from the previous fit's weights (when the classes and width
        are unchanged), and reuse the propagation graph while the pool's rows are the same set.
        The optimum is the same, only reached sooner: active-learning rounds and seeds refit on
        the same pool split differently.
    device : str or None, default=None
        torch device; ``None`` picks CUDA when available, else the CPU.
    random_state : int, RandomState or None, default=0
        Seeds the folds; refits are identical.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ce_, coef_kd_ : ndarray of shape (n_classes, n_features)
    intercept_ce_, intercept_kd_ : ndarray of shape (n_classes,)
    alpha_, beta_, ce_weight_decay_ : float
        The chosen mixture weight, KD-logit temperature and CE weight decay.
    ce_anchored_ : bool
        True when the chosen CE head's penalty is centred on the KD head, False on zero.
    teacher_adapted_ : bool
        True when the KD head distils the teacher moved toward the pool (``pool_prototypes``).
    propagation_ : float
        The chosen propagation strength (0: the teacher as given).
    cv_accuracy_ : float
        Held-out accuracy of the chosen setting (NaN when none was held out).
    has_teacher_ : bool
        False when fitted without a teacher: the KD head then distils the one-hot labels of the
        labelled rows (unlabelled rows carry no target and are ignored).
    seen_classes_ : ndarray of bool, shape (n_classes,)
        Classes with a labelled row; the others get their probability from the KD head alone.
    n_unlabeled_ : int
    n_iter_ : ndarray of shape (2,)
        L-BFGS iterations of the final CE head and of the KD head.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (20, 2)), rng.normal(2, 1, (20, 2))]
    >>> teacher = np.c_[X[:, 0] < 0, X[:, 0] >= 0] * 0.8 + 0.1
    >>> head = DHOHead().fit(X[[0, 20]], [0, 1], X_unlabeled=np.delete(X, [0, 20], 0),
    ...                      teacher_proba=np.r_[teacher[[0, 20]], np.delete(teacher, [0, 20], 0)])
    >>> head.score(X, [0] * 20 + [1] * 20) > 0.9
    True
    """

    def __init__(
        self,
        temperature: float = 2.0,
        ce_weight_decays: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0),
        kd_weight_decay: float = 1e-5,
        ce_prior: str = "auto",
        extend_decays: int = 2,
        pool_prototypes: float = 0.5,
        propagation: Sequence[float] = (0.0, 0.5, 0.8, 0.9),
        n_neighbors: int = 10,
        alpha_step: float = 0.05,
        betas: Sequence[float] = _BETAS,
        n_folds: int = 5,
        max_iter: int = 500,
        tol: float = 1e-6,
        warm_start: bool = False,
        device: str | None = None,
        random_state: Any = 0,
    ) -> None:
        self.temperature = temperature
        self.ce_weight_decays = ce_weight_decays
        self.kd_weight_decay = kd_weight_decay
        self.ce_prior = ce_prior
        self.extend_decays = extend_decays
        self.pool_prototypes = pool_prototypes
        self.propagation = propagation
        self.n_neighbors = n_neighbors
        self.alpha_step = alpha_step
        self.betas = betas
        self.n_folds = n_folds
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        owner = type(self).__name__

        def grid(name: str, low: float, high: float, low_open: bool) -> np.ndarray:
            return param_grid(getattr(self, name), name, owner, low, high, low_open)

        for name in ("temperature", "kd_weight_decay", "tol"):
            check_param_float(getattr(self, name), name, owner, low_open=True)
        check_param_float(self.pool_prototypes, "pool_prototypes", owner, 0.0, 1.0, high_open=False)
        check_param_float(self.alpha_step, "alpha_step", owner, 0.0, 1.0, low_open=True, high_open=False)
        check_param_int(self.n_folds, "n_folds", owner, low=2)
        check_param_int(self.extend_decays, "extend_decays", owner, low=0)
        check_param_int(self.max_iter, "max_iter", owner)
        check_param_int(self.n_neighbors, "n_neighbors", owner)
        check_param_choice(self.ce_prior, "ce_prior", owner, ("auto", "kd", "zero"))
        strengths = grid("propagation", 0.0, 1.0, low_open=False)
        betas = grid("betas", 0.0, np.inf, low_open=True)
        decays = np.unique(grid("ce_weight_decays", 0.0, np.inf, low_open=True))
        n_steps = int(round(1.0 / float(self.alpha_step)))
        alphas = np.unique(np.clip(np.r_[np.arange(n_steps + 1) * float(self.alpha_step), 1.0], 0, 1))
        return decays, alphas, betas, strengths

    # ---------------------------------------------------------------- fit
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        X_unlabeled: Any = None,
        teacher: Any = None,
        teacher_proba: Any = None,
        classes: Any = None,
    ) -> Self:
        """Fit on labelled ``(X, y)`` plus optional unlabelled rows and a teacher.

        Parameters
        ----------
        X, y : labelled embeddings (n, d) and labels (n,)
        X_unlabeled : array of shape (m, d), optional
            Unlabelled rows; they enter the KD loss (with a teacher) and the centring.
        teacher : fitted classifier, optional
            Any fitted head (e.g. a :class:`ZeroShotHead`): its ``predict_proba`` on
            ``[X; X_unlabeled]`` is the teacher. Must know every class.
        teacher_proba : array of shape (n + m, n_classes), optional
            Teacher probabilities on ``[X; X_unlabeled]`` instead, columns in sorted order of
            the classes (``classes`` if given, else the labels in ``y``).
        classes : array-like, optional
            All classes, when some have no labelled row yet (a zero-shot start, active
            learning). Default: those in ``y`` (and, with a ``teacher``, those it knows).
        """
        decays, alphas, betas, strengths = self._check_params()
        X, y = self._validate_fit(X, y)
        if classes is None and teacher is None:
            self._require_two_classes(y)
        all_classes = known_classes(y, classes, teacher)
        codes = np.searchsorted(all_classes, y)
        X_u = np.empty((0, X.shape[1]))
        if X_unlabeled is not None:
            X_u = self._validate_predict_like(X_unlabeled, X.shape[1])
        X_all = np.concatenate([np.asarray(X, np.float64), X_u])
        P = teacher_probabilities(teacher, teacher_proba, X_all, all_classes)
        mean = X_all.mean(axis=0)
        scale = 1.0 / max(float(np.sqrt(np.mean(np.sum((X_all - mean) ** 2, axis=1)))), 1e-12)
        self.teacher_adapted_ = False
        if P is not None and isinstance(teacher, ZeroShotHead) and X_u.shape[0] > 0:
            W = np.asarray(teacher.coef_, dtype=np.float64)[_columns(teacher.classes_, all_classes)]
            P, self.teacher_adapted_ = moved_teacher(
                X_all, P, W, float(teacher.scale), float(self.pool_prototypes), codes
            )
        self.propagation_ = 0.0
        if P is not None and X_all.shape[0] > int(self.n_neighbors) + 1 and max(strengths) > 0:
            S = self._affinity(X_all)
            self.propagation_, P = choose_propagation(S, P, np.arange(X.shape[0]), codes, strengths)
        Q = None if P is None else tempered_targets(P, float(self.temperature))
        starts = {h: self._previous(h, all_classes, mean, scale) for h in ("kd", "ce")}
        self.classes_ = all_classes
        self.has_teacher_ = Q is not None
        self.n_unlabeled_ = int(X_u.shape[0])
        Z_all = (X_all - mean) * scale
        Z = Z_all[: X.shape[0]]
        K = all_classes.size
        onehot = np.eye(K)[codes]
        seen = np.bincount(codes, minlength=K) > 0
        torch = torch_module()
        dev = resolve_device(torch, self.device)
        opts = {"max_iter": self.max_iter, "tol": float(self.tol), "device": dev}

        kd_rows, kd_targets = (Z_all, Q) if Q is not None else (Z, onehot)
        W_kd, b_kd, it_kd = fit_soft_linear(
            kd_rows, kd_targets, temperature=float(self.temperature),
            weight_decay=float(self.kd_weight_decay),
            start=starts["kd"], **opts,
        )  # fmt: skip

        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        candidates = ce_candidates(decays, self.ce_prior, codes, has_teacher=Q is not None)
        choice = choose_ce_mixture(
            Z, codes, (W_kd, b_kd), candidates, alphas=alphas, betas=betas, seen=seen,
            n_folds=int(self.n_folds), rng=rng, shrink=Q is not None, opts=opts,
            extend=int(self.extend_decays) if decays.size > 1 else 0,  # one λ: fixed, not searched
        )  # fmt: skip
        W_ce, b_ce, it_ce = fit_soft_linear(
            Z, onehot, temperature=1.0, weight_decay=choice.weight_decay,
            start=starts["ce"], anchor=(W_kd, b_kd) if choice.anchored else None, **opts,
        )  # fmt: skip
        # fold centring and scaling into raw-feature coefficients: z = x (sW) + (b - s mean W)
        self.coef_ce_ = np.ascontiguousarray((scale * W_ce).T)
        self.intercept_ce_ = b_ce - self.coef_ce_ @ mean
        self.coef_kd_ = np.ascontiguousarray((scale * W_kd).T)
        self.intercept_kd_ = b_kd - self.coef_kd_ @ mean
        self.alpha_, self.beta_ = choice.alpha, choice.beta
        self.ce_weight_decay_ = choice.weight_decay
        self.ce_anchored_ = choice.anchored
        self.cv_accuracy_ = choice.cv_accuracy
        self.seen_classes_ = seen
        self.n_iter_ = np.array([it_ce, it_kd], dtype=np.int64)
        return self

    def _previous(
        self, which: str, classes: np.ndarray, mean: np.ndarray, scale: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The last fit's weights of one head in the new scaled space, for ``warm_start``."""
        coef = getattr(self, f"coef_{which}_", None)
        old = getattr(self, "classes_", None)
        if not self.warm_start or coef is None or old is None or coef.shape[1] != mean.size:
            return None
        if old.shape != classes.shape or not np.array_equal(old, classes):
            return None
        # x·coef + c = ((x - mean)·s)·W + b  =>  W = coefᵀ / s,  b = c + coef·mean
        return coef.T / scale, getattr(self, f"intercept_{which}_") + coef @ mean

    def _affinity(self, X_all: np.ndarray) -> Any:
        """The pool's kNN affinity; with ``warm_start``, reused while the rows (as a set) stay."""
        cached = getattr(self, "_graph", None) if self.warm_start else None
        S, self._graph = pool_affinity(X_all, int(self.n_neighbors), cached)
        if not self.warm_start:
            self._graph = None
        return S

    def _validate_predict_like(self, X: Any, n_features: int) -> np.ndarray:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != n_features:
            raise InputError(
                f"X_unlabeled must be a 2-D array with {n_features} features like X; "
                f"got shape {arr.shape}."
            )
        if not np.all(np.isfinite(arr)):
            raise InputError("X_unlabeled contains NaN or infinity; re-embed or drop those rows.")
        return arr

    # ---------------------------------------------------------------- predict
    def _head_logits(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        return X @ self.coef_ce_.T + self.intercept_ce_, X @ self.coef_kd_.T + self.intercept_kd_

    def _logits(self, X: np.ndarray) -> np.ndarray:
        z_ce, z_kd = self._head_logits(X)
        return mixture_log_proba(z_ce, z_kd, self.alpha_, self.beta_, self.seen_classes_)

    def head_logits(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """The CE head's and the KD head's own logits, each ``(n, n_classes)``."""
        return self._head_logits(self._validate_predict(X))


def _columns(have: np.ndarray, want: np.ndarray) -> list[int]:
    """Positions in ``have`` of each label of ``want`` (every one is there)."""
    pos = {c: i for i, c in enumerate(np.asarray(have).tolist())}
    return [pos[c] for c in want.tolist()]
