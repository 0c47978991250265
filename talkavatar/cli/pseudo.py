"""`talkavatar pseudo`: Make pseudo-labels: the person rendered in other poses, expressions and views (writes pseudo/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import (BundleOpt, ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors,
                                   resolve_bundle, warn)
from talkavatar.cli.options import Settings, with_settings
from talkavatar.pseudo.config import PseudoConfig

NAME = "pseudo"
HELP = "Make pseudo-labels: the person rendered in other poses, expressions and views (writes pseudo/)."
EPILOG = ("Examples:  talkavatar pseudo -b photo.avatar --frames 120 ; "
          "talkavatar pseudo --export-poses poses/ ; talkavatar pseudo --import-video generated.mp4")
NO_ARGS_IS_HELP = False


@report_errors
@with_settings(settings=Settings(PseudoConfig, NAME))
def command(
    bundle: BundleOpt = None,
    *,
    settings: PseudoConfig,
    export_poses: Annotated[Optional[Path], typer.Option(
        "--export-poses", help="Also write the driving poses as OpenPose/DWPose skeleton frames, an MP4 and the "
                               "reference photo into this directory (for pose-guided video diffusion tools).",
        show_default=False)] = None,
    import_video: Annotated[Optional[list[Path]], typer.Option(
        "--import-video", help="A video of the person (an external generator's output or real footage) to re-track "
                               "with the bundle's shape fixed and add as pseudo-labels. Repeatable.",
        show_default=False)] = None,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    path = resolve_bundle(bundle)
    from talkavatar import api

    result = api.pseudo(path, settings, import_videos=import_video or [], export_poses=export_poses, device=device,
                        force=force, log=log, warn=warn)
    psnr = "-" if result.psnr_input_view is None else f"{result.psnr_input_view:.2f} dB over the person mask"
    if result.input_view_coverage is not None:
        psnr += f" ({100 * result.input_view_coverage:.1f}% of it covered)"
    human = (f"{result.bundle / 'pseudo'}\n  {result.frames} frames ({result.imported} imported), renderer "
             f"{result.renderer}, input view PSNR {psnr}, {result.seconds:.1f} s"
             + (f"\n  poses exported to {result.exported}" if result.exported else ""))
    emit(result.as_dict(), json, human)
