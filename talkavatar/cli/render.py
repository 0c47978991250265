"""`talkavatar render`: Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.cli.common import (BundleOpt, ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors,
                                   resolve_bundle, warn)
from talkavatar.cli.options import Settings, with_settings
from talkavatar.render.config import RenderConfig

NAME = "render"
HELP = "Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."
EPILOG = ("Examples:  talkavatar render --audio speech.wav ; "
          "talkavatar render -b photo.avatar --motion talk.motion.safetensors -o talk.mp4 ; "
          "talkavatar render --audio speech.wav --camera orbit --background transparent --format webm ; "
          "talkavatar render --export-ply avatar.ply")
NO_ARGS_IS_HELP = False


@report_errors
@with_settings(settings=Settings(RenderConfig, NAME),
               drive=Settings(DriveAudioConfig, "drive-audio", only=("seed", "style", "gestures"),
                              prefix="drive-audio: "))
def command(
    bundle: BundleOpt = None,
    audio: Annotated[Optional[Path], typer.Option(
        "--audio", help="Speech to speak (wav, flac, mp3, ogg, m4a): runs drive-audio and muxes the sound.",
        show_default=False)] = None,
    motion: Annotated[Optional[Path], typer.Option(
        "--motion", help="Motion to perform: a .motion.safetensors file or a Live Link Face ARKit CSV.",
        show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Output file (or folder for png). (default: <audio or motion stem>.mp4 here)",
        show_default=False)] = None,
    *,
    settings: RenderConfig,
    export_ply: Annotated[Optional[Path], typer.Option(
        "--export-ply", help="Also write the avatar as a standard 3DGS PLY file (first frame's pose; rest pose "
                             "without --audio/--motion).", show_default=False)] = None,
    transcript: Annotated[Optional[str], typer.Option(
        "--transcript", help="drive-audio: what is said (TEXT or a text FILE): forced alignment instead of phone "
                             "recognition.", show_default=False)] = None,
    drive: DriveAudioConfig,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
) -> None:
    bundle_path = resolve_bundle(bundle)

    from talkavatar import api
    from talkavatar.audio.stage import transcript_text

    result = api.render(bundle_path, audio=audio, motion=motion, output=output, settings=settings, drive=drive,
                        transcript=transcript_text(transcript), export_ply=export_ply, device=device,
                        force=force, log=log, warn=warn)
    record = result.as_dict()
    if result.output is not None and not result.skipped:
        log(f"{result.frames} frames ({result.seconds:.2f} s) in {result.total_seconds:.2f} s "
            f"({record['realtime_factor']}x real time, {result.backend} on {result.device})")
    human = "\n".join(str(p) for p in (result.output, result.ply) if p is not None)
    emit(record, as_json, human=human)
