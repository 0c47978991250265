"""`TrackConfig`: the settings of the track stage (one field per CLI option of `talkavatar track`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from talkavatar.config import setting

DEFAULT_FOV_DEG = 50.0
"""Field of view across the longer image side when neither --focal nor EXIF gives the focal length.

50 degrees is a normal lens (about 38 mm on a 35 mm camera): the focal length is then
``max(width, height) / (2 tan(25 deg))`` = 1.07 x the longer side, in pixels.
"""


@dataclass(frozen=True)
class TrackConfig:
    body_model: str = setting("anny", "Body model to fit: anny (built in) or smplx (needs --smplx-dir).")
    smplx_dir: Optional[Path] = setting(None, "Directory with your SMPL-X model files (SMPLX_NEUTRAL.npz …).")
    focal: Optional[float] = setting(None, "Focal length in pixels of the full-resolution input; else EXIF, else a "
                                           f"{DEFAULT_FOV_DEG:g} degree field of view across the longer side.")
    max_frames: Optional[int] = setting(None, "Video: fit at most this many frames (after --stride).")
    stride: int = setting(1, "Video: keep every K-th frame.")
    seed: int = setting(0, "Random seed; the same input, seed and settings give the same fit.")
    steps: int = setting(240, "Optimisation steps per image, spread over the stages global, body, hands/face, all.")
    model_complexity: int = setting(1, "MediaPipe pose model: 0 lite, 1 full (2 heavy needs pose_landmark_heavy.tflite "
                                       "copied into mediapipe/modules/pose_landmark/).")
    detect_size: int = setting(1280, "Images larger than this (longer side, px) are downscaled for detection and "
                                     "fitting; the full resolution is kept in source/.")
    mask_weight: float = setting(1.0, "Weight of the silhouette loss against the landmark losses.")
    smooth_weight: float = setting(1.0, "Video: weight of the temporal smoothness of pose and expression.")
    video: Optional[Path] = setting(None, "A clip of the person tracked with the photo's body shape held fixed; "
                                          "its frames become photometric labels of `fit` (fit PHOTO --video CLIP).")
    holdout: float = setting(0.1, "Video: fraction of the clip, at its end, kept out of tracking and fitting for "
                                  "evaluation (`talkavatar eval -b BUNDLE --held-out`).")
    person: Optional[int] = setting(None, "Several people in view: track person N (numbered left to right on "
                                          "track/overlay.png); default: the main person (largest, most central, "
                                          "most complete).")

    def __post_init__(self):
        if self.body_model not in ("anny", "smplx"):
            raise ValueError(f"body_model must be anny or smplx, not {self.body_model!r}")
        if self.body_model == "smplx" and self.smplx_dir is None:
            raise ValueError("body_model smplx needs smplx_dir (--smplx-dir DIR)")
        if self.focal is not None and not self.focal > 0:
            raise ValueError("focal must be positive")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        if self.stride < 1:
            raise ValueError("stride must be at least 1")
        if self.steps < 4:
            raise ValueError("steps must be at least 4")
        if self.model_complexity not in (0, 1, 2):
            raise ValueError("model_complexity must be 0, 1 or 2")
        if self.detect_size < 256:
            raise ValueError("detect_size must be at least 256")
        if self.person is not None and self.person < 1:
            raise ValueError("person must be at least 1")
        if not 0 <= self.holdout < 1:
            raise ValueError("holdout must be in [0, 1)")
        if self.mask_weight < 0 or self.smooth_weight < 0:
            raise ValueError("weights must be non-negative")
