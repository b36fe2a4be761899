from __future__ import annotations

import numpy as np
import pytest

from headwise.encoders import HashEncoder
from headwise.exceptions import InputError
from headwise.heads import BlendHead, ZeroShotHead
from headwise.protocols import zero_shot_eval


class FakeCLIP:
    """Image-text model stand-in: images are vectors near their class's text embedding."""

    name = "fake-clip"
    dim = 16
    pooling = "mean"

    def __init__(self) -> None:
        self.text_calls: list[list[str]] = []
        self._text = HashEncoder(dim=16)

    def key(self):
        return {"id": self.name}

    def encode_text(self, texts):
        self.text_calls.append(list(texts))
        return self._text.encode([t.split(" of ")[-1] for t in texts])

    def encode(self, inputs, **kw):  # images: not used for the prompts
        raise AssertionError("class prompts must go through encode_text")


def test_zero_shot_uses_encode_text_and_template_ensemble():
    enc = FakeCLIP()
    templates = ("a photo of {}", "a drawing of {}")
    head = ZeroShotHead(enc, templates=templates).fit_names(["cat", "dog"])
    assert enc.text_calls == [["a photo of cat", "a drawing of cat", "a photo of dog",
                               "a drawing of dog"]]
    rng = np.random.default_rng(0)
    imgs = enc._text.encode(["cat", "dog"] * 10) + 0.05 * rng.normal(size=(20, 16))
    assert head.predict(imgs).tolist() == ["cat", "dog"] * 10


def test_zero_shot_with_hash_text_encoder_and_names():
    enc = HashEncoder(dim=64)
    X = enc.encode(["card arrival", "lost card", "card arrival"])
    res = zero_shot_eval(enc, X, ["card_arrival", "lost_card", "card_arrival"], templates=("{}",))
    assert res.accuracy == 1.0 and res.class_names == ("card arrival", "lost card")
    head = ZeroShotHead(enc, class_names={"a": "lost card", "b": "card arrival"},
                        templates=("{}",)).fit(X, ["b", "a", "b"])
    assert head.predict(X).tolist() == ["b", "a", "b"]


def test_zero_shot_refuses_other_width_and_no_encoder():
    enc = HashEncoder(dim=64)
    with pytest.raises(InputError, match="features"):
        ZeroShotHead(enc).fit(np.zeros((4, 8)), [0, 1, 0, 1])
    with pytest.raises(InputError, match="needs an encoder"):
        ZeroShotHead().fit(np.zeros((4, 8)), [0, 1, 0, 1])


def test_blend_moves_from_zero_shot_toward_data():
    enc = HashEncoder(dim=32)
    names = ["alpha", "beta"]
    W0 = ZeroShotHead(enc, templates=("{}",)).fit_names(names).coef_
    rng = np.random.default_rng(0)
    # the data disagree with the names: class "alpha" lives near "beta"'s prompt and vice versa
    def rows(n):
        y = np.array(["alpha", "beta"] * n)
        X = np.where((y == "alpha")[:, None], W0[1], W0[0]) + 0.05 * rng.normal(size=(2 * n, 32))
        return X, y

    X1, y1 = rows(1)
    X50, y50 = rows(50)
    Xt, yt = rows(50)
    few = BlendHead(enc, templates=("{}",), prior_strength=1.0).fit(X1, y1)
    many = BlendHead(enc, templates=("{}",), prior_strength=1.0).fit(X50, y50)
    d_few = np.linalg.norm(few.coef_ - few.zero_shot_coef_)
    d_many = np.linalg.norm(many.coef_ - many.zero_shot_coef_)
    assert d_many > d_few
    assert np.mean(many.predict(Xt) == yt) == 1.0
    plain = BlendHead().fit(X50, y50)  # no encoder: plain logistic on normalised rows
    assert np.mean(plain.predict(Xt) == yt) == 1.0
