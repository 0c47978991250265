"""`talkavatar track`: Fit the body model to a photo or video of a person (writes source/ and track/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors, warn
from talkavatar.cli.options import Settings, with_settings
from talkavatar.track.config import TrackConfig

NAME = "track"
HELP = "Fit the body model to a photo or video of a person (writes source/ and track/)."
EPILOG = ("Examples:  talkavatar track photo.jpg ; talkavatar track group.jpg --person 2 ; "
          "talkavatar track clip.mp4 --max-frames 60 --json")
NO_ARGS_IS_HELP = False


@report_errors
@with_settings(settings=Settings(TrackConfig, NAME))
def command(
    input: Annotated[Path, typer.Argument(help="Photo (JPEG/PNG/WebP/BMP/TIFF) or video of one person, or a bundle "
                                                               "(tracks its source again).",
                                          show_default=False)],
    bundle: Annotated[Optional[Path], typer.Option(
        "--bundle", "-o", "-b", help="Bundle directory to write. (default: <input stem>.avatar here)",
        show_default=False)] = None,
    *,
    settings: TrackConfig,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    from talkavatar import api

    result = api.track(input, bundle, settings, device=device, force=force, log=log, warn=warn)
    out = result.as_dict()
    human = (f"{result.bundle}\n  keypoint error (% of height): "
             + ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} -" for k, v in result.keypoint_error_pct.items())
             + f"\n  mask IoU {result.mask_iou:.3f}, {result.seconds:.1f} s"
             + (f"\n  {len(result.rejected)} implausible landmarks ignored (see --json, track/overlay.png)"
                if result.rejected else ""))
    emit(out, json, human)
