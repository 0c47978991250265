"""`talkavatar render`: Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.cli.common import (config_option, BundleOpt, ConfigOpt, DeviceOpt, JsonOpt, emit, log,
                                   report_errors, resolve_bundle, warn)
from talkavatar.config import resolve
from talkavatar.render.config import RenderConfig

NAME = "render"
HELP = "Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."
EPILOG = ("Examples:  talkavatar render --audio speech.wav ; "
          "talkavatar render -b photo.avatar --motion talk.motion.safetensors -o talk.mp4 ; "
          "talkavatar render --audio speech.wav --camera orbit --background transparent --format webm ; "
          "talkavatar render --export-ply avatar.ply")
NO_ARGS_IS_HELP = False
CONFIG = RenderConfig


def _opt(name: str, *flags: str):
    return config_option(RenderConfig, name, *flags)


def _drive_opt(name: str, *flags: str):
    return config_option(DriveAudioConfig, name, *flags, prefix="drive-audio: ")


@report_errors
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
    width: Annotated[Optional[int], _opt("width", "--width")] = None,
    height: Annotated[Optional[int], _opt("height", "--height")] = None,
    fps: Annotated[Optional[float], _opt("fps", "--fps")] = None,
    camera: Annotated[Optional[str], _opt("camera", "--camera")] = None,
    yaw: Annotated[Optional[float], _opt("yaw", "--yaw")] = None,
    pitch: Annotated[Optional[float], _opt("pitch", "--pitch")] = None,
    distance: Annotated[Optional[float], _opt("distance", "--distance")] = None,
    orbit_degrees: Annotated[Optional[float], _opt("orbit_degrees", "--orbit-degrees")] = None,
    background: Annotated[Optional[str], _opt("background", "--background")] = None,
    start: Annotated[Optional[float], _opt("start", "--start")] = None,
    duration: Annotated[Optional[float], _opt("duration", "--duration")] = None,
    format: Annotated[Optional[str], _opt("format", "--format")] = None,
    batch: Annotated[Optional[int], _opt("batch", "--batch")] = None,
    export_ply: Annotated[Optional[Path], typer.Option(
        "--export-ply", help="Also write the avatar as a standard 3DGS PLY file (first frame's pose; rest pose "
                             "without --audio/--motion).", show_default=False)] = None,
    transcript: Annotated[Optional[str], typer.Option(
        "--transcript", help="drive-audio: what is said (TEXT or a text FILE): forced alignment instead of phone "
                             "recognition.", show_default=False)] = None,
    seed: Annotated[Optional[int], _drive_opt("seed", "--seed")] = None,
    style: Annotated[Optional[str], _drive_opt("style", "--style")] = None,
    gestures: Annotated[Optional[bool], _drive_opt("gestures", "--gestures/--no-gestures")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
) -> None:
    settings = resolve(RenderConfig, NAME, config, {
        "width": width, "height": height, "fps": fps, "camera": camera, "yaw": yaw, "pitch": pitch,
        "distance": distance, "orbit_degrees": orbit_degrees, "background": background, "start": start,
        "duration": duration, "format": format, "batch": batch})
    drive = resolve(DriveAudioConfig, "drive-audio", config, {"seed": seed, "style": style, "gestures": gestures})
    bundle_path = resolve_bundle(bundle)

    from talkavatar import api
    from talkavatar.audio.stage import transcript_text

    result = api.render(bundle_path, audio=audio, motion=motion, output=output, settings=settings, drive=drive,
                        transcript=transcript_text(transcript), export_ply=export_ply, device=device, log=log,
                        warn=warn)
    record = result.as_dict()
    if result.output is not None:
        log(f"{result.frames} frames ({result.seconds:.2f} s) in {result.total_seconds:.2f} s "
            f"({record['realtime_factor']}x real time, {result.backend} on {result.device})")
    human = "\n".join(str(p) for p in (result.output, result.ply) if p is not None)
    emit(record, as_json, human=human)
