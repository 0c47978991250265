"""How many CPU threads a process may use, and holding torch (and BLAS) to that many.

Two talkavatar processes on one machine must not each run a thread per core against the other: on a 2-core machine
two concurrent tiny fits took 2.7x as long as running them one after the other (issue 22). The count comes from,
in order: an explicit value (``--threads``, a batch job's share), ``$TALKAVATAR_THREADS``, ``$OMP_NUM_THREADS``,
else this process's share of the cores it may run on (CPU affinity, capped by a cgroup CPU quota): a command
:func:`register` s itself at start in a per-user folder of locked files, and when a stage starts (:func:`settle`)
it takes ``cores // talkavatar processes running``, at least 1. So `make -j2` of two fits on 2 cores runs them with
one thread each, and one fit alone keeps every core. The share is fixed for the whole stage (a fit's numbers do
not depend on when another process started).
"""

from __future__ import annotations

import fcntl
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

THREADS_ENV = "TALKAVATAR_THREADS"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
REGISTRY = Path(tempfile.gettempdir()) / f"talkavatar-processes-{os.getuid()}"
_registration: dict = {}  # this process's open, locked registry file (the kernel unlocks it when we exit)


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        cores = os.cpu_count() or 1
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def explicit_threads(flag: int | None = None) -> int | None:
    """``flag``, else ``$TALKAVATAR_THREADS``, else ``$OMP_NUM_THREADS``; None when none is set. Raises ValueError for
    a non-positive or non-integer setting."""
    for value, origin in ((flag, "--threads"), (os.environ.get(THREADS_ENV), THREADS_ENV),
                          (os.environ.get("OMP_NUM_THREADS"), "OMP_NUM_THREADS")):
        if value in (None, ""):
            continue
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"{origin}={value!r} is not a whole number of threads") from None
        if count < 1:
            raise ValueError(f"{origin}={value!r}: at least 1 thread")
        return count
    return None


def worker_threads() -> int:
    """Threads for a pool of independent pieces of work in this process (numpy releasing the GIL): the explicit
    count (:func:`explicit_threads`), else :func:`usable_cores`."""
    return explicit_threads() or usable_cores()

def prepare_environment(threads: int) -> None:
    """Before torch is imported: OpenMP/BLAS pools of ``threads`` threads (set in ``os.environ``, so that child
    processes such as ffmpeg inherit it)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)


def apply(threads: int) -> int:
    """Hold torch's intra-op pool and the BLAS pools of an already running process to ``threads``; returns it."""
    import torch
    from threadpoolctl import threadpool_limits

    prepare_environment(threads)
    os.environ[THREADS_ENV] = str(threads)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    return threads


def register() -> None:
    """Count this process among the talkavatar processes sharing the machine until it exits, and let
    :func:`settle` choose its threads (for commands run without an explicit count)."""
    if _registration:
        return
    try:
        REGISTRY.mkdir(parents=True, exist_ok=True)
        handle = open(REGISTRY / str(os.getpid()), "w")
    except OSError:  # no writable temp folder: this command counts no one and keeps every core
        return
    fcntl.flock(handle, fcntl.LOCK_EX)
    _registration["file"] = handle


def running_processes() -> int:
    """Registered talkavatar processes alive now, this one included; files of ended ones are removed."""
    alive = 0
    for path in REGISTRY.glob("[0-9]*") if REGISTRY.is_dir() else []:
        if path.name == str(os.getpid()):
            alive += 1
            continue
        try:
            with open(path) as other:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                path.unlink(missing_ok=True)  # its process ended: the kernel had dropped its lock
        except BlockingIOError:
            alive += 1
        except OSError:
            continue
    return max(1, alive)


def settle() -> int | None:
    """When a stage starts: a registered process (no explicit thread count) takes its share of the usable cores;
    returns the threads set, or None when the count is explicit or the process is not registered."""
    if not _registration:
        return None
    import torch

    threads = max(1, usable_cores() // running_processes())
    torch.set_num_threads(threads)
    return threads


@contextmanager
def one_thread() -> Iterator[None]:
    """Run a block on one torch thread (the count is restored after): CPU work on small tensors (a photo's track fit,
    pseudo's proxy and texture) spends more waking and synchronising a second thread than it gains, and far more
    when other processes hold the cores (the astronaut's tiny ``fit PHOTO`` at load ~3 on 2 cores: track 36.8 s with
    2 threads, 9.6 s with 1; pseudo 7.4 s / 3.6 s; benchmarks/RESULTS.md)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


MANY_THREADS = 4  # a process with this many threads of its own runs pseudo's small-tensor work on all of them


@contextmanager
def few_or_all_threads() -> Iterator[None]:
    """Run a block of small-tensor CPU work on one torch thread where the process has fewer than
    :data:`MANY_THREADS` (a 2-core machine, where two threads were 2-7x slower, :func:`one_thread`), else on all of
    them. Pseudo's proxy fit and texture, H200 host (16 idle cores), the astronaut: 2.68 / 5.24 s on one thread,
    1.96 / 3.92 s on 4, 1.67 / 3.77 s on 16, identical results (speed8's first GPU run; benchmarks/stage_threads.py
    measures it)."""
    import torch

    if torch.get_num_threads() >= MANY_THREADS:
        yield
    else:
        with one_thread():
            yield

