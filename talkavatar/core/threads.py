"""How many CPU threads a process may use, and holding torch (and BLAS) to that many.

Two talkavatar processes on one machine must not each spin a thread per core against the other: on a 2-core
machine two concurrent tiny fits took 2.7x as long as running them one after the other (issue 22). The count comes
from, in order: an explicit value (``--threads``, a batch job's share), ``$TALKAVATAR_THREADS``,
``$OMP_NUM_THREADS``, else the cores this process may run on (CPU affinity, capped by a cgroup CPU quota).
Idle OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=passive``) unless the user chose otherwise: a
spinning thread steals the core another process's thread is waiting for.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

THREADS_ENV = "TALKAVATAR_THREADS"
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


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


def thread_count(explicit: int | None = None) -> int:
    """The threads to use: ``explicit``, else ``$TALKAVATAR_THREADS``, else ``$OMP_NUM_THREADS``, else the usable
    cores. Raises ValueError for a non-positive or non-integer setting."""
    for value, origin in ((explicit, "--threads"), (os.environ.get(THREADS_ENV), THREADS_ENV),
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
    return usable_cores()


def prepare_environment(threads: int) -> None:
    """Before torch is imported: OpenMP/BLAS pools of ``threads`` threads that sleep when idle (set in
    ``os.environ``, so child processes such as ffmpeg inherit it)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ[THREADS_ENV] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def apply(threads: int) -> int:
    """Hold torch's intra-op pool and the BLAS pools of an already running process to ``threads``; returns it."""
    import torch
    from threadpoolctl import threadpool_limits

    prepare_environment(threads)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    return threads
