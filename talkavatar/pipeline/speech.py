"""Speech to video: drive-audio makes the motion of ``--audio``, render performs it with the sound muxed in."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.audio.drive import drive_audio
from talkavatar.config import as_record
from talkavatar.errors import UsageError
from talkavatar.render.config import RenderConfig
from talkavatar.render.stage import (DEFAULT_FPS, Performance, RenderResult, check_output, choose_format,
                                     default_output, performance, run_render)
from talkavatar.runner import StageContext, made_record, run_output, stderr_log, stderr_warn

Log = Callable[[str], None]


def render_input(bundle_path: Path, config: RenderConfig, *, audio: Path | None = None, motion: Path | None = None,
                 output: Path | None = None, export_ply: Path | None = None, drive: DriveAudioConfig | None = None,
                 transcript: str | None = None, device: str | None = None, force: bool = False,
                 log: Log = stderr_log, warn: Log = stderr_warn, synchronize: bool = False,
                 backend: str = "auto") -> RenderResult:
    """``talkavatar render``: the avatar of ``bundle_path`` speaking ``audio`` (drive-audio with ``drive``'s
    settings, at the render's fps) or performing ``motion``; with neither, only ``export_ply``. A video made from
    the same bundle, inputs, settings and device type is up to date (``force`` makes it again)."""
    if audio is not None and motion is not None:
        raise UsageError("give --audio or --motion, not both")
    ctx = StageContext(device, log, warn)
    if audio is None and motion is None:
        return run_render(bundle_path, config, None, ctx, export_ply=export_ply, synchronize=synchronize,
                          backend=backend)
    fmt = choose_format(config, output)
    out = Path(output) if output is not None else default_output(Path(audio or motion), fmt)
    check_output(out, fmt)  # a wrong -o fails now, not after drive-audio and the frames
    performed = None if motion is None else performance(Path(motion), config.fps, warn=ctx.warn)
    drive = drive or DriveAudioConfig()
    made_from = {"render": as_record(config), "device": ctx.device.type, "export_ply": export_ply and str(export_ply),
                 "drive-audio": None if audio is None else as_record(drive), "transcript": transcript}
    sound = [] if performed is None or performed.sound is None else [performed.sound[0]]
    record = made_record(made_from, [Path(bundle_path), Path(audio or motion), *sound])

    def make() -> RenderResult:
        made = performed or speech_performance(Path(audio), config.fps or DEFAULT_FPS, drive, transcript, ctx)
        return run_render(bundle_path, config, made, ctx, output=out, export_ply=export_ply,
                          synchronize=synchronize, backend=backend)

    outputs = [out] + ([] if export_ply is None else [Path(export_ply)])
    return run_output("render", outputs, record, make, RenderResult.reused, RenderResult.as_dict, ctx, force=force)


def speech_performance(audio: Path, fps: float, drive: DriveAudioConfig | None, transcript: str | None,
                       ctx: StageContext) -> Performance:
    """drive-audio on ``audio`` at ``fps`` (``drive``'s settings), as a :class:`Performance` with the sound."""
    drive = drive or DriveAudioConfig()
    with ctx.timed("drive_audio"):
        made = drive_audio(audio, transcript=transcript, language=drive.language, fps=fps, seed=drive.seed,
                           style=drive.style, gestures=drive.gestures)
    for message in made.warnings:
        ctx.warn(message)
    ctx.log(f"drive-audio: {made.seconds:.1f} s of speech -> {made.motion.frames} frames "
            f"({ctx.timings['drive_audio']:.2f} s)")
    return performance(made.motion, fps, sound=audio, seconds=made.seconds)
