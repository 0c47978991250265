"""`talkavatar eval`: Measure an avatar: self-reenactment, identity, control accuracy and lip sync."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import (BundleOpt, ConfigOpt, DeviceOpt, JsonOpt, flags, log, report_errors,
                                   resolve_bundle, stderr)
from talkavatar.cli.options import Settings, with_settings
from talkavatar.errors import UsageError
from talkavatar.eval.config import EvalConfig

NAME = "eval"
HELP = "Measure an avatar: self-reenactment, identity, control accuracy and lip sync."
EPILOG = ("Examples:  talkavatar eval --video person.mp4 --json ; "
          "talkavatar eval -b photo.avatar --video person.mp4 --max-frames 30 --report eval-report/ ; "
          "talkavatar eval -b frame0.avatar --video person.mp4 --start 12 --stride 18 --max-frames 4 ; "
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
                        "compared inside the person mask (PSNR, SSIM, L1, perceptual).", show_default=False)] = None,
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
    if (video is None) == (render is None):
        raise UsageError("give --video REFERENCE (self-reenactment) or --render CLIP (a rendered clip), one of them",
                         tip="e.g. talkavatar eval --video person.mp4, or talkavatar eval --render talk.mp4 "
                             "--audio speech.wav")
    if video is not None and any(x is not None for x in (audio, photo, motion)):
        raise UsageError("--audio, --photo and --motion go with --render, not --video")

    from talkavatar.eval.report import json_ready, table, write_clip_report, write_reenactment_report
    from talkavatar.core.device import resolve_device

    dev = resolve_device(device)
    if video is not None:
        from talkavatar.eval.reenact import self_reenactment

        result = self_reenactment(resolve_bundle(bundle), video, settings, device=dev, log=log)
        written = write_reenactment_report(result, report) if report is not None else []
    else:
        from talkavatar.eval.rendered import evaluate_clip

        bundle_path = resolve_bundle(bundle) if motion is not None else bundle
        result = evaluate_clip(render, settings, audio=audio, photo=photo, motion=motion, bundle=bundle_path,
                               log=log)
        written = write_clip_report(result, report) if report is not None else []
    summary = result.summary()
    if written:
        summary["report"] = [str(p) for p in written]
    if not flags.quiet:
        stderr.print(table(summary))
    if as_json:
        typer.echo(json_ready(summary))
    elif written:
        typer.echo("\n".join(str(p) for p in written))
