"""The one door from a batch job into the stages: :func:`run` makes a fit job's avatar or a render job's video
through the public Python API (``talkavatar.fit`` / ``talkavatar.render``); nothing else in ``talkavatar.batch``
runs a stage.
"""

from __future__ import annotations

from typing import Callable

import talkavatar
from talkavatar.batch.jobs import Job

Log = Callable[[str], None]


def run(job: Job, device: str | None, force: bool, log: Log, warn: Log) -> dict:
    """Run ``job`` on ``device`` (None: auto) and return its JSON-ready result (the command's ``--json``)."""
    if job.kind == "fit":
        result = talkavatar.fit(job.input, job.bundle, job.config, device=device, force=force, log=log, warn=warn)
    else:
        result = talkavatar.render(job.bundle, audio=job.audio, motion=job.motion, output=job.output,
                                   settings=job.config, drive=job.drive, transcript=job.transcript, device=device,
                                   force=force, log=log, warn=warn)
    return result.as_dict()
