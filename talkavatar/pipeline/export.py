"""Export with a performance: drive-audio makes the motion of ``--audio`` (or ``--motion`` is read), then the export
stage writes the avatar performing it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from talkavatar.config import as_record
from talkavatar.errors import UsageError
from talkavatar.export.config import ExportConfig
from talkavatar.export.stage import ExportResult, check_request, run_export
from talkavatar.pipeline.speech import speech_performance
from talkavatar.render.stage import performance
from talkavatar.runner import StageContext, made_record, run_output, stderr_log, stderr_warn

Log = Callable[[str], None]


def export_input(bundle_path: Path, config: ExportConfig, output: Path, *, audio: Path | None = None,
                 motion: Path | None = None, transcript: str | None = None, force: bool = False,
                 log: Log = stderr_log, warn: Log = stderr_warn) -> ExportResult:
    """``talkavatar export``: the avatar of ``bundle_path`` written to ``output``, performing ``audio`` (drive-audio
    at ``config.fps``; a web player plays the sound) or ``motion`` (at its own rate, with the audio it names). An
    export made from the same bundle, inputs and settings is up to date (``force`` makes it again)."""
    if audio is not None and motion is not None:
        raise UsageError("give --audio or --motion, not both")
    check_request(config, Path(output), audio is not None or motion is not None)  # before minutes of drive-audio
    ctx = StageContext(None, log, warn)
    performed = None if motion is None else performance(Path(motion), None, warn=ctx.warn)
    sound = [] if performed is None or performed.sound is None else [performed.sound[0]]
    sources = [Path(p) for p in (audio, motion) if p is not None]
    record = made_record({"export": as_record(config), "transcript": transcript},
                         [Path(bundle_path), *sources, *sound])

    def make() -> ExportResult:
        made = performed
        if audio is not None:
            made = speech_performance(Path(audio), config.fps, None, transcript, ctx)
        if made is None:
            return run_export(bundle_path, config, output, log=log)
        return run_export(bundle_path, config, output, motion=made.motion, seconds=made.seconds,
                          audio=None if made.sound is None else made.sound[0], log=log)

    return run_output("export", [Path(output)], record, make, ExportResult.reused, ExportResult.as_dict, ctx,
                      force=force)
