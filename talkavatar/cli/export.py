"""`talkavatar export`: Write the avatar for other tools: a rigged GLB, BVH, ARKit CSV, a splat PLY or a web player."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import (BundleOpt, ConfigOpt, ForceOpt, JsonOpt, emit, log, report_errors, resolve_bundle,
                                   warn)
from talkavatar.cli.options import Settings, with_settings
from talkavatar.export.config import ExportConfig

NAME = "export"
HELP = "Write the avatar for other tools: a rigged GLB, BVH, ARKit CSV, a splat PLY or a web player."
EPILOG = ("Examples:  talkavatar export -o avatar.glb --audio speech.wav ; "
          "talkavatar export -b photo.avatar --format bvh --motion talk.motion.safetensors -o talk.bvh ; "
          "talkavatar export --format ply -o avatar.ply ; "
          "talkavatar export --format web --audio speech.wav -o player/ && talkavatar view player/")
NO_ARGS_IS_HELP = False

AudioOpt = Annotated[Optional[Path], typer.Option(
    "--audio", help="Speech the avatar says: runs drive-audio; glb bakes the animation, web plays the sound.",
    show_default=False)]
MotionOpt = Annotated[Optional[Path], typer.Option(
    "--motion", help="Motion to bake instead: a .motion.safetensors file or a Live Link Face ARKit CSV.",
    show_default=False)]
TranscriptOpt = Annotated[Optional[str], typer.Option(
    "--transcript", help="drive-audio: what is said (TEXT or a text FILE): forced alignment instead of phone "
                         "recognition.", show_default=False)]


@report_errors
@with_settings(settings=Settings(ExportConfig, NAME))
def command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (or folder for web).",
                                         show_default=False)],
    bundle: BundleOpt = None,
    *,
    settings: ExportConfig,
    audio: AudioOpt = None,
    motion: MotionOpt = None,
    transcript: TranscriptOpt = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    force: ForceOpt = False,
) -> None:
    bundle_path = resolve_bundle(bundle)

    from talkavatar.audio.stage import transcript_text
    from talkavatar.pipeline.export import export_input

    result = export_input(bundle_path, settings, output, audio=audio, motion=motion,
                          transcript=transcript_text(transcript), force=force, log=log,
                          warn=warn)
    emit(result.as_dict(), as_json, human=str(result.output))
