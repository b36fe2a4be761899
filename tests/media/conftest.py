"""Small real fixtures cut from ../shared/data: a few CIFAR-10 JPEGs, MNIST digits, FSDD clips."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from media_helpers import cifar_members, shared_file, write_wav


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ImageFolder with train/ and test/ splits: 3 classes x (3 train + 1 test) real JPEGs."""
    root = tmp_path_factory.mktemp("cifar") / "cifar"
    for member, data in cifar_members().items():
        (root / member).parent.mkdir(parents=True, exist_ok=True)
        (root / member).write_bytes(data)
    return root


@pytest.fixture(scope="session")
def cifar_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cifarzip") / "cifar.zip"
    with zipfile.ZipFile(path, "w") as z:
        for member, data in cifar_members().items():
            z.writestr(f"cifar/{member}", data)  # one wrapping folder, as zips often have
    return path


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 train + 3 test MNIST digits in the original file's key layout."""
    with np.load(shared_file("mnist.npz")) as d:
        arrays = {"x_train": d["x_train"][:6], "y_train": d["y_train"][:6],
                  "x_test": d["x_test"][:3], "y_test": d["y_test"][:3]}  # fmt: skip
    path = tmp_path_factory.mktemp("mnist") / "mnist_small.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="session")
def fsdd_clips() -> list[tuple[np.ndarray, int, int, str, int]]:
    """(samples int16, rate, digit, speaker, index) for 6 clips: digits 0, 1, 2, two speakers."""
    with np.load(shared_file("fsdd.npz")) as d:
        audio, offsets = d["audio"], d["offsets"]
        label, speaker, index, rate = d["label"], d["speaker"], d["index"], int(d["sample_rate"])
    out = []
    for digit in (0, 1, 2):
        picks = np.flatnonzero((label == digit) & (index < 2))[:2]
        for i in picks:
            out.append((audio[offsets[i] : offsets[i + 1]], rate, digit, str(speaker[i]), int(index[i])))
    return out


@pytest.fixture(scope="session")
def fsdd_dir(tmp_path_factory: pytest.TempPathFactory, fsdd_clips) -> Path:
    """A flat FSDD-style folder: <digit>_<speaker>_<index>.wav."""
    root = tmp_path_factory.mktemp("fsdd") / "recordings"
    root.mkdir()
    for samples, rate, digit, speaker, index in fsdd_clips:
        write_wav(root / f"{digit}_{speaker}_{index}.wav", samples, rate)
    return root
