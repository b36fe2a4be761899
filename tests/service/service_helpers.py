"""Helpers for the service tests: small heads on the `hash` encoder, a batch-refit oracle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from headwise.encoders import get_encoder
from headwise.heads import LDAHead, LogisticHead, NCMHead
from headwise.trust import TrustCalibration, save_calibrated_head

TOKEN = "s3cret-token"
WORDS = {
    "card": "card declined payment atm swallowed pin charge",
    "travel": "flight hotel booking airport luggage trip train",
    "food": "pizza pasta recipe dinner cheese soup bread",
}


def toy_texts(n_per_class: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in WORDS.items():
        vocab = words.split()
        for _ in range(n_per_class):
            texts.append(" ".join(rng.choice(vocab, size=4)) + f" {rng.integers(1000)}")
            labels.append(label)
    return texts, labels


def make_models(folder: Path) -> dict[str, Any]:
    """``intents`` (calibrated LDA), ``plain`` (NCM, no calibration), ``frozen`` (logistic)."""
    enc = get_encoder("hash")
    texts, labels = toy_texts(30)
    X, y = enc.encode(texts), np.array(labels)
    fit, cal = np.arange(len(y)) % 5 != 0, np.arange(len(y)) % 5 == 0
    spec = {"spec": "hash", "options": {}}
    lda = LDAHead(shrinkage=0.2).fit(X[fit], y[fit])
    lda.encoder_spec_ = spec
    calib = TrustCalibration(1.0, X[cal].astype(np.float64), y[cal], np.full(cal.sum(), 0.5),
                             {"calib_frac": 0.2})  # fmt: skip
    save_calibrated_head(lda, folder / "intents.safetensors", calib, encoder_key=enc.key())
    ncm = NCMHead().fit(X, y)
    ncm.encoder_spec_ = spec
    ncm.save(folder / "plain.safetensors", encoder_key=enc.key())
    logit = LogisticHead(max_iter=50).fit(X, y)
    logit.encoder_spec_ = spec
    logit.save(folder / "frozen.safetensors", encoder_key=enc.key())
    return {"X_fit": X[fit], "y_fit": y[fit], "X": X, "y": y}


def refit_logits(base_X: np.ndarray, base_y: np.ndarray, rows: list[tuple[np.ndarray, Any]],
                 probe: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Classes and logits of a batch refit of the `intents` LDA on the base rows plus ``rows``."""
    X = np.vstack([base_X, *[x[None, :] for x, _ in rows]]) if rows else base_X
    y = np.concatenate([base_y, np.array([lab for _, lab in rows], dtype=object)]).astype(str)
    head = LDAHead(shrinkage=0.2).fit(X, y)
    return head.classes_.tolist(), head.logits(probe)


AUTH = {"Authorization": f"Bearer {TOKEN}"}
