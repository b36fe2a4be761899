"""Containment: every path the store touches stays inside its root, and no symlink is followed.

Names read from the index or a manifest are validated against fixed patterns before they are
joined to a folder, and folders are checked with ``lstat`` so a symlink planted in the cache is
reported, never entered (``cache verify --repair`` once deleted files outside the cache by
following one).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from .._atomic import describe_os_error
from ..exceptions import CacheError

try:  # POSIX only; elsewhere writers are not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "KEY_ID",
    "SHARD_NAME",
    "check_name",
    "is_real_dir",
    "make_dir",
    "flock",
    "safe_unlink",
]

KEY_ID = re.compile(r"[0-9a-f]{24}")  # an encoder key's folder (v2) or an entry's (v1)
SHARD_NAME = re.compile(r"shard-[0-9a-f]{16}\.npy")  # a v2 shard file
V1_FILE = re.compile(r"shard-\d{5}(\.offsets)?\.npy")  # a v1 shard file


def check_name(name: object, pattern: re.Pattern[str], where: str) -> str:
    """Return ``name`` if it fully matches ``pattern``; else raise a one-line :class:`CacheError`.

    >>> check_name("shard-00000000000000aa.npy", SHARD_NAME, "index")
    'shard-00000000000000aa.npy'
    """
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise CacheError(
            f"The cache {where} names a file {name!r} that is not a headwise cache file; refusing "
            "to touch it. Run `headwise cache verify --repair` to drop the record."
        )
    return name


def is_real_dir(path: Path) -> bool:
    """True for a folder that is not a symlink (``lstat``: links are never followed)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def make_dir(path: Path, root: Path) -> Path:
    """Create ``path`` (a folder under ``root``) and refuse it if it is a symlink or not a folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise CacheError(describe_os_error(path, exc, what="Cache folder")) from None
    if not is_real_dir(path):
        raise CacheError(
            f"Cache folder {path} is a symlink or not a folder; the cache never follows links out "
            f"of {root}. Remove it (it is not headwise's) and run again."
        )
    return path


def safe_unlink(path: Path) -> bool:
    """Remove a regular file or a symlink itself (never its target); True if something was removed."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise CacheError(describe_os_error(path, exc, what="Cache file")) from None
    return True


@contextlib.contextmanager
def flock(path: Path, *, shared: bool = False, blocking: bool = True, busy: str = "") -> Iterator[None]:
    """Hold an ``flock`` on the lock file ``path`` (created without following a symlink).

    A non-blocking lock that is taken raises :class:`CacheError` with ``busy`` as its message.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CacheError(f"Lock file {path} is a symlink; remove it and run again.") from None
        raise CacheError(describe_os_error(path, exc, what="Cache lock file")) from None
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            raise CacheError(busy or f"The cache at {path.parent} is busy; try again.") from None
        yield
    finally:
        os.close(fd)
