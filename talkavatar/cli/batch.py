"""`talkavatar batch`: Run many fits and renders from a job file, on a local or an existing Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.batch.config import BatchConfig
from talkavatar.cli.common import ConfigOpt, ForceOpt, JsonOpt, emit, flags, report_errors, stderr
from talkavatar.cli.options import Settings, with_settings

NAME = "batch"
HELP = "Run many fits and renders from a job file (TOML, CSV or JSONL), on a local or an existing Ray cluster."
EPILOG = ("Examples:  talkavatar batch jobs.toml ; talkavatar batch jobs.csv -o /shared/out --json ; "
          "ray start --head && talkavatar batch jobs.toml --address auto.  Each record of the job file is one of: "
          "fit = \"photos/anna.jpg\" (photo, video or bundle -> anna.avatar) ; render = \"anna\" (a fit job's "
          "name or a bundle) with audio = \"hello.wav\" or motion = FILE (-> anna-hello.mp4) ; photos = \"team/\" "
          "with audio = \"lines/\" (every photo x every audio); plus any fit or render setting (preset = "
          "\"tiny\", width = 512, ...).  Finished jobs are skipped when run again; exit 1 if any job failed.")
NO_ARGS_IS_HELP = True


@report_errors
@with_settings(settings=Settings(BatchConfig, NAME))
def command(
    jobs: Annotated[Path, typer.Argument(help="Job file: .toml, .csv or .jsonl (see the man page for its keys).",
                                         show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Directory for bundles, videos, logs/ and status/, on a filesystem every node sees. "
                               "[default: the job file's output, else <JOBS stem>.batch beside it]",
        show_default=False)] = None,
    *,
    settings: BatchConfig,
    config: ConfigOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    from talkavatar.batch.jobs import load_jobs
    from talkavatar.batch.progress import BatchProgress
    from talkavatar.batch.run import run_batch

    job_file = load_jobs(jobs, output)
    with BatchProgress(stderr, job_file.output, live=stderr.is_terminal, quiet=flags.quiet) as display:
        result = run_batch(job_file, settings, display, force=force)
    emit(result, json, _table(result))
    if result["failed"]:
        raise typer.Exit(1)


def _table(result: dict) -> str:
    """The summary for people: a row per job, then the counts."""
    lines = [f"{'job':<24} {'kind':<6} {'state':<8} {'node':<8} {'tries':>5} {'seconds':>8}  output"]
    for row in result["rows"]:
        lines.append(f"{row['job'][:24]:<24} {row['kind']:<6} {row['state']:<8} {str(row['node'] or '-')[:8]:<8} "
                     f"{row['attempts'] or '-':>5} {row['seconds'] if row['seconds'] is not None else '-':>8}  "
                     f"{row['output']}" + (f"\n    error: {row['error']} (log: {row['log']})"
                                            if row['state'] == 'failed' else ""))
    lines.append(f"{result['jobs']} job(s): {result['done']} done, {result['skipped']} skipped, {result['failed']} "
                 f"failed in {result['seconds']} s on {result['cluster']}; outputs in {result['output_dir']}")
    return "\n".join(lines)
