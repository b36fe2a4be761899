"""What image and audio loading share: on-error policy, folder/zip layout, the labelled result."""

from __future__ import annotations

import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..datasets import SPLIT_ALIASES, Table
from ..exceptions import InputError

__all__ = ["MediaTable", "Skipped", "check_on_error", "walk_files", "ON_ERROR"]

ON_ERROR = ("fail", "skip")
_SPLIT_NAMES = {name for names in SPLIT_ALIASES.values() for name in names}


@dataclass(frozen=True)
class Skipped:
    """A file left out under ``on_error="skip"`` (or ignored for its extension) and why."""

    source: str  # path of the file, or "archive.zip:member"
    reason: str


@dataclass(frozen=True)
class MediaTable(Table):
    """A :class:`~headwise.datasets.Table` whose ``texts`` are media items (images or clips).

    ``skipped`` lists files that could not be decoded and were left out (``on_error="skip"``);
    ``ignored`` lists files whose extension is not a media one. Neither is ever silent.
    """

    modality: str = "image"  # "image" or "audio"
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[Skipped] = field(default_factory=list)


def check_on_error(on_error: Any) -> str:
    if on_error not in ON_ERROR:
        raise InputError(f"on_error must be 'fail' or 'skip'. Got {on_error!r} instead.")
    return str(on_error)


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def walk_files(path: Path) -> Iterator[tuple[tuple[str, ...], str, Callable[[], bytes]]]:
    """Yield ``(relative parts, source, read)`` for every non-hidden file of a folder or zip.

    Parts are relative to the folder (or the archive root); ``read()`` returns the file's bytes.
    """
    if path.is_dir():
        for f in _folder_files(path):
            parts = f.relative_to(path).parts
            if not _hidden(parts):
                yield parts, str(f), _file_reader(f)
        return
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"Cannot open {path} as a zip archive: {exc}.") from None
    with archive:
        counts = Counter(i.filename for i in archive.infolist() if not i.is_dir())
        twice = min((n for n, c in counts.items() if c > 1), default=None)
        if twice is not None:  # archive.read(name) gives the last one: the others were never read
            raise InputError(
                f"{path} holds more than one member named {twice!r}; only one of them can be "
                "read. Re-create the zip from the folder (e.g. `cd data && zip -r ../data.zip .`)."
            )
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            # a zip made on Windows may name members cat\a.jpg: its folders are still folders
            name = info.filename.replace("\\", "/") if "/" not in info.filename else info.filename
            parts = PurePosixPath(name).parts
            if ".." in parts or PurePosixPath(name).is_absolute():
                raise InputError(
                    f"{path} holds the member {info.filename!r}, whose path leaves the archive; "
                    "it was not made from a folder of class folders. Re-create the zip from the "
                    "folder (e.g. `cd data && zip -r ../data.zip .`)."
                )
            if _hidden(parts):
                continue
            yield parts, f"{path}:{info.filename}", _reader(archive, info.filename)


def _folder_files(root: Path) -> list[Path]:
    """Every entry below ``root`` that is not a folder, in sorted order, following symlinked
    folders once (a linked class folder was left out without a word). Broken links and FIFOs
    are listed too: reading them fails, and the loader names them (or skips them)."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        real, above = os.path.realpath(folder), os.path.realpath(os.path.dirname(folder))
        if folder != str(root) and (above == real or above.startswith(real + os.sep)):
            dirs[:] = []  # a link back up the tree: walking it would never end
            continue
        dirs.sort()
        found.extend(Path(folder) / f for f in files)
    return sorted(found)


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        if not path.is_file():  # a broken link, a FIFO or a socket: never opened (a FIFO blocks)
            why = "a broken link" if path.is_symlink() and not path.exists() else "not a regular file"
            raise OSError(f"{path} is {why}")
        return path.read_bytes()

    return read


def _reader(archive: zipfile.ZipFile, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return archive.read(name)
        except (RuntimeError, NotImplementedError, zipfile.BadZipFile, EOFError, OSError) as exc:
            # encrypted, an unsupported compression (Deflate64), a bad CRC: one line, or skipped
            raise OSError(f"cannot read {name!r} from the archive: {exc}") from None

    return read


def check_lengths(where: Path, n: int, labels: np.ndarray | None, splits: np.ndarray | None) -> None:
    """Labels and split names given beside the items (npz arrays) must be one per item."""
    for what, arr in (("labels", labels), ("split names", splits)):
        if arr is not None and (np.ndim(arr) != 1 or len(arr) != n):
            shape = np.shape(arr)
            raise InputError(
                f"{where.name} holds {n} items but {what} of shape {shape}; give one per item."
            )


def layout(all_parts: list[tuple[str, ...]], where: Path) -> list[tuple[str | None, str | None]]:
    """``(split, label)`` per file from its folders: ``[split/]class/file`` or flat ``file``.

    A single wrapping folder (``data/cat/x.jpg``, ``data/dog/y.jpg``) is stripped. Files at the
    top level carry no label. Split folders are recognised by name (train, test, validation, ...).
    """
    if not all_parts:
        return []
    # split folders named in any case (Train/, TEST/) are the splits
    all_parts = [tuple(q.lower() if q.lower() in _SPLIT_NAMES else q for q in p) for p in all_parts]
    strip = 0
    while (
        len({p[strip] for p in all_parts}) == 1
        and all(len(p) - strip >= 3 for p in all_parts)
        and all_parts[0][strip] not in _SPLIT_NAMES
    ):
        strip += 1
    depths = {len(p) - strip for p in all_parts}
    if depths == {1}:
        return [(None, None)] * len(all_parts)
    if depths == {2}:
        return [(None, p[strip]) for p in all_parts]
    if depths == {3} and {p[strip] for p in all_parts} <= _SPLIT_NAMES:
        return [(p[strip], p[strip + 1]) for p in all_parts]
    example = "/".join(max(all_parts, key=len))
    raise InputError(
        f"{where} does not have an ImageFolder-style layout: expected <class>/<file> or "
        f"<split>/<class>/<file> (split one of train, validation, test) for every file, but files "
        f"sit at depths {sorted(depths)} (e.g. {example!r}). Move the files into class folders."
    )


def finish(
    where: Path,
    items: list[Any],
    meta: list[tuple[str | None, str | None]],
    *,
    modality: str,
    column: str,
    skipped: list[Skipped],
    ignored: list[Skipped],
    labels: np.ndarray | None = None,
    splits: np.ndarray | None = None,
) -> MediaTable:
    """Build the :class:`MediaTable`; refuse an empty result, naming what was left out."""
    if not items:
        why = f" ({len(skipped)} could not be read, e.g. {skipped[0].source}: {skipped[0].reason})" if skipped else ""
        raise InputError(f"No readable {modality} files found in {where}{why}.")
    check_lengths(where, len(items), labels, splits)
    if meta:
        if labels is None and any(lab is not None for _, lab in meta):
            labels = np.array([lab for _, lab in meta], dtype=object)
        if splits is None and any(s is not None for s, _ in meta):
            splits = np.array([s for s, _ in meta], dtype=object)
    return MediaTable(
        path=where,
        texts=items,
        labels=labels,
        splits=splits,
        text_col=column,
        label_col=None if labels is None else "folder",
        split_col=None if splits is None else "folder",
        columns=[column],
        modality=modality,
        skipped=skipped,
        ignored=ignored,
    )


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (decompressed once) or the single array of an ``.npy``."""
    try:
        if path.suffix.lower() == ".npy":
            return {"images": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read arrays from {path}: {exc}.") from None
