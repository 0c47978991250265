"""An advisory, process-wide lock on a bundle, so that only one process writes a bundle at a time.

Two levels use it. :class:`BundleLock` is the raw ``flock`` on ``<bundle>/.lock``. :func:`holding` keeps it for a
whole stage run (from the up-to-date check to the commit) and is re-entrant inside one process, so a stage that
runs other stages (``fit PHOTO`` = track, pseudo, fit) and the commits inside them take it once.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from talkavatar.config import NO_WAIT_ENV
from talkavatar.errors import StageFailed

LOCK_NAME = ".lock"
_held: dict[str, int] = {}  # realpath of a bundle this process holds through holding() -> nesting depth
_held_guard = threading.Lock()


def _key(root: Path) -> str:
    return os.path.realpath(root)


def held_here(root: Path) -> bool:
    """Whether this process already holds the bundle's lock through :func:`holding`."""
    with _held_guard:
        return _key(root) in _held


def holder(path: Path) -> str:
    """`` (pid N)`` of the process that holds (or last held) the lock file ``path``, else ``""``."""
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


class BundleLock:
    """Exclusive ``flock`` on ``<bundle>/.lock``; waits up to ``timeout`` seconds (None: for ever), then fails.

    The kernel drops the lock when the holder dies, so a killed writer never leaves the bundle locked.
    """

    def __init__(self, root: Path, timeout: float | None = 600.0, on_wait: Callable[[Path], None] | None = None):
        self.path = Path(root) / LOCK_NAME
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        warned = False
        while not self.try_acquire():
            if deadline is not None and time.monotonic() >= deadline:
                raise StageFailed(f"{self.path.parent} is being written by another talkavatar process"
                                  f"{holder(self.path)}",
                                  tip="wait for it to finish, or pass another --bundle")
            if not warned and self.on_wait is not None:
                self.on_wait(self.path.parent)
                warned = True
            time.sleep(0.05)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; never waits."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(self.path).st_ino:  # the file was removed while we waited
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "BundleLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def wait_by_default() -> bool:
    """False when ``$TALKAVATAR_NO_WAIT`` is set (``talkavatar --no-wait``): a busy bundle fails at once."""
    return os.environ.get(NO_WAIT_ENV, "") in ("", "0")


@contextmanager
def holding(root: Path, wait: bool | None = None, on_wait: Callable[[Path], None] | None = None) -> Iterator[None]:
    """Be the only writer of the bundle at ``root`` for the whole block; creates ``root`` if needed.

    Another process holding it: wait for it (``on_wait`` is told once) or, with ``wait=False``, raise
    :class:`StageFailed` at once. ``wait=None``: :func:`wait_by_default`. Re-entrant within this process. A
    ``root`` this call created and that holds nothing but the lock file afterwards is removed again.
    """
    root = Path(root)
    key = _key(root)
    with _held_guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    wait = wait_by_default() if wait is None else wait
    lock = BundleLock(root, timeout=None if wait else 0.0, on_wait=on_wait)
    try:
        lock.acquire()
    except StageFailed as e:
        raise StageFailed(e.message, tip="wait for it to finish (without --no-wait talkavatar waits), or write "
                                         "another bundle") from None
    with _held_guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        if created:
            _remove_if_empty(root)  # nothing was made: leave nothing behind
        lock.release()


def _remove_if_empty(root: Path) -> None:
    """Remove ``root`` when it holds nothing but the lock file."""
    if [p.name for p in root.iterdir()] in ([], [LOCK_NAME]):
        (root / LOCK_NAME).unlink(missing_ok=True)
        root.rmdir()
