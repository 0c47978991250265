"""Speech to video: drive-audio makes the motion of ``--audio``, render performs it with the sound muxed in."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.audio.drive import drive_audio
from talkavatar.errors import UsageError
from talkavatar.render.config import RenderConfig
from talkavatar.render.stage import (DEFAULT_FPS, RenderResult, check_output, choose_format, default_output,
                                     performance, run_render)
from talkavatar.runner import StageContext, stderr_log, stderr_warn

Log = Callable[[str], None]


def render_input(bundle_path: Path, config: RenderConfig, *, audio: Path | None = None, motion: Path | None = None,
                 output: Path | None = None, export_ply: Path | None = None, drive: DriveAudioConfig | None = None,
                 transcript: str | None = None, device: str | None = None, log: Log = stderr_log,
                 warn: Log = stderr_warn, synchronize: bool = False, backend: str = "auto") -> RenderResult:
    """``talkavatar render``: the avatar of ``bundle_path`` speaking ``audio`` (drive-audio with ``drive``'s
    settings, at the render's fps) or performing ``motion``; with neither, only ``export_ply``."""
    if audio is not None and motion is not None:
        raise UsageError("give --audio or --motion, not both")
    ctx = StageContext(device, log, warn)
    if audio is not None or motion is not None:  # a wrong -o fails now, not after drive-audio and the frames
        fmt = choose_format(config, output)
        check_output(Path(output) if output is not None else default_output(Path(audio or motion), fmt), fmt)
    performed = None
    if audio is not None:
        fps = config.fps or DEFAULT_FPS
        drive = drive or DriveAudioConfig()
        with ctx.timed("drive_audio"):
            made = drive_audio(Path(audio), transcript=transcript, fps=fps, seed=drive.seed, style=drive.style,
                               gestures=drive.gestures)
        for message in made.warnings:
            ctx.warn(message)
        log(f"drive-audio: {made.seconds:.1f} s of speech -> {made.motion.frames} frames "
            f"({ctx.timings['drive_audio']:.2f} s)")
        performed = performance(made.motion, fps, sound=Path(audio), seconds=made.seconds)
    elif motion is not None:
        performed = performance(Path(motion), config.fps, warn=ctx.warn)
    return run_render(bundle_path, config, performed, ctx, output=output, export_ply=export_ply,
                      synchronize=synchronize, backend=backend)
