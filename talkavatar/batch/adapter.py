"""The one door from a batch job into the stages: :func:`run` makes a fit job's avatar or a render job's video.

Until the public Python API (``talkavatar.fit`` / ``talkavatar.render``) lands, this calls the stage functions
behind it; nothing else in ``talkavatar.batch`` imports a stage.
"""

from __future__ import annotations

from typing import Callable

from talkavatar.batch.jobs import Job

Log = Callable[[str], None]


def run(job: Job, device: str | None, force: bool, log: Log, warn: Log) -> dict:
    """Run ``job`` on ``device`` (None: auto) and return its JSON-ready result (paths, figures, stage seconds)."""
    if job.kind == "fit":
        from talkavatar.fit.stage import fit_input

        result, stages = fit_input(job.input, job.bundle, job.config, device=device, force=force, log=log,
                                   warn=warn)
        return {**result.as_dict(), "stage_seconds": stages}
    from talkavatar.render.stage import run_render

    result = run_render(job.bundle, job.config, audio=job.audio, motion=job.motion, output=job.output,
                        drive=job.drive, transcript=job.transcript, device=device, log=log, warn=warn)
    return result.as_dict()
