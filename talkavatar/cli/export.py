"""`talkavatar export`: Write the avatar for other tools: a rigged GLB, BVH, ARKit CSV, a splat PLY or a web player."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import (BundleOpt, ConfigOpt, JsonOpt, config_option, emit, log, report_errors,
                                   resolve_bundle, warn)
from talkavatar.config import resolve
from talkavatar.export.config import ExportConfig

NAME = "export"
HELP = "Write the avatar for other tools: a rigged GLB, BVH, ARKit CSV, a splat PLY or a web player."
EPILOG = ("Examples:  talkavatar export -o avatar.glb --audio speech.wav ; "
          "talkavatar export -b photo.avatar --format bvh --motion talk.motion.safetensors -o talk.bvh ; "
          "talkavatar export --format ply -o avatar.ply ; "
          "talkavatar export --format web --audio speech.wav -o player/ && talkavatar view player/")
NO_ARGS_IS_HELP = False
CONFIG = ExportConfig

AudioOpt = Annotated[Optional[Path], typer.Option(
    "--audio", help="Speech the avatar says: runs drive-audio; glb bakes the animation, web plays the sound.",
    show_default=False)]
MotionOpt = Annotated[Optional[Path], typer.Option(
    "--motion", help="Motion to bake instead: a .motion.safetensors file or a Live Link Face ARKit CSV.",
    show_default=False)]
TranscriptOpt = Annotated[Optional[str], typer.Option(
    "--transcript", help="drive-audio: what is said (TEXT or a text FILE): forced alignment instead of phone "
                         "recognition.", show_default=False)]


def _opt(name: str, *flags: str):
    return config_option(ExportConfig, name, *flags)


@report_errors
def command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (or folder for web).",
                                         show_default=False)],
    bundle: BundleOpt = None,
    format: Annotated[Optional[str], _opt("format", "--format")] = None,
    audio: AudioOpt = None,
    motion: MotionOpt = None,
    transcript: TranscriptOpt = None,
    fps: Annotated[Optional[float], _opt("fps", "--fps")] = None,
    splats: Annotated[Optional[bool], _opt("splats", "--splats/--no-splats")] = None,
    width: Annotated[Optional[int], _opt("width", "--width")] = None,
    height: Annotated[Optional[int], _opt("height", "--height")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    settings = resolve(ExportConfig, NAME, config, {"format": format, "fps": fps, "splats": splats,
                                                     "width": width, "height": height})
    bundle_path = resolve_bundle(bundle)

    from talkavatar.audio.stage import transcript_text
    from talkavatar.pipeline.export import export_input

    result = export_input(bundle_path, settings, output, audio=audio, motion=motion,
                          transcript=transcript_text(transcript), log=log, warn=warn)
    emit(result.as_dict(), as_json, human=str(result.output))
