"""Helpers for the media tests: paths to ../shared/data, cutting small real fixtures, WAV bytes."""

from __future__ import annotations

import io
import wave
import zipfile
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CIFAR_CLASSES = ("airplane", "cat", "ship")


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"shared data file {path} not found")
    return path


def cifar_members(per_class: int = 3, test_per_class: int = 1) -> dict[str, bytes]:
    """``{"train/cat/0000.jpg": bytes, ...}`` for a few images of three CIFAR-10 classes."""
    out: dict[str, bytes] = {}
    with zipfile.ZipFile(shared_file("cifar10_jpg.zip")) as z:
        names = set(z.namelist())
        for split, n in (("train", per_class), ("test", test_per_class)):
            for cls in CIFAR_CLASSES:
                members = sorted(m for m in names if m.startswith(f"{split}/{cls}/"))[:n]
                out.update({m: z.read(m) for m in members})
    return out


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def truncated_jpeg(data: bytes) -> bytes:
    """The first half of a JPEG: Pillow refuses it as truncated."""
    return data[: len(data) // 2]


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()
