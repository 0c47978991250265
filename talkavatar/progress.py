"""Progress of long loops on stderr: a rich bar on a terminal, else a plain line at most every ``EVERY`` seconds.

A plain line is one unwrapped line with the step, the rate and the time left, for logs, CI, ``nohup`` and
``2>file``::

    fit: 120/500 steps (24%), 0.41 steps/s, 4:52 elapsed, ETA 15:27 | total 0.1234

``talkavatar -q`` turns both off (:data:`settings`). The first and the last step are always reported. A loop that
will take more than ``SLOW`` seconds says so once, early (measured on its first steps), with how to go faster::

    fit: about 1:38:20 for 500 steps at 11.8 s/step on this machine; faster: --preset tiny, or a GPU
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

EVERY = 10.0  # seconds between plain lines
SLOW = 120.0  # a loop expected to take longer says so, with its estimate and how to go faster


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


class Estimate:
    """The one line a slow loop prints early: its expected duration, from the rate of its first steps after the
    first (which carries the warm-up), and ``faster`` (how to go faster)."""

    def __init__(self, label: str, total: int, unit: str, faster: str | None):
        self.label, self.total, self.unit, self.faster = label, total, unit, faster
        self.first: tuple[float, int] | None = None
        self.told = False

    def check(self, done: int) -> str | None:
        now = time.monotonic()
        if self.told:
            return None
        if self.first is None:
            self.first = (now, done)
            return None
        t1, d1 = self.first
        if done - d1 < 2 and now - t1 < 5.0 or done <= d1:
            return None
        self.told = True
        per_unit = (now - t1) / (done - d1)
        if per_unit * (self.total - done) + (now - t1) < SLOW:
            return None
        return (f"{self.label}: about {clock(per_unit * self.total)} for {self.total} {self.unit} at "
                f"{per_unit:.3g} s each on this machine" + (f"; faster: {self.faster}" if self.faster else ""))


class Lines:
    """Plain progress lines on ``stream``, at most one every ``every`` seconds (plus the first and the last)."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO, every: float, faster: str | None = None):
        self.label, self.total, self.unit, self.stream, self.every = label, total, unit, stream, every
        self.estimate = Estimate(label, total, unit, faster)
        self.t0 = time.monotonic()
        self.first: tuple[float, int] | None = None  # (time, steps done) at the first update: the rate starts there,
        self.last_shown = -float("inf")               # after the warm-up (and after a resumed loop's earlier steps)

    def line(self, done: int, detail: str = "") -> str:
        now = time.monotonic()
        text = f"{self.label}: {done}/{self.total} {self.unit} ({100 * done / max(self.total, 1):.0f}%)"
        t1, d1 = self.first
        if done > d1 and now > t1:
            rate = (done - d1) / (now - t1)
            text += (f", {rate:.3g} {self.unit}/s, {clock(now - self.t0)} elapsed, "
                     f"ETA {clock((self.total - done) / rate)}")
        return text + (f" | {detail}" if detail else "")

    def update(self, done: int, detail: str = "") -> None:
        if self.first is None:
            self.first = (time.monotonic(), done)
        told = self.estimate.check(done)
        if told:
            self.stream.write(told + "\n")
        now = time.monotonic()
        if now - self.last_shown >= self.every or done >= self.total:
            self.last_shown = now
            self.stream.write(self.line(done, detail) + "\n")
            self.stream.flush()


class Bar:
    """A rich progress bar (terminals)."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO, faster: str | None = None):
        self.bar = Progress(TextColumn(label.replace("[", "\\[")), BarColumn(), MofNCompleteColumn(),
                            TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn(),
                            TextColumn("{task.fields[detail]}", markup=False),
                            console=Console(file=stream, highlight=False), transient=False)
        self.task = self.bar.add_task(label, total=total, detail="")
        self.estimate = Estimate(label, total, unit, faster)

    def update(self, done: int, detail: str = "") -> None:
        told = self.estimate.check(done)
        if told:
            self.bar.console.print(told, markup=False, soft_wrap=True)
        self.bar.update(self.task, completed=done, detail=detail)


class Silent:
    def update(self, done: int, detail: str = "") -> None:
        pass


@contextmanager
def progress(label: str, total: int, unit: str = "steps", show: bool = True, stream: TextIO | None = None,
             faster: str | None = None) -> Iterator[Bar | Lines | Silent]:
    """A progress reporter for a loop of ``total`` ``unit``; call ``.update(done, detail)`` after each step.

    A bar when ``stream`` (default stderr) is a terminal, else plain lines; nothing when ``show`` is False or
    progress is off (``talkavatar -q``). ``faster``: how to go faster, told when the loop will take long."""
    stream = stream or sys.stderr
    if not (show and settings.enabled) or total <= 0:
        yield Silent()
    elif stream.isatty():
        reporter = Bar(label, total, unit, stream, faster)
        with reporter.bar:
            yield reporter
    else:
        yield Lines(label, total, unit, stream, settings.every, faster)
