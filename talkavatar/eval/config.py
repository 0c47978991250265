"""`EvalConfig`: the settings of `talkavatar eval` (one field per CLI option)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from talkavatar.config import setting

PERCEPTUAL = ("auto", "lpips", "efficientnet", "none")
CAMERAS = ("front", "input")


@dataclass(frozen=True)
class EvalConfig:
    max_frames: Optional[int] = setting(None, "Evaluate at most this many frames of the video.")
    start: int = setting(0, "Self-reenactment: first frame of the reference video to evaluate (0-based; e.g. skip "
                            "the frame the avatar was made from).")
    stride: int = setting(1, "Self-reenactment: evaluate every K-th frame from --start.")
    size: int = setting(512, "Self-reenactment: longer side in pixels of the images compared.")
    detect_size: int = setting(1280, "Frames larger than this (longer side, px) are downscaled for MediaPipe.")
    track_steps: int = setting(240, "Self-reenactment: optimisation steps when tracking the reference (shape fixed).")
    focal: Optional[float] = setting(None, "Self-reenactment: focal length in pixels of the reference video; else "
                                           "the default field of view (as `talkavatar track`).")
    perceptual: str = setting("auto", "Perceptual distance: auto (LPIPS-VGG when its weights are present locally, "
                                      "else EfficientNet-Lite0 features), lpips, efficientnet or none.")
    identity: Optional[bool] = setting(None, "Face identity (needs dlib and --photo); --identity fails without dlib. "
                                             "(default: when dlib is installed)")
    identity_every: int = setting(5, "Face identity: embed every K-th frame.")
    max_lag_ms: float = setting(300.0, "Lip sync: search the best lag within +- this many milliseconds.")
    camera: str = setting("front", "Control accuracy: the camera the clip was rendered with (front or input; "
                                   "as `talkavatar render --camera`).")
    yaw: float = setting(0.0, "Control accuracy: the render's --yaw in degrees.")
    pitch: float = setting(0.0, "Control accuracy: the render's --pitch in degrees.")
    distance: Optional[float] = setting(None, "Control accuracy: the render's --distance in metres. "
                                              "(default: frames the whole body, as render)")
    model_complexity: int = setting(1, "MediaPipe pose model: 0 lite, 1 full, 2 heavy.")
    batch: int = setting(4, "Self-reenactment: frames rendered together.")
    seed: int = setting(0, "Random seed of the tracking fit.")

    def __post_init__(self):
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError("max_frames must be at least 1")
        if self.start < 0:
            raise ValueError("start must be 0 or more")
        if self.stride < 1:
            raise ValueError("stride must be at least 1")
        if self.size < 32:
            raise ValueError("size must be at least 32")
        if self.detect_size < 256:
            raise ValueError("detect_size must be at least 256")
        if self.track_steps < 4:
            raise ValueError("track_steps must be at least 4")
        if self.focal is not None and not self.focal > 0:
            raise ValueError("focal must be positive")
        if self.perceptual not in PERCEPTUAL:
            raise ValueError(f"perceptual must be one of {', '.join(PERCEPTUAL)}, got {self.perceptual!r}")
        if self.identity_every < 1:
            raise ValueError("identity_every must be at least 1")
        if not 0 <= self.max_lag_ms <= 2000:
            raise ValueError("max_lag_ms must be between 0 and 2000")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera must be one of {', '.join(CAMERAS)}, got {self.camera!r}")
        if self.distance is not None and not self.distance > 0:
            raise ValueError("distance must be positive")
        if self.model_complexity not in (0, 1, 2):
            raise ValueError("model_complexity must be 0, 1 or 2")
        if self.batch < 1:
            raise ValueError("batch must be at least 1")
