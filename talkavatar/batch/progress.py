"""What `talkavatar batch` shows on stderr while it runs: a rich bar for the batch and a row per job on a terminal;
elsewhere (CI, ``2>log``, nohup) one plain line per change of a job's state and a heartbeat every 30 s."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from talkavatar.batch import ledger
from talkavatar.batch.jobs import Job

HEARTBEAT_SECONDS = 30.0
FINAL = ("done", "failed", "cancelled")


class BatchProgress:
    """A context manager; ``live`` draws rich bars (a terminal), else plain lines; ``quiet`` shows nothing."""

    def __init__(self, console: Console, output: Path, live: bool, quiet: bool = False):
        self.console, self.output, self.quiet = console, output, quiet
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[status]}"), console=console) \
            if live and not quiet else None
        self.rows: dict[str, int] = {}
        self.shown: dict[str, str] = {}
        self.total = 0
        self.finished: set[str] = set()
        self.overall = None
        self.heartbeat = time.monotonic()

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def planned(self, todo: list[Job], skipped: dict[str, dict], where: str, shares: dict) -> None:
        self.total = len(todo)
        placed = ", ".join(f"{kind}: {s.threads} thread(s)" + (f" + {s.gpus:.2g} GPU" if s.gpus else "")
                           for kind, s in shares.items())
        self.note(f"batch: {len(todo)} job(s) to run, {len(skipped)} finished before (skipped) -> {self.output}"
                  + (f"; cluster {where}, per job {placed}" if todo else ""))
        if self.bar is None:
            return
        self.overall = self.bar.add_task("[bold]batch[/bold]", total=max(1, len(todo)), status="")
        for job in todo:
            self.rows[job.name] = self.bar.add_task(f"  {escape(job.name)} ({job.kind})", total=1, status="queued")

    def update(self, job: Job, record: dict | None) -> None:
        """Show the job's current state (``record``: its status record, None while queued)."""
        status = self._describe(job, record)
        if record is not None and record.get("state") in FINAL:
            self.finished.add(job.name)
        if status != self.shown.get(job.name):
            self.shown[job.name] = status
            if self.bar is not None:
                self.bar.update(self.rows[job.name], completed=int(job.name in self.finished), status=escape(status))
                self.bar.update(self.overall, completed=len(self.finished),
                                status=f"{len(self.finished)}/{self.total} finished")
            else:
                self.note(f"batch: {job.name} ({job.kind}) {status}")
        if self.bar is None and time.monotonic() - self.heartbeat > HEARTBEAT_SECONDS:
            self.heartbeat = time.monotonic()
            self.note(f"batch: {len(self.finished)}/{self.total} finished")

    def _describe(self, job: Job, record: dict | None) -> str:
        if record is None or record.get("state") is None or "started" not in record:
            return "queued"
        state = record["state"]
        where = f"{record.get('host')} node {str(record.get('node'))[:8]}"
        if state == "running":
            again = f", attempt {record['attempt']}" if record.get("attempt", 1) > 1 else ""
            return f"running on {where}{again}: {self._last_line(job)}"
        if state == "done":
            return f"done in {record.get('seconds')} s on {where}" + \
                (f" after {record['attempt']} attempts" if record.get("attempt", 1) > 1 else "")
        return f"{state}: {record.get('error')}"

    def _last_line(self, job: Job) -> str:
        try:
            with open(ledger.log_path(self.output, job.name), "rb") as f:
                f.seek(max(0, f.seek(0, 2) - 400))
                lines = f.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][9:][:100] if lines else ""

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(escape(message), soft_wrap=True)
