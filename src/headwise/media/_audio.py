"""Audio clips as cacheable items, and loading them from a folder of WAV files or an ``.npz``."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._common import MediaTable, Skipped, check_on_error, finish, layout, npz_arrays, walk_files

__all__ = ["AudioItem", "load_audio", "as_audio_items", "AUDIO_EXTENSIONS"]

AUDIO_EXTENSIONS = (".wav", ".wave")
_LABEL_KEYS = ("label", "labels", "y", "target")


MIN_RATE, MAX_RATE = 1_000, 768_000  # telephone audio is 8 kHz; studio audio at most 768 kHz


@dataclass(frozen=True, eq=False)
class AudioItem:
    """One mono clip: float32 samples in [-1, 1] at ``sample_rate`` Hz, and where it came from.

    Examples
    --------
    >>> clip = AudioItem.from_array(np.zeros(800, np.int16), 8000, source="silence")
    >>> clip.samples.dtype.name, clip.seconds
    ('float32', 0.1)
    """

    source: str  # file path, "archive.zip:member" or "file.npz[3]"
    samples: np.ndarray  # (n,) float32
    sample_rate: int

    @classmethod
    def from_array(cls, samples: Any, sample_rate: int, *, source: str = "<array>") -> AudioItem:
        """Integer PCM is scaled to [-1, 1]; (n, channels) is averaged to mono."""
        a = np.asarray(samples)
        if a.ndim == 2:
            a = a.mean(axis=1) if a.dtype.kind == "f" else a.astype(np.float64).mean(axis=1).astype(a.dtype)
        if a.ndim != 1 or a.size == 0:
            raise InputError(f"Clip {source} must be a non-empty (n,) or (n, channels) array; got shape {np.shape(samples)}.")
        if a.dtype.kind == "i":
            a = a.astype(np.float32) / float(2 ** (8 * a.dtype.itemsize - 1))
        elif a.dtype.kind == "u":
            half = 2 ** (8 * a.dtype.itemsize - 1)
            a = (a.astype(np.float32) - half) / half
        elif a.dtype.kind != "f":
            raise InputError(f"Clip {source} has dtype {a.dtype}; expected integer PCM or float samples.")
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(a).all():
            raise InputError(f"Clip {source} holds NaN or infinite samples.")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | np.integer) or sample_rate < 1:
            raise InputError(f"Clip {source}: sample_rate must be a positive int, got {sample_rate!r}.")
        if not MIN_RATE <= sample_rate <= MAX_RATE:  # a 1 Hz header made a clip hours of windows
            raise InputError(f"Clip {source}: a sample rate of {sample_rate} Hz is not one of audio "
                             f"({MIN_RATE}..{MAX_RATE} Hz); its header is damaged or wrong.")  # fmt: skip
        return cls(source=source, samples=a, sample_rate=int(sample_rate))

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate

    def cache_digest(self) -> bytes:
        """sha256 of the sample rate and samples; the embedding store hashes this."""
        h = hashlib.sha256(f"audio-f32\0{self.sample_rate}\0".encode())
        h.update(self.samples.data)
        return h.digest()

    def __repr__(self) -> str:
        return f"AudioItem({self.source!r}, {self.seconds:.2f} s at {self.sample_rate} Hz)"


def read_wav(data: bytes, source: str) -> AudioItem:
    """Decode a WAV file's bytes; a file that cannot be read raises naming it."""
    from scipy.io import wavfile

    try:
        rate, samples = wavfile.read(io.BytesIO(data))
    except Exception as exc:  # scipy raises ValueError, EOFError, struct.error...
        raise InputError(
            f"Cannot read WAV file {source}: {type(exc).__name__}: {exc}. Remove or fix the file, "
            "or pass --on-error skip to leave it out."
        ) from None
    return AudioItem.from_array(samples, int(rate), source=source)


def as_audio_items(inputs: Any, sample_rate: int | None = None) -> list[AudioItem]:
    """Accept AudioItems, WAV paths or 1-D arrays (with ``sample_rate``); return AudioItems."""
    if isinstance(inputs, str | bytes | np.ndarray):
        raise InputError(
            f"inputs must be a sequence of clips, got a single {type(inputs).__name__}; wrap it in a list."
        )
    items = []
    for i, x in enumerate(inputs):
        if isinstance(x, AudioItem):
            items.append(x)
        elif isinstance(x, str | Path):
            p = Path(x)
            if not p.is_file():
                raise InputError(f"Audio file {p} does not exist.")
            items.append(read_wav(p.read_bytes(), str(p)))
        elif isinstance(x, np.ndarray):
            if sample_rate is None:
                raise InputError(f"Input {i} is a bare array; wrap it as AudioItem.from_array(samples, sample_rate).")
            items.append(AudioItem.from_array(x, sample_rate, source=f"<array {i}>"))
        else:
            raise InputError(
                f"Input {i} is a {type(x).__name__}; audio encoders take AudioItem or WAV file paths "
                "(headwise.media.load_audio reads a dataset)."
            )
    if not items:
        raise InputError("inputs is empty; there is nothing to embed. Pass at least one clip.")
    return items


def load_audio(path: str | Path, *, on_error: str = "fail") -> MediaTable:
    """Load labelled clips from a folder (or zip) of WAV files, or an ``.npz``.

    Labels come from class folders (``<class>/<clip>.wav``, optionally under split folders) or,
    for a flat folder, from the file-name prefix before the first ``_`` (FSDD's
    ``<digit>_<speaker>_<index>.wav``). An ``.npz`` holds ``audio`` (all clips concatenated),
    ``offsets`` (clip i is ``audio[offsets[i]:offsets[i+1]]``), ``label`` and ``sample_rate``,
    optionally ``split``; a file with FSDD's ``speaker`` and ``index`` arrays gets FSDD's official
    split (index 0-4 test, the rest train).
    """
    on_error = check_on_error(on_error)
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError(f"{path} does not exist; expected a folder of WAV files, a .zip or an .npz.")
    if path.is_file() and path.suffix.lower() == ".npz":
        return _load_npz(path)
    if not path.is_dir() and path.suffix.lower() != ".zip":
        raise InputError(f"Cannot read audio from {path.name}: expected a folder, a .zip or an .npz.")
    items: list[AudioItem] = []
    parts_kept: list[tuple[str, ...]] = []
    skipped: list[Skipped] = []
    ignored: list[Skipped] = []
    for parts, source, read in walk_files(path):
        if Path(parts[-1]).suffix.lower() not in AUDIO_EXTENSIONS:
            ignored.append(Skipped(source, "not a WAV file extension"))
            continue
        try:
            try:
                data = read()  # a broken link, a FIFO, an encrypted or damaged zip member
            except OSError as exc:
                raise InputError(f"Cannot read clip {source}: {exc}. Remove or fix the file, or "
                                 "pass --on-error skip to leave it out.") from None  # fmt: skip
            items.append(read_wav(data, source))
        except InputError as exc:
            if on_error == "fail":
                raise
            skipped.append(Skipped(source, str(exc).split(": ", 1)[-1].split(". Remove")[0]))
            continue
        parts_kept.append(parts)
    meta = layout(parts_kept, path)
    if meta and all(lab is None for _, lab in meta):
        stems = [Path(p[-1]).stem for p in parts_kept]
        if all("_" in s for s in stems):
            meta = [(None, s.split("_", 1)[0]) for s in stems]
    return finish(path, items, meta, modality="audio", column="audio", skipped=skipped, ignored=ignored)


def _load_npz(path: Path) -> MediaTable:
    arrays = npz_arrays(path)
    missing = [k for k in ("audio", "offsets", "sample_rate") if k not in arrays]
    if missing:
        raise InputError(
            f"{path.name} holds arrays {sorted(arrays)}; audio .npz files need audio, offsets and "
            f"sample_rate (missing {', '.join(missing)})."
        )
    audio, offsets, rate = arrays["audio"], arrays["offsets"], arrays["sample_rate"]
    if rate.ndim != 0 or rate.dtype.kind not in "iuf" or not float(rate).is_integer() or float(rate) < 1:
        raise InputError(f"{path.name}: sample_rate must be one whole number of Hz (e.g. 16000); "
                         f"got {rate.tolist()!r}.")  # fmt: skip
    if (offsets.ndim != 1 or offsets.size < 2 or offsets.dtype.kind not in "iu" or offsets[0] != 0
            or offsets[-1] != len(audio) or np.any(np.diff(offsets) <= 0)):  # fmt: skip
        raise InputError(f"{path.name}: offsets must be at least two whole numbers rising strictly "
                         f"from 0 to len(audio)={len(audio)}.")  # fmt: skip
    offsets, rate = offsets.astype(np.int64), int(rate)
    items = [
        AudioItem.from_array(audio[offsets[i] : offsets[i + 1]], rate, source=f"{path}[{i}]")
        for i in range(len(offsets) - 1)
    ]
    y_key = next((k for k in _LABEL_KEYS if k in arrays), None)
    labels = arrays[y_key] if y_key else None
    splits = arrays["split"].astype(object) if "split" in arrays else None
    if splits is None and "speaker" in arrays and "index" in arrays:
        splits = np.where(arrays["index"] < 5, "test", "train").astype(object)
    return finish(path, items, [], modality="audio", column="audio", skipped=[], ignored=[],
                  labels=labels, splits=splits)  # fmt: skip
