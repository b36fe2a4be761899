"""Images and audio clips as cacheable inputs, and loaders for labelled media datasets.

Media items hash their content (file bytes, or pixel/sample arrays) into the cache key, so the
embedding store treats them like texts. :func:`load_media` picks the loader by modality.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import InputError
from ._audio import AUDIO_EXTENSIONS, AudioItem, as_audio_items, load_audio
from ._common import ON_ERROR, MediaTable, Skipped, check_on_error
from ._images import IMAGE_EXTENSIONS, ImageItem, as_image_items, load_images

__all__ = [
    "AudioItem",
    "AUDIO_EXTENSIONS",
    "as_audio_items",
    "load_audio",
    "ImageItem",
    "MediaTable",
    "Skipped",
    "IMAGE_EXTENSIONS",
    "as_image_items",
    "load_images",
    "load_media",
    "check_on_error",
    "ON_ERROR",
]


def load_media(path: str | Path, modality: str, *, on_error: str = "fail") -> MediaTable:
    """Load a labelled image or audio dataset (see :func:`load_images`, :func:`load_audio`)."""
    if modality == "image":
        return load_images(path, on_error=on_error)
    if modality == "audio":
        return load_audio(path, on_error=on_error)
    raise InputError(f"Cannot load media of modality {modality!r}; expected 'image' or 'audio'.")
