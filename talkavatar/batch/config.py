"""`BatchConfig`: the settings of `talkavatar batch` (how jobs are placed; each job's own settings are in JOBS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from talkavatar.config import check_fields, setting

# Jobs that share one GPU by default (fractions 1/N of a GPU each), from benchmarks/batch_gpu.py on one H200 with
# 16 cores (2026-12-03, RESULTS.md): fast fits 1/2/4/8 at once -> 88/158/247/319 per hour (1.3 GiB each); 60 s
# 1080x1920 renders 1/2 at once -> 234/446 per hour.
FITS_PER_GPU = 8
RENDERS_PER_GPU = 2


@dataclass(frozen=True)
class BatchConfig:
    address: Optional[str] = setting(None, "Ray cluster to join: auto (the one `ray start` made on this machine) or "
                                           "HOST:PORT. (default: a local cluster started and stopped for this batch)")
    threads: Optional[int] = setting(None, "CPU threads of each job. (default: the cluster's CPUs shared among the "
                                           "jobs to run, at least 1; with GPUs, the CPUs per GPU shared among the "
                                           "jobs on it)", ge=1)
    fits_per_gpu: int = setting(FITS_PER_GPU, "Fit jobs that share one GPU (each gets 1/N of it).", ge=1)
    renders_per_gpu: int = setting(RENDERS_PER_GPU, "Render jobs that share one GPU (each gets 1/N of it).", ge=1)
    retries: int = setting(2, "Times a job is run again when its worker process or node dies (a job that fails by "
                              "itself, e.g. on a photo without a person, is not retried).", ge=0)

    def __post_init__(self):
        check_fields(self)
