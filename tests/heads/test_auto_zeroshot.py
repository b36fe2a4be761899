"""AutoHead's zero-shot prior: the class names' prompts compete as one more candidate, scored
exactly (the zero-shot head reads no row), weighed by the same evidence and gate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from headwise.heads import ZeroShotHead, load_head, save_head
from headwise.heads._auto import AutoHead
from headwise.heads._ensemble import fit_temperature, mean_log_loss

NAMES = ("apple", "river", "engine", "violin")


class WordEncoder:
    """Embeds a text as the sum of fixed random directions of the words it knows; counts calls."""

    name = "words"

    def __init__(self, words=NAMES, d=120, seed=0):
        rng = np.random.default_rng(seed)
        self.dirs = {w: v / np.linalg.norm(v) for w, v in zip(words, rng.normal(size=(len(words), d)),
                                                                strict=True)}
        self.dim = d
        self.calls = 0

    def encode(self, texts, **_):
        self.calls += 1
        out = np.zeros((len(texts), self.dim))
        for i, t in enumerate(texts):
            seed = sum(map(ord, t))  # deterministic filler, so unknown words still embed
            out[i] = 1e-3 * np.random.default_rng(seed).normal(size=self.dim)
            for w in str(t).replace(".", " ").split():
                out[i] += self.dirs.get(w, 0.0)
        return out


def _rows(enc, n_per_class, seed, n_test=800, signal=1.5):
    """Rows near their class name's direction, in much noise: few rows learn little, the
    names say a lot."""
    rng = np.random.default_rng(seed)
    D = np.array([enc.dirs[w] for w in NAMES])
    y = np.repeat(np.arange(len(NAMES)), n_per_class)
    yt = rng.integers(0, len(NAMES), n_test)
    draw = lambda lab: signal * D[lab] + rng.normal(size=(lab.size, enc.dim)) * 0.6  # noqa: E731
    return draw(y), y, draw(yt), yt


FAST = {"logistic": {"C": 1.0}}


def test_the_zero_shot_prior_enters_where_the_class_names_describe_the_classes():
    enc = WordEncoder()
    X, y, Xt, yt = _rows(enc, 10, seed=1)
    names = np.array(NAMES)
    without = AutoHead().fit(X, names[y])
    with_names = AutoHead(encoder=enc).fit(X, names[y])
    assert "zeroshot" in with_names.scores_ and "zeroshot" not in without.scores_
    assert "zeroshot" in with_names.members_
    assert with_names.evidence_ > 2.0
    assert np.mean(with_names.predict(Xt) == names[yt]) > np.mean(without.predict(Xt) == names[yt]) + 0.05


def test_its_held_out_logits_are_its_logits_and_the_names_are_embedded_once():
    enc = WordEncoder()
    X, y, *_ = _rows(enc, 10, seed=2)
    labels = np.array(NAMES)[y]
    head = AutoHead(encoder=enc, candidates=("ncm", "logistic"), candidate_params=FAST).fit(X, labels)
    # k-fold refits would embed the prompts once per fold: the zero-shot head is fitted once
    assert enc.calls == 1
    zs = ZeroShotHead(WordEncoder(), class_names=list(NAMES)).fit(X, y)
    z = zs.logits(X)
    T = fit_temperature(z, y)
    assert head.log_losses_["zeroshot"] == pytest.approx(mean_log_loss(log_softmax(T * z, axis=1), y),
                                                         rel=1e-6)
    assert head.n_eval_rows_ == y.size


def test_names_that_say_nothing_get_no_weight():
    enc = WordEncoder()
    X, y, *_ = _rows(enc, 10, seed=3)
    codes = np.array(["ABBR", "DESC", "ENTY", "HUM"])  # words the encoder does not know
    head = AutoHead(encoder=enc).fit(X, codes[y])
    assert "zeroshot" in head.scores_ and "zeroshot" not in head.members_


def test_names_on_the_wrong_classes_get_no_weight():
    enc = WordEncoder()
    X, y, Xt, yt = _rows(enc, 10, seed=8)
    wrong = {a: b for a, b in zip(NAMES, np.roll(NAMES, 1), strict=True)}  # another's name
    labels = np.array(NAMES)[y]
    head = AutoHead(encoder=enc, class_names=wrong).fit(X, labels)
    assert "zeroshot" in head.scores_ and "zeroshot" not in head.members_
    plain = AutoHead().fit(X, labels)
    np.testing.assert_array_equal(head.predict(Xt), plain.predict(Xt))


def test_labels_that_are_numbers_add_no_zero_shot_candidate():
    enc = WordEncoder()
    X, y, *_ = _rows(enc, 10, seed=4)
    head = AutoHead(encoder=enc).fit(X, y)
    assert "zeroshot" not in head.scores_ and enc.calls == 0
    listed = AutoHead(encoder=enc, candidates=("lda", "zeroshot")).fit(X, y)
    assert "zeroshot" in listed.scores_  # listed by the user: kept


@pytest.mark.parametrize("as_mapping", [True, False])
def test_class_names_name_the_labels_not_the_codes(as_mapping):
    enc = WordEncoder()
    X, y, Xt, yt = _rows(enc, 10, seed=5)
    lab = np.array([7, 3, 5, 1])  # rows of class i lie along NAMES[i], label lab[i]
    labels = lab[y]
    by_label = {7: "apple", 3: "river", 5: "engine", 1: "violin"}
    names = by_label if as_mapping else [by_label[k] for k in sorted(by_label)]
    head = AutoHead(encoder=enc, class_names=names).fit(X, labels)
    zs = head.estimators_[head.members_.index("zeroshot")]
    assert zs.class_names == ["violin", "river", "engine", "apple"]
    # the member sees codes 0..3, which stand for the sorted labels 1, 3, 5, 7
    assert np.mean(zs.predict(Xt) == np.searchsorted([1, 3, 5, 7], lab[yt])) > 0.9
    assert np.mean(head.predict(Xt) == lab[yt]) > 0.9


def test_save_load_round_trip_keeps_the_zero_shot_member(tmp_path):
    enc = WordEncoder()
    X, y, Xt, _ = _rows(enc, 10, seed=6)
    head = AutoHead(encoder=enc).fit(X, np.array(NAMES)[y])
    assert "zeroshot" in head.members_
    loaded = load_head(save_head(head, tmp_path / "auto.safetensors"))
    assert loaded.members_ == head.members_
    assert loaded.get_params()["encoder"] == "words"  # an encoder is saved by its name
    np.testing.assert_array_equal(loaded.logits(Xt), head.logits(Xt))


def test_a_zero_shot_head_fitted_with_an_encoder_object_saves(tmp_path):
    enc = WordEncoder()
    X, y, *_ = _rows(enc, 5, seed=7)
    head = ZeroShotHead(enc).fit(X, np.array(NAMES)[y])
    loaded = load_head(save_head(head, tmp_path / "zs.safetensors"))
    assert loaded.get_params()["encoder"] == "words"
    np.testing.assert_array_equal(loaded.predict(X), head.predict(X))


def test_the_zero_shot_candidate_takes_candidate_params():
    enc = WordEncoder()
    X, y, *_ = _rows(enc, 10, seed=9)
    labels = np.array(NAMES)[y]
    head = AutoHead(encoder=enc, candidate_params={"zeroshot": {"templates": ("{}",)}}).fit(X, labels)
    assert head.params_["zeroshot"]["templates"] == ["{}"]
    with pytest.raises(Exception, match="candidate_params names \\['zeroshot'\\]"):
        AutoHead(candidate_params={"zeroshot": {"templates": ("{}",)}}).fit(X, labels)
