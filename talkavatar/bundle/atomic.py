"""Crash-safe file writes: write a sibling temp file, fsync, then rename over the target."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

from talkavatar.errors import InvalidInput


_umask_guard = threading.Lock()


def default_mode(directory: bool = False) -> int:
    """The mode ``open()``/``mkdir()`` would give a new file (0o666) or directory (0o777) under the process's umask
    (0o644/0o755 with the usual 022); ``mkstemp``/``mkdtemp`` make theirs private, so their results get this."""
    with _umask_guard:  # reading the umask means setting it: keep other threads of this process out meanwhile
        umask = os.umask(0o077)
        os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (the rename itself) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def probe_writable(directory: Path) -> None:
    """Raise :class:`InvalidInput` (exit 3) unless a file can be created in ``directory``, or, when it does not
    exist yet, in its nearest existing ancestor (read-only file system, permissions, a file in the way)."""
    directory = Path(os.path.abspath(directory))
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    try:
        if not directory.is_dir():
            raise NotADirectoryError(20, "not a directory")
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as e:
        raise InvalidInput(f"cannot write in {directory} ({e.strerror or e})",
                           tip="choose an output path in a writable directory (-o)") from None


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see either the old or the new file, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, default_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
