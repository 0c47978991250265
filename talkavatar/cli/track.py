"""`talkavatar track`: Fit the body model to a photo or video of a person (writes source/ and track/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import config_option, ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, log, report_errors, warn
from talkavatar.config import resolve
from talkavatar.track.config import TrackConfig

NAME = "track"
CONFIG = TrackConfig
HELP = "Fit the body model to a photo or video of a person (writes source/ and track/)."
EPILOG = ("Examples:  talkavatar track photo.jpg ; talkavatar track group.jpg --person 2 ; "
          "talkavatar track clip.mp4 --max-frames 60 --json ; talkavatar track photo.jpg --video clip.mp4 --holdout 0.3")
NO_ARGS_IS_HELP = False


def _opt(name: str, *flags: str):
    return config_option(TrackConfig, name, *flags)


@report_errors
def command(
    input: Annotated[Path, typer.Argument(help="Photo (JPEG/PNG/WebP/BMP/TIFF) or video of one person, or a bundle "
                                                               "(tracks its source again).",
                                          show_default=False)],
    bundle: Annotated[Optional[Path], typer.Option(
        "--bundle", "-o", "-b", help="Bundle directory to write. (default: <input stem>.avatar here)",
        show_default=False)] = None,
    body_model: Annotated[Optional[str], _opt("body_model", "--body-model")] = None,
    smplx_dir: Annotated[Optional[Path], _opt("smplx_dir", "--smplx-dir")] = None,
    focal: Annotated[Optional[float], _opt("focal", "--focal")] = None,
    max_frames: Annotated[Optional[int], _opt("max_frames", "--max-frames")] = None,
    stride: Annotated[Optional[int], _opt("stride", "--stride")] = None,
    seed: Annotated[Optional[int], _opt("seed", "--seed")] = None,
    steps: Annotated[Optional[int], _opt("steps", "--steps")] = None,
    model_complexity: Annotated[Optional[int], _opt("model_complexity", "--model-complexity")] = None,
    detect_size: Annotated[Optional[int], _opt("detect_size", "--detect-size")] = None,
    mask_weight: Annotated[Optional[float], _opt("mask_weight", "--mask-weight")] = None,
    smooth_weight: Annotated[Optional[float], _opt("smooth_weight", "--smooth-weight")] = None,
    person: Annotated[Optional[int], _opt("person", "--person")] = None,
    video: Annotated[Optional[Path], _opt("video", "--video")] = None,
    holdout: Annotated[Optional[float], _opt("holdout", "--holdout")] = None,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    settings = resolve(TrackConfig, NAME, config, {
        "body_model": body_model, "smplx_dir": smplx_dir, "focal": focal, "max_frames": max_frames,
        "stride": stride, "seed": seed, "steps": steps, "model_complexity": model_complexity,
        "detect_size": detect_size, "mask_weight": mask_weight, "smooth_weight": smooth_weight,
        "person": person, "video": video, "holdout": holdout})
    from talkavatar import api

    result = api.track(input, bundle, settings, device=device, force=force, log=log, warn=warn)
    out = result.as_dict()
    human = (f"{result.bundle}\n  keypoint error (% of height): "
             + ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} -" for k, v in result.keypoint_error_pct.items())
             + f"\n  mask IoU {result.mask_iou:.3f}, {result.seconds:.1f} s"
             + (f"\n  {len(result.rejected)} implausible landmarks ignored (see --json, track/overlay.png)"
                if result.rejected else ""))
    emit(out, json, human)
