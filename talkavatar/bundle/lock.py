"""An advisory, process-wide lock on a bundle, so that two writers never interleave their commits."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from talkavatar.errors import StageFailed

LOCK_NAME = ".lock"


class BundleLock:
    """Exclusive ``flock`` on ``<bundle>/.lock``; waits up to ``timeout`` seconds, then fails clearly.

    The kernel drops the lock when the holder dies, so a killed writer never leaves the bundle locked.
    """

    def __init__(self, root: Path, timeout: float = 600.0, on_wait=None):
        self.path = Path(root) / LOCK_NAME
        self.timeout = timeout
        self.on_wait = on_wait
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + self.timeout
        warned = False
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                raise StageFailed(f"{self.path.parent} is being written by another talkavatar process",
                                  tip="wait for it to finish, or pass another --bundle")
            if not warned and self.on_wait is not None:
                self.on_wait(self.path.parent)
                warned = True
            time.sleep(0.05)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def try_acquire(self) -> bool:
        """Take the lock if it is free right now; never waits."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
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
