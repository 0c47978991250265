"""`TrackConfig`: the settings of the track stage (one field per CLI option of `talkavatar track`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from talkavatar.config import check_fields, setting

DEFAULT_FOV_DEG = 50.0
"""Field of view across the longer image side when neither --focal nor EXIF gives the focal length.

50 degrees is a normal lens (about 38 mm on a 35 mm camera): the focal length is then
``max(width, height) / (2 tan(25 deg))`` = 1.07 x the longer side, in pixels.
"""


@dataclass(frozen=True)
class TrackConfig:
    body_model: Literal["anny", "smplx"] = setting("anny", "Body model to fit: anny (built in) or smplx (needs "
                                                           "--smplx-dir).")
    smplx_dir: Optional[Path] = setting(None, "Directory with your SMPL-X model files (SMPLX_NEUTRAL.npz …).")
    focal: Optional[float] = setting(None, "Focal length in pixels of the full-resolution input; else EXIF, else a "
                                           f"{DEFAULT_FOV_DEG:g} degree field of view across the longer side.", gt=0)
    max_frames: Optional[int] = setting(None, "Video: fit at most this many frames (after --stride).", ge=1)
    stride: int = setting(1, "Video: keep every K-th frame.", ge=1)
    seed: int = setting(0, "Random seed; the same input, seed and settings give the same fit.", ge=0)
    steps: int = setting(240, "Optimisation steps per image, spread over the stages global, body, hands/face, all; "
                              "a video's first frame gets them all, every later frame starts from its neighbour's "
                              "fit and takes 5 % of them (at least 12).", ge=4)
    model_complexity: Literal[0, 1, 2] = setting(1, "MediaPipe pose model: 0 lite, 1 full (2 heavy needs "
                                                    "pose_landmark_heavy.tflite copied into "
                                                    "mediapipe/modules/pose_landmark/).")
    detect_size: int = setting(1280, "Images larger than this (longer side, px) are downscaled for detection and "
                                     "fitting; the full resolution is kept in source/.", ge=256)
    mask_weight: float = setting(1.0, "Weight of the silhouette loss against the landmark losses.", ge=0)
    smooth_weight: float = setting(1.0, "Video: weight of the temporal smoothness of pose and expression.", ge=0)
    video: Optional[Path] = setting(None, "A clip of the person tracked with the photo's body shape held fixed; "
                                          "its frames become photometric labels of `fit` (fit PHOTO --video CLIP).")
    holdout: float = setting(0.1, "Video: fraction of the clip, at its end, kept out of tracking and fitting for "
                                  "evaluation (`talkavatar eval -b BUNDLE --held-out`).", ge=0, lt=1)
    person: Optional[int] = setting(None, "Several people in view: track person N (numbered left to right on "
                                          "track/overlay.png); default: the main person (largest, most central, "
                                          "most complete).", ge=1)

    def __post_init__(self):
        check_fields(self)
        if self.body_model == "smplx" and self.smplx_dir is None:
            raise ValueError("body_model smplx needs smplx_dir (--smplx-dir DIR)")
