"""Images as cacheable items, and loading them from a folder, a zip or arrays (.npy/.npz)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError, MissingDependencyError
from ._common import MediaTable, Skipped, check_on_error, finish, layout, npz_arrays, walk_files

__all__ = ["ImageItem", "load_images", "as_image_items", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
_NPZ_PAIRS = (("x_train", "y_train", "train"), ("x_val", "y_val", "validation"),
              ("x_valid", "y_valid", "validation"), ("x_test", "y_test", "test"))  # fmt: skip
_IMAGE_KEYS = ("images", "x", "X", "data", "arr_0")
_LABEL_KEYS = ("labels", "label", "y", "targets", "target")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingDependencyError(
            f"Reading image files needs Pillow ({exc}). pip install 'headwise[vision]'"
        ) from exc
    return Image


_WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def to_rgb(im: Any) -> Any:
    """An opened PIL image as 8-bit RGB, upright, with its full tonal range.

    The EXIF orientation is applied (a phone photo tagged "rotate 90°" was embedded sideways).
    16-bit images are scaled by 255/65535, float images from [0, 1] (or their own range when
    they leave it): ``convert("RGB")`` clipped them, so every 16-bit PNG became one white image
    and every float TIFF one black image, all with the same embedding.
    """
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(im)
    if im.mode not in _WIDE_MODES:
        return im.convert("RGB")
    a = np.asarray(im, dtype=np.float64)
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if im.mode == "F" and 0.0 <= lo and hi <= 1.0:
        scaled = a * 255.0
    elif im.mode != "F" and 0.0 <= lo and hi <= 65535.0:
        scaled = a * (255.0 / 65535.0)
    else:  # values beyond the usual range: the image's own range
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    gray = np.clip(np.nan_to_num(scaled), 0, 255).round().astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


@dataclass(frozen=True, eq=False)
class ImageItem:
    """One image: encoded file bytes (``data``) or a pixel array (``array``), plus where it came from.

    ``cache_digest()`` hashes the content (not the path), so the same pixels or bytes hit the same
    cache entry wherever they live.

    Examples
    --------
    >>> item = ImageItem.from_array(np.zeros((4, 4), np.uint8), source="zeros")
    >>> item.to_pil().size, item.to_pil().mode
    ((4, 4), 'RGB')
    """

    source: str  # file path, "archive.zip:member" or "file.npz:x_train[3]"
    data: bytes | None = None  # encoded file (JPEG, PNG, ...)
    array: np.ndarray | None = None  # uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)

    @classmethod
    def from_array(cls, array: Any, *, source: str = "<array>") -> ImageItem:
        a = np.asarray(array)
        if 0 in a.shape:  # before the range check, which has no min of nothing
            raise InputError(f"Image {source} has no pixels (shape {a.shape}).")
        if a.dtype != np.uint8:
            if not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
                raise InputError(
                    f"Image {source} must be uint8 in [0, 255] or float in [0, 1]; got dtype "
                    f"{a.dtype} with range [{a.min()}, {a.max()}]."
                )
            a = np.round(a * 255).astype(np.uint8)
        if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (1, 3, 4))) or 0 in a.shape:
            raise InputError(
                f"Image {source} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                f"got {a.shape}."
            )
        return cls(source=source, array=a)

    def cache_digest(self) -> bytes:
        """sha256 of the content; the embedding store hashes this instead of text."""
        h = hashlib.sha256()
        if self.data is not None:
            h.update(b"image-bytes\0")
            h.update(self.data)
        else:
            assert self.array is not None
            a = np.ascontiguousarray(self.array)
            h.update(f"image-array\0{a.dtype.str}\0{a.shape}\0".encode())
            h.update(a.data)
        return h.digest()

    def to_pil(self) -> Any:
        """Decode to an RGB PIL image; a file that cannot be decoded raises naming the file."""
        Image = _pil()
        if self.data is None:
            assert self.array is not None
            a = self.array[..., 0] if self.array.ndim == 3 and self.array.shape[2] == 1 else self.array
            return Image.fromarray(np.ascontiguousarray(a)).convert("RGB")
        try:
            with Image.open(io.BytesIO(self.data)) as im:
                im.load()
                return to_rgb(im)
        except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... per format
            raise InputError(
                f"Cannot decode image {self.source}: {type(exc).__name__}: {exc}. "
                "Remove or fix the file, or pass --on-error skip to leave it out."
            ) from None

    def __repr__(self) -> str:
        return f"ImageItem({self.source!r})"


def as_image_items(inputs: Any) -> list[ImageItem]:
    """Accept ImageItems, PIL images, uint8 arrays or file paths; return ImageItems."""
    if isinstance(inputs, str | bytes | np.ndarray) and not (
        isinstance(inputs, np.ndarray) and inputs.ndim == 4
    ):
        raise InputError(
            f"inputs must be a sequence of images, got a single {type(inputs).__name__}; wrap it in a list."
        )
    items = []
    for i, x in enumerate(inputs):
        if isinstance(x, ImageItem):
            items.append(x)
        elif isinstance(x, np.ndarray):
            items.append(ImageItem.from_array(x, source=f"<array {i}>"))
        elif isinstance(x, str | Path):
            p = Path(x)
            if not p.is_file():
                raise InputError(f"Image file {p} does not exist.")
            items.append(ImageItem(source=str(p), data=p.read_bytes()))
        elif hasattr(x, "convert") and hasattr(x, "size"):  # a PIL image
            items.append(ImageItem.from_array(np.asarray(to_rgb(x)), source=f"<PIL image {i}>"))
        else:
            raise InputError(
                f"Input {i} is a {type(x).__name__}; image encoders take ImageItem, PIL images, "
                "uint8 arrays or file paths (headwise.media.load_images reads a dataset)."
            )
    if not items:
        raise InputError("inputs is empty; there is nothing to embed. Pass at least one image.")
    return items


def load_images(path: str | Path, *, on_error: str = "fail") -> MediaTable:
    """Load labelled images from a folder, a zip of one, or an ``.npy``/``.npz`` of arrays.

    Folders (and zips) follow the ImageFolder layout: ``<class>/<image>``, optionally under
    ``train/``, ``validation/`` or ``test/`` folders, which become splits. ``.npz`` files hold
    ``x_train``/``y_train`` (and ``x_test``/``y_test``...) or ``images``/``labels``; grayscale
    images are repeated to three channels when encoded.

    Every file is decoded once here, so a corrupt or unreadable image raises an
    :class:`~headwise.exceptions.InputError` naming it (``on_error="fail"``, the default) or is
    left out and listed in ``skipped`` (``on_error="skip"``).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> np.savez(d / "tiny.npz", images=np.zeros((2, 8, 8), np.uint8), labels=np.array([0, 1]))
    >>> t = load_images(d / "tiny.npz")
    >>> len(t), t.labels.tolist(), t.splits
    (2, [0, 1], None)
    """
    on_error = check_on_error(on_error)
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path} does not exist; expected an image folder, a .zip, .npy or .npz.")
    if path.is_file() and path.suffix.lower() in (".npz", ".npy"):
        return _load_arrays(path)
    if not path.is_dir() and path.suffix.lower() != ".zip":
        raise InputError(
            f"Cannot read images from {path.name}: expected a folder, a .zip, .npy or .npz."
        )
    Image = _pil()
    items: list[ImageItem] = []
    parts_kept: list[tuple[str, ...]] = []
    skipped: list[Skipped] = []
    ignored: list[Skipped] = []
    for parts, source, read in walk_files(path):
        if Path(parts[-1]).suffix.lower() not in IMAGE_EXTENSIONS:
            ignored.append(Skipped(source, "not an image file extension"))
            continue
        try:
            data = read()  # OSError: a broken link, a FIFO, an encrypted or damaged zip member
            with Image.open(io.BytesIO(data)) as im:
                im.load()
        except Exception as exc:  # PIL's errors differ per format
            reason = f"{type(exc).__name__}: {exc}"
            if on_error == "fail":
                raise InputError(
                    f"Cannot decode image {source}: {reason}. Remove or fix the file, or pass "
                    "--on-error skip (on_error='skip') to leave unreadable files out."
                ) from None
            skipped.append(Skipped(source, reason))
            continue
        items.append(ImageItem(source=source, data=data))
        parts_kept.append(parts)
    return finish(path, items, layout(parts_kept, path), modality="image", column="image",
                  skipped=skipped, ignored=ignored)  # fmt: skip


def _load_arrays(path: Path) -> MediaTable:
    arrays = npz_arrays(path)
    items: list[ImageItem] = []
    labels: list[Any] = []
    splits: list[str] = []
    pairs = [(x, y, s) for x, y, s in _NPZ_PAIRS if x in arrays]
    if not pairs:
        x_key = next((k for k in _IMAGE_KEYS if k in arrays), None)
        if x_key is None:
            raise InputError(
                f"{path.name} holds arrays {sorted(arrays)}; expected x_train/y_train (and "
                f"x_test/y_test) or images/labels."
            )
        y_key = next((k for k in _LABEL_KEYS if k in arrays), None)
        pairs = [(x_key, y_key, None)]
    for x_key, y_key, split in pairs:
        x = arrays[x_key]
        if x.ndim not in (3, 4):
            raise InputError(
                f"{path.name}:{x_key} has shape {x.shape}; expected (n, H, W) or (n, H, W, C) images."
            )
        y = arrays.get(y_key) if y_key else None
        if y is not None and (y.ndim != 1 or len(y) != len(x)):
            raise InputError(f"{path.name}: {x_key} has {len(x)} images but {y_key} has shape "
                             f"{y.shape}; give one label per image.")  # fmt: skip
        if y is None and labels:  # x_test without y_test dropped every label, train's too
            raise InputError(f"{path.name} has labels for some images but no {y_key or 'labels'} for "
                             f"{x_key}; add it, or leave {x_key} out.")  # fmt: skip
        for i in range(len(x)):
            items.append(ImageItem.from_array(x[i], source=f"{path}:{x_key}[{i}]"))
        if y is not None:
            labels.extend(y.tolist())
        if split is not None:
            splits.extend([split] * len(x))
    return finish(
        path, items, [], modality="image", column="image", skipped=[], ignored=[],
        labels=np.asarray(labels) if len(labels) == len(items) else None,
        splits=np.array(splits, dtype=object) if splits else None,
    )  # fmt: skip
