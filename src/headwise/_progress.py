"""Progress bars that appear only for work that takes longer than a second."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .config import progress_enabled

__all__ = ["progress_bar", "Progress", "track", "working"]

T = TypeVar("T")


class Progress:
    """A counter that lazily starts a Rich progress bar once ``delay`` seconds have passed."""

    def __init__(self, total: int, description: str, *, enabled: bool, delay: float = 1.0) -> None:
        self.total = int(total)
        self.description = description
        self.enabled = enabled
        self.delay = delay
        self.completed = 0
        self._start = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None

    def advance(self, n: int = 1) -> None:
        self.completed += n
        if not self.enabled:
            return
        if self._bar is None and time.perf_counter() - self._start >= self.delay:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed)
            self._bar.stop()
            self._bar = None


@contextmanager
def progress_bar(total: int, description: str, enabled: bool | None = None) -> Iterator[Progress]:
    """Yield a :class:`Progress`; the bar shows on stderr only if the work passes one second.

    >>> with progress_bar(3, "demo", enabled=False) as p:
    ...     p.advance(3)
    >>> p.completed
    3
    """
    on = progress_enabled() if enabled is None else enabled
    p = Progress(total, description, enabled=on)
    try:
        yield p
    finally:
        p.close()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` with a progress bar that shows only if the loop passes one second.

    >>> list(track([1, 2], "demo"))
    [1, 2]
    """
    seq = list(items) if total is None else items
    n = len(seq) if total is None else total  # type: ignore[arg-type]
    with progress_bar(n, description) as bar:
        for item in seq:
            yield item
            bar.advance()


@contextmanager
def working(description: str, enabled: bool | None = None, delay: float = 1.0) -> Iterator[None]:
    """A spinner with the elapsed seconds for one step of unknown length (a head's fit, a
    report), shown on stderr only if the step passes ``delay`` seconds, and gone when it ends.

    >>> with working("demo", enabled=False):
    ...     pass
    """
    if not (progress_enabled() if enabled is None else enabled):
        yield
        return
    lock = threading.Lock()
    shown: list[Any] = []
    done = False
    t0 = time.perf_counter()

    def start() -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress
        from rich.progress import ProgressColumn, SpinnerColumn, TextColumn
        from rich.text import Text

        class Since(ProgressColumn):  # seconds since the step began, not since the bar showed
            def render(self, task: Any) -> Text:
                return Text(f"{time.perf_counter() - t0:.0f} s")

        with lock:
            if done:
                return
            bar = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), Since(),
                               console=Console(file=sys.stderr), transient=True)  # fmt: skip
            bar.add_task(description, total=None)
            bar.start()
            shown.append(bar)

    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            done = True
            for bar in shown:
                bar.stop()
