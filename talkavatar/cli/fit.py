"""`talkavatar fit`: Learn the Gaussian avatar from the photo and its pseudo-labels (runs track and pseudo when needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors, shows_progress, \
    warn
from talkavatar.cli.options import Settings, with_settings
from talkavatar.fit.config import FitConfig
from talkavatar.track.config import TrackConfig

NAME = "fit"
HELP = ("Learn the Gaussian avatar from a photo or a video of the person and its pseudo-labels (runs track and "
        "pseudo when needed).")
EPILOG = ("Examples:  talkavatar fit photo.jpg ; talkavatar fit photo.jpg --preset tiny --device cpu ; "
          "talkavatar fit me-talking.mp4 ; talkavatar fit photo.jpg --video me-talking.mp4 --holdout 0.3 ; "
          "talkavatar fit photo.avatar --resume --json.  A video's frames (or the --video clip's) are tracked with "
          "one body shape, and frames covering its views, poses and expressions are fitted to like the photo; its "
          "last --holdout part is kept for `talkavatar eval -b BUNDLE --held-out`. --device applies to every "
          "stage (on CUDA a photo's track fit replays each stage's steps from a CUDA graph).")
NO_ARGS_IS_HELP = False


@report_errors
@with_settings(settings=Settings(FitConfig, NAME), tracking=Settings(TrackConfig, "track", only=("video", "holdout")))
def command(
    input: Annotated[Path, typer.Argument(help="Photo (JPEG/PNG/...) or video (mp4/mov/webm/...) of one person, or an "
                                               "avatar bundle directory.", show_default=False)],
    bundle: Annotated[Optional[Path], typer.Option(
        "--bundle", "-o", "-b", help="Bundle directory to write. (default: <input stem>.avatar here, or INPUT)",
        show_default=False)] = None,
    *,
    settings: FitConfig,
    tracking: TrackConfig,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint an interrupted fit left "
                                                          "(same settings and inputs).")] = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    from talkavatar import api

    result = api.fit(input, bundle, settings, device=device, force=force, resume=resume, video=tracking.video,
                     holdout=None if (input / "bundle.json").is_file() else tracking.holdout, log=log, warn=warn,
                     show_progress=shows_progress())
    stages = result.stage_seconds
    out = {**result.as_dict(), "stage_seconds": stages}
    m = result.metrics
    human = str(result.bundle)
    if "input_view" in m:
        human += (f"\n  input view: masked PSNR {m['input_view']['masked_psnr_db']:.2f} dB, SSIM "
                  f"{m['input_view']['masked_ssim']:.4f}; novel views/poses: holes <= "
                  f"{100 * m['novel_max_hole_fraction']:.2f} %, floaters <= {100 * m['novel_max_floater_fraction']:.2f} %"
                  f"\n  {m.get('gaussians', '?')} Gaussians, " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    if m.get("video_frames_used"):
        human += f"\n  {m['video_frames_used']} real frames of the clip fitted to (fit/fit.json: which)"
    emit(out, json, human)
