"""The teacher of a distillation head: its probabilities, checked and aligned to the classes."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax

from ..exceptions import InputError
from ._propagate import clears_noise
from ._soft_linear import tempered_targets

__all__ = [
    "known_classes",
    "moved_teacher",
    "pool_prototypes",
    "prototype_probabilities",
    "teacher_probabilities",
    "teacher_targets",
]


def known_classes(y: np.ndarray, classes: Any, teacher: Any) -> np.ndarray:
    """Every class of a distillation fit, sorted: the labels', ``classes``' and the teacher's.

    >>> known_classes(np.array([2, 0]), [1], None).tolist()
    [0, 1, 2]
    """
    known = [np.unique(y)]
    if classes is not None:
        known.append(np.asarray(classes))
    if teacher is not None and hasattr(teacher, "classes_"):
        known.append(np.asarray(teacher.classes_))
    try:
        out = np.unique(np.concatenate(known))
    except (TypeError, ValueError):
        raise InputError("classes and the labels in y must be of one comparable type.") from None
    if out.size < 2:
        raise InputError("A classifier needs at least two classes; got one.")
    return out


def teacher_targets(
    teacher: Any, teacher_proba: Any, X_all: np.ndarray, classes: np.ndarray, temperature: float
) -> np.ndarray | None:
    """The teacher's distribution at ``temperature`` on every row, columns in ``classes`` order.

    :func:`teacher_probabilities`, tempered (:func:`tempered_targets`); ``None`` without a teacher.

    >>> teacher_targets(None, [[0.5, 0.5]], np.zeros((1, 2)), np.array([0, 1]), 2.0).tolist()
    [[0.5, 0.5]]
    """
    P = teacher_probabilities(teacher, teacher_proba, X_all, classes)
    return None if P is None else tempered_targets(P, float(temperature))


def teacher_probabilities(
    teacher: Any, teacher_proba: Any, X_all: np.ndarray, classes: np.ndarray
) -> np.ndarray | None:
    """The teacher's probabilities on every row, columns in ``classes`` order, rows summing to 1.

    From a fitted classifier (its ``predict_proba`` on ``X_all``, columns matched by label; it
    must know every class) or from given probabilities; ``None`` when neither is given.
    """
    if teacher is not None and teacher_proba is not None:
        raise InputError("Pass either teacher= (a fitted head) or teacher_proba=, not both.")
    if teacher is not None:
        if not hasattr(teacher, "predict_proba") or not hasattr(teacher, "classes_"):
            raise InputError(
                "teacher must be a fitted classifier with predict_proba() and classes_; "
                f"got {type(teacher).__name__}."
            )
        t_classes = np.asarray(teacher.classes_)
        pos = {c: i for i, c in enumerate(t_classes.tolist())}
        missing = [c for c in classes.tolist() if c not in pos]
        if missing:
            raise InputError(
                f"The teacher does not know the label(s) {missing[:3]!r} (it knows "
                f"{t_classes[:5].tolist()}...). Fit the teacher on the same classes."
            )
        P = np.asarray(teacher.predict_proba(X_all), dtype=np.float64)
        P = P[:, [pos[c] for c in classes.tolist()]]
    elif teacher_proba is not None:
        P = np.asarray(teacher_proba, dtype=np.float64)
        if P.shape != (X_all.shape[0], classes.size):
            raise InputError(
                f"teacher_proba must have shape (n_labelled + n_unlabeled, n_classes) = "
                f"{(X_all.shape[0], classes.size)} with columns in sorted class order; "
                f"got {P.shape}."
            )
    else:
        return None
    if not np.all(np.isfinite(P)) or np.any(P < 0):
        raise InputError("teacher probabilities must be finite and non-negative.")
    sums = P.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise InputError("teacher probabilities sum to 0 on some row; check the teacher.")
    return P / sums


def pool_prototypes(
    X_all: np.ndarray, P: np.ndarray, prototypes: np.ndarray, weight: float
) -> np.ndarray:
    """A prototype teacher's class vectors moved toward the pool: one soft k-means step.

    ``prototypes`` (``(n_classes, d)``, unit rows) define a teacher
    ``P = softmax(scale · cos(x, prototypes))`` (a :class:`~headwise.heads.ZeroShotHead`); its
    probabilities ``P`` on the pool rows ``X_all`` weight each row into its classes' centroids
    ``c_k ∝ Σ_i P_ik x̂_i`` (``x̂``: unit rows), and each class vector becomes the unit mean
    ``m_k ∝ (1 − weight)·w_k + weight·c_k`` of its name's vector and its pool centroid: the
    M-step of a von Mises–Fisher mixture whose means have a prior at the names' vectors (equal
    weight for ``weight = 0.5``). Returns the moved unit class vectors; ``weight = 0`` returns
    ``prototypes``. See :func:`prototype_probabilities` for the teacher they define.

    >>> X = np.array([[1.0, 0.2], [1.0, -0.2], [0.2, 1.0], [-0.2, 1.0]])
    >>> W = np.array([[0.8, 0.6], [0.6, 0.8]])  # name vectors almost in the middle
    >>> P = prototype_probabilities(X, W, 5.0)
    >>> moved = prototype_probabilities(X, pool_prototypes(X, P, W, 0.5), 5.0)
    >>> bool(np.all(moved[[0, 1, 2, 3], [0, 0, 1, 1]] > P[[0, 1, 2, 3], [0, 0, 1, 1]]))
    True
    """
    Xn = _unit_rows(np.asarray(X_all, dtype=np.float64))
    centroids = _unit_rows(np.asarray(P, dtype=np.float64).T @ Xn)
    W = (1.0 - float(weight)) * np.asarray(prototypes, dtype=np.float64) + float(weight) * centroids
    return _unit_rows(W)


def prototype_probabilities(X: np.ndarray, prototypes: np.ndarray, scale: float) -> np.ndarray:
    """``softmax(scale · cos(x, prototypes))`` per row: a zero-shot head's probabilities.

    >>> prototype_probabilities(np.array([[2.0, 0.0]]), np.eye(2), np.log(3.0)).round(2).tolist()
    [[0.75, 0.25]]
    """
    return softmax(float(scale) * (_unit_rows(np.asarray(X, dtype=np.float64)) @ prototypes.T), axis=1)


def moved_teacher(
    X_all: np.ndarray, P: np.ndarray, prototypes: np.ndarray, scale: float, weight: float,
    codes: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """A prototype teacher moved toward the pool, unless its first rows' labels prefer it as is.

    ``X_all``'s first ``codes.size`` rows are labelled (class codes ``codes``); ``P`` is the
    teacher ``softmax(scale · cos(x, prototypes))`` on every row. Returns the probabilities
    under :func:`pool_prototypes` at ``weight`` and True, or ``P`` and False when ``weight`` is
    0 or the teacher as given is right on more labelled rows by more than one standard error of
    the paired difference (McNemar; see :func:`~headwise.heads._propagate.clears_noise`).

    >>> X = np.array([[1.0, 0.2], [1.0, -0.2], [0.2, 1.0], [-0.2, 1.0]])
    >>> W = np.array([[0.8, 0.6], [0.6, 0.8]])
    >>> P = prototype_probabilities(X, W, 5.0)
    >>> moved_teacher(X, P, W, 5.0, 0.5, np.array([0, 1]))[1]
    True
    """
    if weight <= 0:
        return P, False
    moved = prototype_probabilities(X_all, pool_prototypes(X_all, P, prototypes, weight), scale)
    n = codes.size
    if clears_noise(P[:n].argmax(axis=1) == codes, moved[:n].argmax(axis=1) == codes):
        return P, False
    return moved, True


def _unit_rows(A: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(n > 0, n, 1.0)
