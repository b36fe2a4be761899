"""Audio loading: WAV folders (labels from folders or FSDD-style names), .npz, corrupt files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from media_helpers import SHARED_DATA, wav_bytes, write_wav

from headwise.exceptions import InputError
from headwise.media import AudioItem, as_audio_items, load_audio


def test_flat_folder_labels_from_name_prefix(fsdd_dir: Path, fsdd_clips) -> None:
    t = load_audio(fsdd_dir)
    assert len(t) == len(fsdd_clips) and t.modality == "audio"
    assert sorted(t.labels.tolist()) == sorted(str(c[2]) for c in fsdd_clips)
    clip = t.texts[0]
    assert clip.sample_rate == 8000 and clip.samples.dtype == np.float32
    assert np.abs(clip.samples).max() <= 1.0


def test_class_folders(tmp_path: Path, fsdd_clips) -> None:
    for k, (samples, rate, digit, *_rest) in enumerate(fsdd_clips):
        (tmp_path / "d" / f"digit{digit}").mkdir(parents=True, exist_ok=True)
        write_wav(tmp_path / "d" / f"digit{digit}" / f"{k}.wav", samples, rate)
    t = load_audio(tmp_path / "d")
    assert set(t.labels.tolist()) == {"digit0", "digit1", "digit2"}


def test_fsdd_npz_official_split() -> None:
    path = SHARED_DATA / "fsdd.npz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    t = load_audio(path)
    assert len(t) == 3000
    assert t.split_indices("test").size == 300 and t.split_indices("train").size == 2700
    assert t.texts[0].sample_rate == 8000


def test_corrupt_wav_fail_and_skip(fsdd_dir: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "rec"
    shutil.copytree(fsdd_dir, root)
    (root / "3_bad_0.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (root / "4_text_0.wav").write_text("not audio at all")
    with pytest.raises(InputError, match=r"3_bad_0\.wav"):
        load_audio(root)
    t = load_audio(root, on_error="skip")
    assert len(t) == 6
    assert sorted(Path(s.source).name for s in t.skipped) == ["3_bad_0.wav", "4_text_0.wav"]


def test_audio_item_conversions_and_digest() -> None:
    stereo = np.stack([np.full(100, 16384, np.int16), np.zeros(100, np.int16)], axis=1)
    item = AudioItem.from_array(stereo, 8000)
    assert item.samples.shape == (100,) and np.allclose(item.samples, 0.25)
    same = AudioItem.from_array(np.full(100, 0.25, np.float32), 8000, source="other")
    assert item.cache_digest() == same.cache_digest()
    assert AudioItem.from_array(same.samples, 16000).cache_digest() != same.cache_digest()
    with pytest.raises(InputError, match="non-empty"):
        AudioItem.from_array(np.zeros(0), 8000)
    with pytest.raises(InputError, match="wrap it as AudioItem"):
        as_audio_items([np.zeros(10)])


def test_as_audio_items_reads_paths(tmp_path: Path) -> None:
    p = tmp_path / "a.wav"
    p.write_bytes(wav_bytes(np.arange(80, dtype=np.int16), 8000))
    (item,) = as_audio_items([str(p)])
    assert item.source == str(p) and item.samples.shape == (80,)


def _clips_npz(path: Path, **over: object) -> Path:
    audio = np.zeros(600, np.float32)
    arrays = {"audio": audio, "offsets": np.arange(0, 700, 100), "sample_rate": np.int64(8000),
              "label": np.arange(6)}  # fmt: skip
    arrays.update(over)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(("over", "found"), [
    # labels or splits of another length were used anyway (or an IndexError traceback)
    ({"label": np.arange(12)}, "holds 6 items but labels of shape (12,)"),
    ({"label": np.arange(4)}, "holds 6 items but labels of shape (4,)"),
    ({"label": np.int64(3)}, "holds 6 items but labels of shape ()"),
    ({"split": np.array(["train"] * 4)}, "split names of shape (4,)"),
    # a raw TypeError / ValueError / IndexError, or a rate silently truncated
    ({"sample_rate": np.array([8000, 8000])}, "sample_rate must be one whole number"),
    ({"sample_rate": np.array("8k")}, "sample_rate must be one whole number"),
    ({"sample_rate": np.float64(8000.9)}, "sample_rate must be one whole number"),
    ({"offsets": np.array([], np.int64)}, "offsets must be at least two whole numbers"),
    ({"offsets": np.array([0.0, 100.5, 600.0])}, "offsets must be at least two whole numbers"),
    ({"sample_rate": np.int64(1)}, "sample rate of 1 Hz is not one of audio"),
])  # fmt: skip
def test_audio_npz_arrays_must_agree(tmp_path: Path, over: dict, found: str) -> None:
    with pytest.raises(InputError, match=re.escape(found)):
        load_audio(_clips_npz(tmp_path / "a.npz", **over))
