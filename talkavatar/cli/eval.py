"""`talkavatar eval`: Measure an avatar: self-reenactment, identity, control accuracy and lip sync."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import (config_option, BundleOpt, ConfigOpt, DeviceOpt, JsonOpt, log, report_errors,
                                   resolve_bundle)
from talkavatar.config import resolve
from talkavatar.errors import UsageError
from talkavatar.eval.config import EvalConfig

NAME = "eval"
CONFIG = EvalConfig
HELP = "Measure an avatar: self-reenactment, identity, control accuracy and lip sync."
EPILOG = ("Examples:  talkavatar eval --video person.mp4 --json ; "
          "talkavatar eval -b photo.avatar --video person.mp4 --max-frames 30 --report eval-report/ ; "
          "talkavatar eval -b frame0.avatar --video person.mp4 --start 12 --stride 18 --max-frames 4 ; "
          "talkavatar eval -b me-talking.avatar --held-out --stride 5 ; "
          "talkavatar eval --render talk.mp4 --audio speech.wav --photo photo.jpg ; "
          "talkavatar eval -b photo.avatar --render talk.mp4 --motion talk.motion.safetensors --report out/")
NO_ARGS_IS_HELP = True


def _opt(name: str, *flags: str):
    return config_option(EvalConfig, name, *flags)


@report_errors
def command(
    bundle: BundleOpt = None,
    video: Annotated[Optional[Path], typer.Option(
        "--video", help="Self-reenactment: a reference video of the avatar's person; the avatar replays it and is "
                        "compared inside the person mask (PSNR, SSIM, L1, perceptual).", show_default=False)] = None,
    held_out: Annotated[bool, typer.Option(
        "--held-out", help="Self-reenactment on the frames of the bundle's clip that `fit VIDEO --holdout` kept out "
                           "of tracking and fitting (--start counts from the first of them).")] = False,
    render: Annotated[Optional[Path], typer.Option(
        "--render", help="A rendered clip to measure: identity (--photo), control accuracy (--motion, -b) and lip "
                         "sync (--audio, else the clip's own sound).", show_default=False)] = None,
    audio: Annotated[Optional[Path], typer.Option(
        "--audio", help="--render: the speech to score lip sync against. (default: the clip's sound track)",
        show_default=False)] = None,
    photo: Annotated[Optional[Path], typer.Option(
        "--photo", help="--render: the photo the avatar was made from (face identity).", show_default=False)] = None,
    motion: Annotated[Optional[Path], typer.Option(
        "--motion", help="--render: the motion the clip was rendered from (control accuracy; needs -b).",
        show_default=False)] = None,
    report: Annotated[Optional[Path], typer.Option(
        "--report", help="Write PNG plots and a contact sheet into this folder.", show_default=False)] = None,
    max_frames: Annotated[Optional[int], _opt("max_frames", "--max-frames")] = None,
    start: Annotated[Optional[int], _opt("start", "--start")] = None,
    stride: Annotated[Optional[int], _opt("stride", "--stride")] = None,
    size: Annotated[Optional[int], _opt("size", "--size")] = None,
    detect_size: Annotated[Optional[int], _opt("detect_size", "--detect-size")] = None,
    track_steps: Annotated[Optional[int], _opt("track_steps", "--track-steps")] = None,
    focal: Annotated[Optional[float], _opt("focal", "--focal")] = None,
    perceptual: Annotated[Optional[str], _opt("perceptual", "--perceptual")] = None,
    identity: Annotated[Optional[bool], _opt("identity", "--identity/--no-identity")] = None,
    identity_every: Annotated[Optional[int], _opt("identity_every", "--identity-every")] = None,
    max_lag_ms: Annotated[Optional[float], _opt("max_lag_ms", "--max-lag-ms")] = None,
    camera: Annotated[Optional[str], _opt("camera", "--camera")] = None,
    yaw: Annotated[Optional[float], _opt("yaw", "--yaw")] = None,
    pitch: Annotated[Optional[float], _opt("pitch", "--pitch")] = None,
    distance: Annotated[Optional[float], _opt("distance", "--distance")] = None,
    model_complexity: Annotated[Optional[int], _opt("model_complexity", "--model-complexity")] = None,
    batch: Annotated[Optional[int], _opt("batch", "--batch")] = None,
    seed: Annotated[Optional[int], _opt("seed", "--seed")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
) -> None:
    settings = resolve(EvalConfig, NAME, config, {
        "max_frames": max_frames, "start": start, "stride": stride, "size": size, "detect_size": detect_size, "track_steps": track_steps,
        "focal": focal, "perceptual": perceptual, "identity": identity, "identity_every": identity_every,
        "max_lag_ms": max_lag_ms, "camera": camera, "yaw": yaw, "pitch": pitch, "distance": distance,
        "model_complexity": model_complexity, "batch": batch, "seed": seed})
    from talkavatar import api
    from talkavatar.eval.report import json_ready, table
    from talkavatar.pipeline.evaluate import check_mode, held_out_clip

    if held_out:
        if video is not None:
            raise UsageError("--held-out scores the bundle's own clip; leave --video out")
        video, settings = held_out_clip(resolve_bundle(bundle), settings)
    check_mode(video, render, audio, photo, motion)
    if video is not None or motion is not None:
        bundle = resolve_bundle(bundle)

    result = api.evaluate(bundle, video=video, render=render, audio=audio, photo=photo, motion=motion,
                          report=report, settings=settings, device=device, log=log)
    summary, written = result.summary, result.report
    if as_json:
        typer.echo(json_ready(summary))
    else:  # the results are the command's output: stdout, as a table (--json for scripts)
        from rich.console import Console

        Console(highlight=False, soft_wrap=True).print(table(summary))
        if written:
            typer.echo("\n".join(str(p) for p in written))
