"""Token-level heads (attentive, moment): their own contract, and synthetic tasks where mean
pooling fails but attention (label in one token) or moments (label in the covariance) succeed.

sklearn's ``parametrize_with_checks`` feeds (n, d) arrays, which these heads refuse by design,
so test_common.py leaves them out and this module checks the same promises on token inputs.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from headwise.encoders import TokenEmbeddings
from headwise.exceptions import InputError
from headwise.heads import (
    AttentiveProbeHead,
    LDAHead,
    MomentProbeHead,
    from_padded,
    get_head,
    is_token_head,
    list_heads,
    load_head,
    save_head,
)

TOKEN_HEADS = ["attentive", "moment"]
FAST = {"attentive": {"max_epochs": 40, "n_queries": 2, "key_dim": 16}, "moment": {"rank": 4}}


def make(name: str, **kw):
    return get_head(name, **{**FAST[name], **kw})


def one_token_task(n: int, seed: int, d: int = 8):
    """The label is the sign of feature 1 on the one token whose feature 0 is a marker (+4).

    Every other token carries a random ±2 in feature 1, so the mean over tokens barely moves
    with the label: mean pooling is near chance, attention to the marker token is near perfect.
    """
    rng = np.random.default_rng(seed)
    X, y = [], rng.integers(0, 2, n)
    for label in y:
        t = int(rng.integers(8, 16))
        x = rng.normal(scale=0.5, size=(t, d))
        x[:, 1] = rng.choice([-2.0, 2.0], size=t)
        pos = int(rng.integers(t))
        x[pos, 0] = 4.0
        x[pos, 1] = 2.0 if label else -2.0
        X.append(x)
    return X, y


def covariance_task(n: int, seed: int, d: int = 6):
    """Tokens are zero-mean Gaussians; features 0 and 1 correlate +0.9 (class 1) or -0.9 (0)."""
    rng = np.random.default_rng(seed)
    X, y = [], rng.integers(0, 2, n)
    for label in y:
        cov = np.eye(d)
        cov[0, 1] = cov[1, 0] = 0.9 if label else -0.9
        X.append(rng.multivariate_normal(np.zeros(d), cov, size=int(rng.integers(10, 20))))
    return X, y


def mean_pool(X):
    return np.stack([x.mean(axis=0) for x in X])


@pytest.fixture(scope="module")
def task():
    """Three-class tokens with separable means, for the contract tests."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=2.0, size=(3, 8))
    y = np.repeat(np.arange(3), 20)
    X = [centres[c] + rng.normal(size=(int(rng.integers(3, 9)), 8)) for c in y]
    Xt = [centres[c] + rng.normal(size=(5, 8)) for c in np.repeat(np.arange(3), 5)]
    return X, np.array(["ant", "bee", "cat"])[y], Xt


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_registered_as_token_heads(name):
    assert name in list_heads() and is_token_head(name)
    assert not is_token_head("lda")


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_predictions_shape_and_classes(name, task):
    X, y, Xt = task
    head = make(name).fit(X, y)
    assert head.classes_.tolist() == ["ant", "bee", "cat"] and head.n_features_in_ == 8
    z = head.logits(Xt)
    assert z.shape == (15, 3)
    np.testing.assert_array_equal(head.predict(Xt), head.classes_[z.argmax(axis=1)])
    np.testing.assert_allclose(head.predict_proba(Xt).sum(axis=1), 1.0)
    assert head.decision_function(Xt).shape == (15, 3)
    assert head.score(X, y) > 0.9


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_input_formats_agree(name, task):
    X, y, Xt = task
    head = make(name).fit(X, y)
    lengths = [len(x) for x in Xt]
    offsets = np.r_[0, np.cumsum(lengths)]
    te = TokenEmbeddings(np.concatenate(Xt).astype(np.float32), offsets)
    padded = np.stack(Xt)  # every test example has 5 tokens
    ref = head.logits([x.astype(np.float32) for x in Xt])
    np.testing.assert_allclose(head.logits(te), ref, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(head.logits(padded.astype(np.float32)), ref, rtol=1e-6, atol=1e-8)
    extra = np.concatenate([padded, np.full((15, 3, 8), 99.0)], axis=1)  # padding ignored
    np.testing.assert_allclose(
        head.logits(from_padded(extra.astype(np.float32), np.full(15, 5))), ref, rtol=1e-6, atol=1e-8
    )


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_binary_decision_function(name):
    X, y = covariance_task(60, 0)
    head = make(name).fit(X, y)
    z = head.logits(X)
    np.testing.assert_allclose(head.decision_function(X), z[:, 1] - z[:, 0])


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_pickle_round_trip(name, task):
    X, y, Xt = task
    head = make(name).fit(X, y)
    clone = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(clone.logits(Xt), head.logits(Xt))


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_save_load_identical_logits(name, task, tmp_path):
    X, y, Xt = task
    head = make(name).fit(X, y)
    key = {"id": "hash:test", "pooling": "tokens"}
    loaded = load_head(save_head(head, tmp_path / "h.safetensors", encoder_key=key), expected_encoder_key=key)
    assert type(loaded) is type(head)
    np.testing.assert_array_equal(loaded.classes_, head.classes_)
    np.testing.assert_array_equal(loaded.logits(Xt), head.logits(Xt))


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_refit_is_reproducible(name, task):
    X, y, Xt = task
    a = make(name).fit(X, y).logits(Xt)
    b = make(name).fit(X, y).logits(Xt)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_inputs_not_mutated(name, task):
    X, y, Xt = task
    X32 = [x.astype(np.float32) for x in X]
    copies = [x.copy() for x in X32]
    te = TokenEmbeddings(np.concatenate(Xt).astype(np.float32), np.arange(16) * 5)
    te_copy = te.vectors.copy()
    y_copy = y.copy()
    head = make(name).fit(X32, y)
    head.predict_proba(te)
    for a, b in zip(X32, copies, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(te.vectors, te_copy)
    np.testing.assert_array_equal(y, y_copy)


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_feature_count_mismatch(name, task):
    X, y, Xt = task
    head = make(name).fit(X, y)
    with pytest.raises(InputError, match="expecting 8 features") as info:
        head.predict([x[:, :5] for x in Xt])
    assert "different encoder" in str(info.value)


@pytest.mark.parametrize("name", TOKEN_HEADS)
def test_bad_inputs_refused(name, task):
    X, y, _ = task
    with pytest.raises(InputError, match="pooling='tokens'"):
        make(name).fit(np.zeros((60, 8)), y)
    with pytest.raises(InputError, match="no tokens"):
        make(name).fit([np.zeros((0, 8))] + X[1:], y)
    bad = [x.copy() for x in X]
    bad[4][1, 2] = np.nan
    with pytest.raises(InputError, match="NaN.*example 4"):
        make(name).fit(bad, y)
    with pytest.raises(InputError, match="class"):
        make(name).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(InputError, match="rows but y has"):
        make(name).fit(X, y[:-1])
    with pytest.raises(NotFittedError):
        make(name).predict(X)


def test_param_errors():
    X, y = covariance_task(20, 0)
    with pytest.raises(InputError, match="'rank' parameter"):
        MomentProbeHead(rank=0).fit(X, y)
    with pytest.raises(InputError, match="'projection' parameter"):
        MomentProbeHead(projection="svd").fit(X, y)
    with pytest.raises(InputError, match="'n_queries' parameter"):
        AttentiveProbeHead(n_queries=0).fit(X, y)
    with pytest.raises(InputError, match="'validation_fraction' parameter"):
        AttentiveProbeHead(validation_fraction=1.5).fit(X, y)


def test_attention_beats_mean_pooling_when_one_token_carries_the_label():
    X, y = one_token_task(400, seed=0)
    Xt, yt = one_token_task(200, seed=1)
    pooled = LDAHead().fit(mean_pool(X), y).score(mean_pool(Xt), yt)
    head = AttentiveProbeHead(n_queries=2, key_dim=16, max_epochs=60).fit(X, y)
    attentive = head.score(Xt, yt)
    assert pooled < 0.75
    assert attentive > 0.9
    # It learned where to look: most weight on the marker token.
    weights = head.attention(Xt[:20])
    hits = [np.argmax(w.max(axis=1)) == np.argmax(x[:, 0]) for w, x in zip(weights, Xt[:20], strict=True)]
    assert np.mean(hits) > 0.8


@pytest.mark.parametrize("projection", ["pca", "random"])
def test_moments_beat_mean_pooling_when_the_covariance_carries_the_label(projection):
    X, y = covariance_task(300, seed=0)
    Xt, yt = covariance_task(200, seed=1)
    pooled = LDAHead().fit(mean_pool(X), y).score(mean_pool(Xt), yt)
    moment = MomentProbeHead(rank=6, projection=projection).fit(X, y).score(Xt, yt)
    assert pooled < 0.65
    assert moment > 0.9


def test_moment_with_logistic_head_and_no_mean():
    X, y = covariance_task(200, seed=0)
    head = MomentProbeHead(
        rank=4, head="logistic", head_params={"C": 1.0}, include_mean=False
    ).fit(X, y)
    assert head.head_.coef_.shape == (2, 10)  # 4 * 5 / 2 covariance features only
    assert head.score(*covariance_task(100, seed=3)) > 0.9


def test_moment_features_match_numpy():
    from headwise.heads._moment import moment_features
    from headwise.heads._tokens import check_tokens

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(t, 5)) for t in (1, 4, 7)]
    P = rng.normal(size=(5, 3))
    c = rng.normal(size=5)
    got = moment_features(check_tokens(X, "t"), c, P)
    iu = np.triu_indices(3)
    for row, x in zip(got, X, strict=True):
        z = (x - c) @ P
        cov = np.cov(z.T, bias=True).reshape(3, 3) if len(x) > 1 else np.zeros((3, 3))
        np.testing.assert_allclose(row, np.r_[x.mean(axis=0), cov[iu]], atol=1e-12)
