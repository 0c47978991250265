"""`talkavatar eval`: Measure an avatar: self-reenactment, identity, control accuracy and lip sync."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import BundleOpt, ConfigOpt, DeviceOpt, JsonOpt, log, report_errors, resolve_bundle
from talkavatar.cli.options import Settings, with_settings
from talkavatar.errors import UsageError
from talkavatar.eval.config import EvalConfig

NAME = "eval"
HELP = "Measure an avatar: self-reenactment, identity, control accuracy and lip sync."
EPILOG = ("Examples:  talkavatar eval --video person.mp4 --json ; "
          "talkavatar eval -b photo.avatar --video person.mp4 --max-frames 30 --report eval-report/ ; "
          "talkavatar eval -b frame0.avatar --video person.mp4 --start 12 --stride 18 --max-frames 4 ; "
          "talkavatar eval -b me-talking.avatar --held-out --stride 5 ; "
          "talkavatar eval --render talk.mp4 --audio speech.wav --photo photo.jpg ; "
          "talkavatar eval -b photo.avatar --render talk.mp4 --motion talk.motion.safetensors --report out/")
NO_ARGS_IS_HELP = True


@report_errors
@with_settings(settings=Settings(EvalConfig, NAME))
def command(
    bundle: BundleOpt = None,
    *,
    video: Annotated[Optional[Path], typer.Option(
        "--video", help="Self-reenactment: a reference video of the avatar's person; the avatar replays it and is "
                        "compared inside the person mask (PSNR, SSIM, L1, perceptual); it is tracked with the bundle's photo "
                        "focal length unless --focal is given.", show_default=False)] = None,
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
    settings: EvalConfig,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
) -> None:
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
