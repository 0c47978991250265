"""`talkavatar fit`: Learn the Gaussian avatar from the photo and its pseudo-labels (runs track and pseudo when needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import config_option, ConfigOpt, DeviceOpt, ForceOpt, JsonOpt, emit, shows_progress, log, report_errors, \
    warn
from talkavatar.config import resolve
from talkavatar.fit.config import FitConfig
from talkavatar.track.config import TrackConfig

NAME = "fit"
HELP = ("Learn the Gaussian avatar from a photo or a video of the person and its pseudo-labels (runs track and "
        "pseudo when needed).")
EPILOG = ("Examples:  talkavatar fit photo.jpg ; talkavatar fit photo.jpg --preset tiny --device cpu ; "
          "talkavatar fit me-talking.mp4 ; talkavatar fit photo.jpg --video me-talking.mp4 --holdout 0.3 ; "
          "talkavatar fit photo.avatar --resume --json.  A video's frames (or the --video clip's) are tracked with "
          "one body shape, and frames covering its views, poses and expressions are fitted to like the photo; its "
          "last --holdout part is kept for `talkavatar eval -b BUNDLE --held-out`. A photo is tracked on the CPU, "
          "which is faster for one image; --device applies to pseudo and fit (and to tracking a video).")
NO_ARGS_IS_HELP = False
CONFIG = FitConfig


def _opt(name: str, *flags: str):
    return config_option(FitConfig, name, *flags)


@report_errors
def command(
    input: Annotated[Path, typer.Argument(help="Photo (JPEG/PNG/...) or video (mp4/mov/webm/...) of one person, or an "
                                               "avatar bundle directory.", show_default=False)],
    bundle: Annotated[Optional[Path], typer.Option(
        "--bundle", "-o", "-b", help="Bundle directory to write. (default: <input stem>.avatar here, or INPUT)",
        show_default=False)] = None,
    preset: Annotated[Optional[str], _opt("preset", "--preset")] = None,
    iters: Annotated[Optional[int], _opt("iters", "--iters")] = None,
    uv_res: Annotated[Optional[int], _opt("uv_res", "--uv-res")] = None,
    image_size: Annotated[Optional[int], _opt("image_size", "--image-size")] = None,
    crop_size: Annotated[Optional[int], _opt("crop_size", "--crop-size")] = None,
    pseudo_frames: Annotated[Optional[int], _opt("pseudo_frames", "--pseudo-frames")] = None,
    pseudo_size: Annotated[Optional[int], _opt("pseudo_size", "--pseudo-size")] = None,
    pseudo_batch: Annotated[Optional[int], _opt("pseudo_batch", "--pseudo-batch")] = None,
    seed: Annotated[Optional[int], _opt("seed", "--seed")] = None,
    perceptual: Annotated[Optional[str], _opt("perceptual", "--perceptual")] = None,
    pseudo_weight: Annotated[Optional[float], _opt("pseudo_weight", "--pseudo-weight")] = None,
    mesh_weight: Annotated[Optional[float], _opt("mesh_weight", "--mesh-weight")] = None,
    crop_weight: Annotated[Optional[float], _opt("crop_weight", "--crop-weight")] = None,
    warmup: Annotated[Optional[float], _opt("warmup", "--warmup")] = None,
    refine: Annotated[Optional[float], _opt("refine", "--refine")] = None,
    shape: Annotated[Optional[str], _opt("shape", "--shape")] = None,
    video_frames: Annotated[Optional[int], _opt("video_frames", "--video-frames")] = None,
    video_batch: Annotated[Optional[int], _opt("video_batch", "--video-batch")] = None,
    video_weight: Annotated[Optional[float], _opt("video_weight", "--video-weight")] = None,
    video: Annotated[Optional[Path], config_option(TrackConfig, "video", "--video")] = None,
    holdout: Annotated[Optional[float], config_option(TrackConfig, "holdout", "--holdout")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the checkpoint an interrupted fit left "
                                                          "(same settings and inputs).")] = False,
    config: ConfigOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
    json: JsonOpt = False,
) -> None:
    settings = resolve(FitConfig, NAME, config, {
        "preset": preset, "iters": iters, "uv_res": uv_res, "image_size": image_size, "crop_size": crop_size,
        "pseudo_frames": pseudo_frames, "pseudo_size": pseudo_size, "pseudo_batch": pseudo_batch, "seed": seed,
        "perceptual": perceptual, "pseudo_weight": pseudo_weight, "mesh_weight": mesh_weight,
        "crop_weight": crop_weight, "warmup": warmup, "refine": refine,
        "shape": shape, "video_frames": video_frames, "video_batch": video_batch, "video_weight": video_weight})
    from talkavatar import api

    result = api.fit(input, bundle, settings, device=device, force=force, resume=resume, video=video,
                     holdout=holdout, log=log, warn=warn, show_progress=shows_progress())
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
