"""Few-shot evaluation: N labelled rows per class per seed, any head, the full test set.

Also MTEB's classification protocol (``mteb_eval``), reproduced row for row, with headwise heads
scored on the very same sampled rows.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._progress import progress_bar
from .._validation import shown
from ..exceptions import InputError
from ._common import (
    accuracy,
    check_positive_ints,
    check_seeds,
    check_split,
    fresh,
    resolve_heads,
)
from ._results import (
    FewShotCurve,
    FewShotResult,
    MTEBResult,
    RunRecord,
    Summary,
    data_hash,
    head_params,
)

__all__ = [
    "sample_per_class",
    "few_shot_eval",
    "mteb_undersample",
    "mteb_eval",
    "MTEB_SAMPLES_PER_LABEL",
    "mteb_samples_per_label",
]

#: MTEB task metadata that overrides the default of 8 samples per label.
MTEB_SAMPLES_PER_LABEL: dict[str, int] = {"emotion": 16, "amazoncounterfactual": 32}


def mteb_samples_per_label(dataset: str) -> int:
    """MTEB's ``samples_per_label`` for a data set name (8 unless its task metadata says more).

    >>> mteb_samples_per_label("emotion.jsonl.gz"), mteb_samples_per_label("banking77")
    (16, 8)
    """
    stem = dataset.lower().replace("-", "").replace("_", "").split(".")[0]
    for name, n in MTEB_SAMPLES_PER_LABEL.items():
        if stem.startswith(name):
            return n
    return 8


def check_shots(counts: np.ndarray, classes: np.ndarray, shots: int) -> None:
    """Refuse ``shots`` rows per class when a class has fewer (no silent imbalance)."""
    if counts.min() < shots:
        small = shown(classes[int(np.argmin(counts))])
        raise InputError(
            f"{shots} shots per class were asked for, but class {small!r} has only "
            f"{int(counts.min())} training row(s). Use at most {int(counts.min())} shots "
            "(--shots)."
        )


def sample_per_class(y: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Sorted row indices: exactly ``shots`` rows of every class, drawn without replacement.

    The draw depends only on ``(seed, shots)`` and the labels, so every head of one seed sees
    the same rows. A class with fewer than ``shots`` rows is an error (no silent imbalance).

    >>> sample_per_class(np.array([0, 0, 0, 1, 1, 1]), 2, seed=0).size
    4
    """
    y = np.asarray(y)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    check_shots(counts, classes, shots)
    rng = np.random.default_rng([int(seed), int(shots)])
    picks = [rng.choice(np.flatnonzero(codes == c), size=shots, replace=False)
             for c in range(classes.size)]
    return np.sort(np.concatenate(picks))


def few_shot_eval(
    heads: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    shots: Any = (1, 2, 4, 8, 16),
    seeds: Any = 10,
    encoder_key: Mapping[str, Any] | None = None,
    protocol: str = "fewshot",
) -> FewShotResult:
    """Test accuracy of each head fitted on ``shots`` rows per class, for every seed.

    Returns per-seed accuracies, their mean and 95% interval for each (head, shots).

    >>> from headwise.heads import NCMHead
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + np.arange(10)[:, None] * 0.01
    >>> y = np.r_[[0] * 5, [1] * 5]
    >>> r = few_shot_eval({"ncm": NCMHead(metric="euclidean")}, X, y, X, y, shots=[1], seeds=3)
    >>> r.heads["ncm"].mean
    [1.0]
    """
    named = resolve_heads(heads)
    shots_t = check_positive_ints(shots, "shots")
    seeds_t = check_seeds(seeds)
    Xtr, ytr = check_split(X_train, y_train, "train")
    Xte, yte = check_split(X_test, y_test, "test", Xtr.shape[1], seen=ytr)
    classes, counts = np.unique(ytr, return_counts=True)
    check_shots(counts, classes, max(shots_t))  # before any fit, not after the smaller shots
    scores: dict[str, list[list[float]]] = {n: [] for n in named}
    with progress_bar(len(shots_t) * len(seeds_t), f"{protocol}: shots × seeds") as bar:
        for k in shots_t:
            per_head: dict[str, list[float]] = {n: [] for n in named}
            for seed in seeds_t:
                idx = sample_per_class(ytr, k, seed)
                for name, head in named.items():
                    h = fresh(head)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        h.fit(Xtr[idx], ytr[idx])
                        per_head[name].append(accuracy(yte, h.predict(Xte)))
                bar.advance()
            for name in named:
                scores[name].append(per_head[name])
    curves = {n: FewShotCurve(shots_t, tuple(Summary.of(s) for s in scores[n])) for n in named}
    record = RunRecord(
        protocol=protocol, encoder=encoder_key, data_hash=data_hash(Xtr, ytr, Xte, yte),
        seeds=seeds_t, heads={n: head_params(h) for n, h in named.items()},
        settings={"shots": list(shots_t), "sampling": "default_rng([seed, shots]) per class"},
    )
    return FewShotResult(curves, record)


# ---------------------------------------------------------------- MTEB's protocol
def mteb_undersample(
    y: Any, samples_per_label: int = 8, n_experiments: int = 10, seed: int = 42
) -> list[np.ndarray]:
    """The train rows MTEB's classification protocol uses in each of its experiments.

    Mirrors ``AbsTaskClassification._evaluate_subset`` / ``_undersample_data`` of
    embeddings-benchmark/mteb (``mteb/abstasks/AbsTaskClassification.py``, e.g. commit
    029d378b2c17d7e05a4c9c30a17966917cb83a33): one index array ``idxs = np.arange(n)`` is
    created once and shuffled **in place** at the start of every experiment (so the shuffles
    compose), by numpy's legacy global RNG seeded once with the task seed 42 in
    ``AbsTask.__init__`` (``np.random.seed(42)``; later versions use the equivalent
    ``self.np_rng = np.random.RandomState(42)``). The rows kept are the first
    ``samples_per_label`` of each label in shuffled order, in that order.
    ``n_experiments`` defaults to 10 and ``samples_per_label`` to 8 (16 for Emotion, 32 for
    AmazonCounterfactual, from their task metadata).
    """
    y = np.asarray(y)
    rng = np.random.RandomState(seed)
    idxs = np.arange(len(y))
    out = []
    for _ in range(n_experiments):
        rng.shuffle(idxs)
        counter: dict[Any, int] = defaultdict(int)
        picked = []
        for i in idxs:
            label = y[i].item() if hasattr(y[i], "item") else y[i]
            if counter[label] < samples_per_label:
                picked.append(int(i))
                counter[label] += 1
        out.append(np.asarray(picked, dtype=np.int64))
    return out


def mteb_eval(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    samples_per_label: int = 8,
    n_experiments: int = 10,
    seed: int = 42,
    heads: Any = (),
    encoder_key: Mapping[str, Any] | None = None,
) -> MTEBResult:
    """MTEB's classification score, plus headwise ``heads`` on the very same sampled rows.

    Per experiment: the rows of :func:`mteb_undersample`, ``sklearn LogisticRegression(
    random_state=42, max_iter=100)`` (MTEB's ``logRegClassificationEvaluator``; its
    ``n_jobs=-1`` does not change the result), accuracy on the full test split. The score is the
    mean over experiments, reported as ``"mteb-logreg"``.
    """
    from sklearn.linear_model import LogisticRegression

    Xtr, ytr = check_split(X_train, y_train, "train")
    Xte, yte = check_split(X_test, y_test, "test", Xtr.shape[1], seen=ytr)
    named = resolve_heads(heads) if heads else {}
    samples = mteb_undersample(ytr, samples_per_label, n_experiments, seed)
    scores: dict[str, list[float]] = {"mteb-logreg": [], **{n: [] for n in named}}
    for idx in samples:
        clf = LogisticRegression(random_state=seed, max_iter=100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=100 often stops before convergence, as in MTEB
            clf.fit(Xtr[idx], ytr[idx])
            scores["mteb-logreg"].append(accuracy(yte, clf.predict(Xte)))
            for name, head in named.items():
                h = fresh(head).fit(Xtr[idx], ytr[idx])
                scores[name].append(accuracy(yte, h.predict(Xte)))
    record = RunRecord(
        protocol="mteb", encoder=encoder_key, data_hash=data_hash(Xtr, ytr, Xte, yte),
        seeds=(seed,),
        heads={"mteb-logreg": {"random_state": seed, "max_iter": 100},
               **{n: head_params(h) for n, h in named.items()}},
        settings={"samples_per_label": samples_per_label, "n_experiments": n_experiments,
                  "rng": f"np.random.RandomState({seed}).shuffle(idxs) in place per experiment"},
    )
    return MTEBResult(samples_per_label, n_experiments,
                      {n: Summary.of(s) for n, s in scores.items()},
                      tuple(tuple(int(i) for i in s) for s in samples), record)
