"""Running a job file on Ray: skip what is finished, place the rest, follow them, and sum up.

Each job is one Ray task (:func:`talkavatar.batch.worker.run_job`); a render whose avatar is made by a fit job of
the same batch gets that task's result as an argument, so Ray starts it when the fit is done. A job that fails does
not stop the others; a worker or node that dies has its jobs run again (``retries``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections import Counter
from pathlib import Path
from typing import Protocol

from talkavatar.batch import cluster, ledger
from talkavatar.batch.config import BatchConfig
from talkavatar.batch.jobs import Job, JobFile
from talkavatar.batch.worker import run_job

POLL_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 30.0


class Display(Protocol):
    """What the batch tells its user while it runs (see :class:`talkavatar.batch.progress.BatchProgress`)."""

    def planned(self, todo: list[Job], skipped: dict[str, dict], where: str, shares: dict) -> None: ...

    def update(self, job: Job, record: dict | None) -> None: ...

    def note(self, message: str) -> None: ...


def plan(job_file: JobFile, force: bool) -> tuple[list[Job], dict[str, dict]]:
    """(jobs to run, {name: done record} of jobs to skip). A render is skipped only with its fit job."""
    todo, skipped = [], {}
    for job in job_file.jobs:
        record = None if force else ledger.finished(job, job_file.output)
        if record is not None and (job.after is None or job.after in skipped):
            skipped[job.name] = record
        else:
            todo.append(job)
    return todo, skipped


def run_batch(job_file: JobFile, config: BatchConfig, display: Display, force: bool = False) -> dict:
    """Run the job file's unfinished jobs; returns the summary (see :func:`summary`)."""
    started = time.time()
    todo, skipped = plan(job_file, force)
    records: dict[str, dict] = {}
    where = "no cluster (nothing to run)"
    resources = None
    if todo:
        # Ray prints its notices (a worker died, a node is lost: pages of its logs) on stdout, which carries only
        # the summary; they go to logs/ray.log, and the jobs' status lines say what happened.
        ray_log = ledger.log_path(job_file.output, "ray")
        ray_log.parent.mkdir(parents=True, exist_ok=True)
        with open(ray_log, "a", encoding="utf-8") as notices, contextlib.redirect_stdout(notices):
            where = cluster.connect(config.address)
            try:
                resources = cluster.resources()
                shares = cluster.shares(Counter(job.kind for job in todo), resources, config)
                display.planned(todo, skipped, where, shares)
                refs = _submit(todo, job_file.output, shares, config, force, started)
                records = _follow(refs, job_file.output, display, started)
            finally:
                cluster.disconnect()
    else:
        display.planned(todo, skipped, where, {})
    return summary(job_file, records, skipped, time.time() - started, where, resources)


def _submit(todo: list[Job], output: Path, shares: dict, config: BatchConfig, force: bool, run: float) -> dict:
    """{object ref: job} of the submitted tasks (renders after the fit that makes their bundle)."""
    import ray


    task = ray.remote(run_job)
    refs: dict[str, object] = {}
    for job in todo:
        share = shares[job.kind]
        refs[job.name] = task.options(
            num_cpus=share.threads, num_gpus=share.gpus, max_retries=config.retries, retry_exceptions=False,
            name=f"talkavatar {job.kind} {job.name}").remote(job, output, share.threads, force, run,
                                                                  refs.get(job.after))
    return {refs[job.name]: job for job in todo}


def _follow(pending: dict, output: Path, display: Display, since: float) -> dict[str, dict]:
    """Wait for every task, showing each job's state (from status records written after ``since``); Ctrl-C
    cancels the running jobs (their stages stop cleanly) and re-raises."""
    import ray

    records = {}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                job = pending.pop(ref)
                records[job.name] = _result(ref, job, output)
                display.update(job, records[job.name])
            for job in pending.values():
                record = ledger.read_status(output, job.name)
                display.update(job, record if record and record.get("started", 0) >= since else None)
    except KeyboardInterrupt:
        display.note(f"interrupted: cancelling {len(pending)} job(s); finished bundles and videos stay valid")
        for ref in pending:
            ray.cancel(ref)
        ray.wait(list(pending), num_returns=len(pending), timeout=CANCEL_GRACE_SECONDS)
        raise
    return records


def _result(ref, job: Job, output: Path) -> dict:
    """The task's status record; a task Ray gave up on (worker or node died too often, cancelled) as failed."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as e:
        last = ledger.read_status(output, job.name) or {"job": job.name, "kind": job.kind}
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return {**last, "state": "failed", "error": f"{type(e).__name__}: {reason}"}


def summary(job_file: JobFile, records: dict[str, dict], skipped: dict[str, dict], seconds: float, where: str,
            resources) -> dict:
    """The batch's result: one row per job (in file order) and the counts; also written to
    ``<output>/summary.json``."""
    rows = []
    for job in job_file.jobs:
        record = records.get(job.name) or {**skipped.get(job.name, {}), "state": "skipped"}
        rows.append({"job": job.name, "kind": job.kind, "state": record.get("state"),
                     "output": str(job.output or job.bundle), "node": record.get("node"),
                     "host": record.get("host"), "attempts": record.get("attempt"), "threads": record.get("threads"),
                     "seconds": record.get("seconds"), "error": record.get("error"),
                     "log": str(ledger.log_path(job_file.output, job.name))})
    counts = Counter(row["state"] for row in rows)
    out = {"output_dir": str(job_file.output), "cluster": where, "seconds": round(seconds, 2),
           "jobs": len(rows), **{state: counts.get(state, 0) for state in ("done", "skipped", "failed")},
           "nodes": sorted({row["node"] for row in rows if row["node"] and row["state"] == "done"}),
           "resources": None if resources is None else dataclasses.asdict(resources), "rows": rows}
    ledger.write_summary(job_file.output, out)
    return out
