"""Shared helpers for the head tests (importable, unlike conftest)."""

from __future__ import annotations

from typing import Any

import numpy as np

from headwise.heads import get_head, get_head_class, is_multilabel_head, is_token_head, list_heads

# Small, fast settings per registered head; keys a head does not take are dropped, so the
# contract tests keep working while heads evolve.
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "ridge": {"alphas": (0.1, 1.0, 10.0)},
    "knn": {"n_neighbors": 5},
    "logistic": {"C": 1.0, "max_iter": 100},
    "rpridge": {"n_components": 64, "alphas": (0.1, 1.0, 10.0)},
    "mlridge": {"alphas": (0.1, 1.0, 10.0)},
    "logitadjust": {"base": "lda"},
    # The two gradient-trained heads dominate the contract tests' time: a larger step and fewer
    # epochs reach the same accuracies on the toy and sklearn check data (checked: >= 0.92).
    "fourier": {"max_epochs": 40, "n_frequencies": 4, "lr": 0.05},
    "mlp": {"param_grid": {}, "width": 32, "lr": 0.05, "max_epochs": 15, "patience": 5, "device": "cpu"},
    "mllogistic": {"max_iter": 100},
    "mlknn": {"n_neighbors": 5},
}

# Heads that embed class names with an encoder (tested in tests/protocols/test_zero_shot.py with
# fake encoders); sklearn's generic checks feed them arbitrary widths no encoder produces.
ENCODER_HEADS = frozenset({"zeroshot", "blend"})


def contract_heads() -> list[str]:
    """Registered heads that go through the registry-wide contract tests on (n, d) rows.

    Token-level heads (attentive, moment) take per-token features and have their own contract
    tests in test_token_heads.py; multi-label heads (mlridge, ...) predict label sets and have
    theirs in test_multilabel_contract.py.
    """
    return [
        n for n in list_heads()
        if n not in ENCODER_HEADS and not is_token_head(n) and not is_multilabel_head(n)
    ]  # fmt: skip


def multilabel_heads() -> list[str]:
    """Registered multi-label heads (contract tests in test_multilabel_contract.py)."""
    return [n for n in list_heads() if is_multilabel_head(n)]


def fast_params(name: str) -> dict[str, Any]:
    accepted = get_head_class(name)().get_params(deep=False)
    return {k: v for k, v in FAST_PARAMS.get(name, {}).items() if k in accepted}


def make_head(name: str, **overrides: Any) -> Any:
    return get_head(name, **{**fast_params(name), **overrides})


def toy_blobs(
    n_per_class: int = 30,
    n_features: int = 8,
    n_classes: int = 3,
    *,
    seed: int = 0,
    noise_seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Separated Gaussian blobs with an offset (embeddings are rarely centred).

    ``seed`` fixes the centres; ``noise_seed`` draws other rows around the same centres.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(n_classes, n_features))
    if noise_seed is not None:
        rng = np.random.default_rng([seed, noise_seed])
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = centers[y] + rng.normal(size=(y.size, n_features)) + 1.5
    perm = rng.permutation(y.size)
    return X[perm], y[perm]
