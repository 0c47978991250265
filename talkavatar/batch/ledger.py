"""What a batch knows about each job on disk, in the output directory every node sees.

``<output>/status/<job>.json``: state (running, done, failed, cancelled), the job's fingerprint, attempt number,
node, host, pid, times and result; written atomically, so a killed worker leaves the previous record whole.
``<output>/logs/<job>.log``: the job's log lines, appended by every attempt.
A job is finished when its record says done with the fingerprint the job has now (same settings, same input
bytes) and its output exists; a re-run skips it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from talkavatar.batch.jobs import Job
from talkavatar.bundle import sha256_file
from talkavatar.bundle.atomic import write_bytes_atomic

STATUS_DIR = "status"
LOG_DIR = "logs"


def status_path(output: Path, name: str) -> Path:
    return Path(output) / STATUS_DIR / f"{name}.json"


def log_path(output: Path, name: str) -> Path:
    return Path(output) / LOG_DIR / f"{name}.log"


def fingerprint(job: Job) -> str:
    """sha256 of the job's spec and of what it reads: its photo/video/audio/motion bytes, and the stage records of
    a bundle it reads (they hold the sha256 of every stage output), less the fit record a fit job writes itself."""
    h = hashlib.sha256(json.dumps(job.spec(), sort_keys=True).encode())
    reads = [job.input, job.audio, job.motion] + ([job.bundle] if job.kind == "render" else [])
    for path in reads:
        if path is None:
            continue
        h.update(str(path).encode())
        if (path / "bundle.json").is_file():
            h.update(_stage_records(path, without=job.kind).encode())
        else:
            h.update(sha256_file(path).encode() if path.is_file() else b"missing")
    return h.hexdigest()


def _stage_records(bundle: Path, without: str) -> str:
    """The bundle's stage records (less stage ``without``) as canonical JSON."""
    try:
        stages = json.loads((bundle / "bundle.json").read_text()).get("stages", {})
    except (OSError, ValueError):
        return "unreadable"
    return json.dumps({k: v for k, v in stages.items() if k != without}, sort_keys=True)


def read_status(output: Path, name: str) -> dict | None:
    """The job's last status record, or None (never run, or unreadable: run it again)."""
    try:
        record = json.loads(status_path(output, name).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_status(output: Path, name: str, record: dict) -> None:
    path = status_path(output, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, (json.dumps(record, indent=2, default=str) + "\n").encode())


def write_summary(output: Path, summary: dict) -> None:
    """``<output>/summary.json``: the last batch run's summary."""
    Path(output).mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(Path(output) / "summary.json", (json.dumps(summary, indent=2, default=str) + "\n").encode())


def finished(job: Job, output: Path) -> dict | None:
    """The job's done record when the job need not run again, else None."""
    record = read_status(output, job.name)
    if record is None or record.get("state") != "done" or record.get("fingerprint") != fingerprint(job):
        return None
    made = (job.bundle / "bundle.json").is_file() and _has_fit(job.bundle) if job.kind == "fit" \
        else job.output is not None and job.output.exists()
    return record if made else None


def _has_fit(bundle: Path) -> bool:
    try:
        return bool(json.loads((bundle / "bundle.json").read_text()).get("stages", {}).get("fit"))
    except (OSError, ValueError):
        return False


class JobLog:
    """Appends timestamped lines to the job's log file (opened per line: a killed worker loses nothing)."""

    def __init__(self, output: Path, name: str):
        self.path = log_path(output, name)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, message: str) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%H:%M:%S')} {message}\n")

    def warn(self, message: str) -> None:
        self(f"warning: {message}")
