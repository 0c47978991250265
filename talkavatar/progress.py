"""Progress of long loops on stderr: a rich bar on a terminal, else a plain line at most every ``EVERY`` seconds.

A plain line is one unwrapped line with the step, the rate and the time left, for logs, CI, ``nohup`` and
``2>file``::

    fit: 120/500 steps (24%), 0.41 steps/s, 4:52 elapsed, ETA 15:27 | total 0.1234

``talkavatar -q`` turns both off (:data:`settings`). The first and the last step are always reported.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TextIO

EVERY = 10.0  # seconds between plain lines


@dataclass
class Settings:
    enabled: bool = True  # False: no progress at all (talkavatar -q)
    every: float = EVERY


settings = Settings()


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = int(round(max(seconds, 0.0)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Lines:
    """Plain progress lines on ``stream``, at most one every ``every`` seconds (plus the first and the last)."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO, every: float):
        self.label, self.total, self.unit, self.stream, self.every = label, total, unit, stream, every
        self.t0 = time.monotonic()
        self.start: int | None = None  # the step counting began at (a resumed loop starts late)
        self.last_shown = -float("inf")

    def line(self, done: int, detail: str = "") -> str:
        elapsed = time.monotonic() - self.t0
        counted = done - (self.start or 0)
        rate = counted / elapsed if elapsed > 0 and counted > 0 else 0.0
        text = f"{self.label}: {done}/{self.total} {self.unit} ({100 * done / max(self.total, 1):.0f}%)"
        if rate > 0:
            text += f", {rate:.3g} {self.unit}/s, {clock(elapsed)} elapsed, ETA {clock((self.total - done) / rate)}"
        return text + (f" | {detail}" if detail else "")

    def update(self, done: int, detail: str = "") -> None:
        if self.start is None:
            self.start = done - 1 if done > 0 else 0
        now = time.monotonic()
        if now - self.last_shown >= self.every or done >= self.total:
            self.last_shown = now
            self.stream.write(self.line(done, detail) + "\n")
            self.stream.flush()


class Bar:
    """A rich progress bar (terminals)."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        self.bar = Progress(TextColumn(label.replace("[", "\\[")), BarColumn(), MofNCompleteColumn(),
                            TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[detail]}", markup=False),
                            console=Console(file=stream, highlight=False), transient=False)
        self.task = self.bar.add_task(label, total=total, detail="")

    def update(self, done: int, detail: str = "") -> None:
        self.bar.update(self.task, completed=done, detail=detail)


class Silent:
    def update(self, done: int, detail: str = "") -> None:
        pass


@contextmanager
def progress(label: str, total: int, unit: str = "steps", show: bool = True,
             stream: TextIO | None = None) -> Iterator[Bar | Lines | Silent]:
    """A progress reporter for a loop of ``total`` ``unit``; call ``.update(done, detail)`` after each step.

    A bar when ``stream`` (default stderr) is a terminal, else plain lines; nothing when ``show`` is False or
    progress is off (``talkavatar -q``)."""
    stream = stream or sys.stderr
    if not (show and settings.enabled) or total <= 0:
        yield Silent()
    elif stream.isatty():
        reporter = Bar(label, total, unit, stream)
        with reporter.bar:
            yield reporter
    else:
        yield Lines(label, total, unit, stream, settings.every)
