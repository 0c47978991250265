"""The body of one batch job in a Ray worker process: hold torch to the job's threads, record the attempt, run
the job through :mod:`talkavatar.batch.adapter`, record the outcome. A job's own failure is returned as a failed
record (Ray does not retry it); a worker killed mid-job is retried by Ray, and the bundle stays valid because
stages write atomically.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path

from talkavatar.batch import adapter, ledger
from talkavatar.batch.jobs import Job
from talkavatar.core import threads as thread_pool
from talkavatar.errors import TalkavatarError


def run_job(job: Job, output: Path, threads: int, force: bool, run: float, upstream: dict | None = None) -> dict:
    """Run ``job`` with ``threads`` CPU threads as part of the batch run that started at ``run`` (a timestamp);
    ``upstream`` is the record of the fit job that made its bundle. Returns the job's status record (state done
    or failed)."""
    import ray

    thread_pool.apply(threads)
    context = ray.get_runtime_context()
    previous = ledger.read_status(output, job.name) or {}
    retried = previous.get("run") == run and previous.get("state") == "running"  # this run's worker died
    attempt = previous.get("attempt", 0) + 1 if retried else 1
    record = {"job": job.name, "kind": job.kind, "state": "running", "run": run, "attempt": attempt,
              "node": context.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(), "threads": threads,
              "gpus": [str(g) for g in ray.get_gpu_ids()], "started": time.time(), "spec": job.spec()}
    log = ledger.JobLog(output, job.name)
    log(f"attempt {attempt} on {record['host']} (node {record['node'][:8]}, pid {record['pid']}, {threads} "
        f"thread(s), GPUs {record['gpus'] or 'none'})")
    if upstream is not None and upstream.get("state") not in ("done", "skipped"):
        return _finish(output, record, log, "failed", error=f"its fit job {job.after!r} failed")
    record["fingerprint"] = ledger.fingerprint(job)
    ledger.write_status(output, job.name, record)
    device = job.device or ("cuda" if record["gpus"] else "cpu")
    try:
        result = adapter.run(job, device, force, log, log.warn)
    except TalkavatarError as e:
        return _finish(output, record, log, "failed", error=e.message + (f" (tip: {e.tip})" if e.tip else ""))
    except KeyboardInterrupt:  # ray.cancel: the stage saved what it could; the bundle is valid
        _finish(output, record, log, "cancelled", error="cancelled")
        raise
    except Exception as e:  # noqa: BLE001 - any other fault of this job must not stop the batch
        log(traceback.format_exc())
        return _finish(output, record, log, "failed", error=f"{type(e).__name__}: {e} (traceback in the log)")
    return _finish(output, record, log, "done", result=result)


def _finish(output: Path, record: dict, log: ledger.JobLog, state: str, **fields) -> dict:
    record = {**record, **fields, "state": state, "finished": time.time()}
    record["seconds"] = round(record["finished"] - record["started"], 2)
    ledger.write_status(output, record["job"], record)
    log(f"{state} in {record['seconds']} s" + (f": {record['error']}" if "error" in record else ""))
    return record
