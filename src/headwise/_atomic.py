"""The one atomic file writer: temp file in the target folder, fsync, rename, fsync the folder.

Every file headwise writes (cache shards, head files, run results, predictions, reports, exported
encoders) goes through :func:`atomic_write` or :func:`atomic_writer`, so a reader sees either the
old file or the new one and a crash leaves at most a ``.<name>.*.tmp`` file that
``headwise cache verify --repair`` (inside the cache) or the next write cleans up. Permissions
follow the umask (typically 0644), not ``mkstemp``'s 0600.

Write failures become :class:`~headwise.exceptions.OutputError`: one line naming the path, what
went wrong (read-only, permission denied, disk full, not a folder, is a folder) and what to do.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", b"hi").read_bytes()
b'hi'
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .exceptions import OutputError

__all__ = ["TMP_SUFFIX", "atomic_write", "atomic_writer", "check_not_input", "describe_os_error", "is_temp_name", "make_folder", "write_json"]

TMP_SUFFIX = ".tmp"

_WHAT = {
    errno.EROFS: ("is on a read-only file system", "choose a writable location"),
    errno.EACCES: ("is not writable (permission denied)", "fix its permissions or choose another path"),
    errno.EPERM: ("is not writable (operation not permitted)", "fix its permissions or choose another path"),
    errno.ENOSPC: ("could not be written: the disk is full", "free some space and run the command again"),
    errno.EDQUOT: ("could not be written: disk quota exceeded", "free some space and run the command again"),
    errno.ENOTDIR: ("is inside something that is not a folder", "choose a path whose parent is a folder"),
    errno.EISDIR: ("is a folder, not a file", "give a file name, not a folder"),
    errno.ENOENT: ("is in a folder that does not exist", "create the folder first or choose another path"),
    errno.ENAMETOOLONG: ("has a name that is too long", "choose a shorter path"),
}


def describe_os_error(path: str | os.PathLike[str], exc: OSError, *, what: str = "File") -> str:
    """One line saying which path failed, what went wrong and what to do.

    >>> import errno
    >>> describe_os_error("/x/y", OSError(errno.ENOSPC, "No space left"))
    'File /x/y could not be written: the disk is full; free some space and run the command again.'
    """
    found = _WHAT.get(exc.errno or -1)
    if found is None:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return f"{what} {path} could not be written ({reason}); check the path and try again."
    problem, todo = found
    return f"{what} {path} {problem}; {todo}."


def check_not_input(out: str | os.PathLike[str] | None, *inputs: str | os.PathLike[str] | None,
                    option: str = "--out") -> None:
    """Refuse an output path that is one of the command's inputs: the write would replace the
    data (or model) it was computed from, and a later run would read the output as input."""
    if out is None or not os.path.exists(out):
        return
    for source in inputs:
        if source is not None and os.path.exists(source) and os.path.samefile(out, source):
            raise OutputError(
                f"{option} {out} is the input file {source}; writing there would replace it. "
                f"Give {option} another path."
            )


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temp file left by :func:`atomic_writer` (``.<name>.<pid>.<hex>.tmp``)."""
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    with contextlib.suppress(OSError):  # some file systems refuse fsync on a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _check_target(path: Path, what: str) -> None:
    if path.is_dir():
        raise OutputError(describe_os_error(path, OSError(errno.EISDIR, "Is a directory"), what=what))
    parent = path.parent
    if not parent.exists():
        raise OutputError(describe_os_error(path, OSError(errno.ENOENT, "No such folder"), what=what))
    if not parent.is_dir():
        raise OutputError(describe_os_error(path, OSError(errno.ENOTDIR, "Not a directory"), what=what))


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str], *, mode: str = "wb", what: str = "File", durable: bool = True
) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on a clean exit fsync it and rename it over ``path``.

    On any exception the temp file is removed and ``path`` is untouched; an ``OSError`` becomes an
    :class:`OutputError` with one line (``what`` names the kind of file in it). ``durable=False``
    skips the fsyncs (for scratch files whose loss a crash may cost).
    """
    target = Path(path)
    try:
        st = os.stat(target)  # through links
    except OSError:
        st = None
    if st is not None and (stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
        # /dev/null, /dev/stdout, a named pipe: written in place. Renaming a temp file over it
        # replaced the device itself (as root, `--out /dev/null` destroyed /dev/null).
        try:
            with open(target, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
                yield fh
        except OSError as exc:
            raise OutputError(describe_os_error(target, exc, what=what)) from exc
        return
    if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OutputError(f"{what} {target} is not a regular file (a socket or block device); "
                          "give a file path.")  # fmt: skip
    if target.is_symlink():  # write the file the link points to; the link stays a link
        target = Path(os.path.realpath(target))
    _check_target(target, what)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        try:
            fh = open(tmp, "x" + mode.replace("w", ""), **({} if "b" in mode else {"encoding": "utf-8"}))
        except OSError as exc:
            raise OutputError(describe_os_error(target, exc, what=what)) from exc
        with fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OutputError):
            raise
        raise OutputError(describe_os_error(target, exc, what=what)) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(target.parent)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[IO[Any]], object],
    *,
    what: str = "File",
    durable: bool = True,
) -> Path:
    """Write ``data`` (bytes, text, or a function that writes to a binary handle) atomically.

    Returns the path. See :func:`atomic_writer` for the guarantees and the errors.
    """
    mode = "w" if isinstance(data, str) else "wb"
    with atomic_writer(path, mode=mode, what=what, durable=durable) as fh:
        if callable(data):
            data(fh)
        else:
            fh.write(data)
    return Path(path)


def _json_default(o: Any) -> Any:
    import datetime

    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (datetime.date, datetime.datetime)):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Create the folder ``path`` (and its parents); a failure is a one-line :class:`OutputError`."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(describe_os_error(folder, exc, what="Folder")) from exc
    return folder


def write_json(
    path: str | os.PathLike[str], obj: Any, *, what: str = "Result file", make_parents: bool = False
) -> Path:
    """Write ``obj`` as indented JSON (numpy values as plain numbers) through :func:`atomic_write`.

    ``make_parents`` creates the folder first (run directories); a folder that cannot be made
    is an :class:`OutputError` like any other write failure.

    >>> import tempfile, pathlib
    >>> p = write_json(pathlib.Path(tempfile.mkdtemp()) / "r" / "a.json", {"x": 1}, make_parents=True)
    >>> p.read_text()
    '{\\n  "x": 1\\n}\\n'
    """
    import json

    target = Path(path)
    if make_parents:
        make_folder(target.parent)
    # NaN and infinity are not JSON (json.dumps writes bare NaN, which strict parsers refuse):
    # a value that is not a number is written as null
    text = json.dumps(_finite(obj), indent=2, default=_json_default, ensure_ascii=False,
                      allow_nan=False) + "\n"  # fmt: skip
    return atomic_write(target, text, what=what)


def _finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (also numpy's) replaced by ``None``."""
    import math

    import numpy as np

    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return [_finite(v) for v in obj.tolist()]
    return obj
