"""`EvalConfig`: the settings of `talkavatar eval`. Tracking the reference video and the render cameras are
track's and render's own settings (:class:`TrackConfig`, :class:`RenderConfig`), held here, not restated."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, Optional

from talkavatar.config import Perceptual, check_fields, part, setting
from talkavatar.render.config import RenderConfig
from talkavatar.track.config import TrackConfig

EvalCamera = Literal["front", "input"]
"""The render cameras eval can reproduce (of :data:`talkavatar.render.config.Camera`: auto and orbit move with the
clip in ways eval does not replay)."""


@dataclass(frozen=True)
class EvalConfig:
    track: TrackConfig = part(TrackConfig(), "As `talkavatar track` on the video: ", expose={
        "max_frames": "max_frames", "stride": "stride", "detect_size": "detect_size", "steps": "track_steps",
        "focal": "focal", "model_complexity": "model_complexity", "seed": "seed"})
    camera: EvalCamera = setting("front", "The camera `talkavatar render` used: front (the whole body) or input (the "
                                          "photo's camera from track/).")
    render: RenderConfig = part(RenderConfig(camera="front", batch=4), "As `talkavatar render`: ", expose={
        "yaw": "yaw", "pitch": "pitch", "distance": "distance", "batch": "batch"})
    start: int = setting(0, "Self-reenactment: first frame of the reference video to evaluate (0-based; e.g. skip "
                            "the frame the avatar was made from).", ge=0)
    size: int = setting(512, "Self-reenactment: longer side in pixels of the images compared.", ge=32)
    refine_poses: int = setting(0, "Self-reenactment: also score the frames re-posed by this many steps of a "
                                   "photometric refinement of each frame's tracked pose and expression against it "
                                   "(the avatar frozen, as the fit refines its clip's frames): the figures under "
                                   "`refined`. 0: off.", ge=0)
    perceptual: Literal[Perceptual, "none"] = setting(
        "auto", "Perceptual distance: auto (LPIPS-VGG when its weights are present locally, else EfficientNet-Lite0 "
                "features), lpips, efficientnet or none.")
    identity: Optional[bool] = setting(None, "Face identity (needs dlib and --photo); --identity fails without dlib. "
                                             "(default: when dlib is installed)")
    identity_every: int = setting(5, "Face identity: embed every K-th frame.", ge=1)
    max_lag_ms: float = setting(300.0, "Lip sync: search the best lag within +- this many milliseconds.", ge=0,
                                le=2000)

    def __post_init__(self):
        check_fields(self)
        object.__setattr__(self, "render", replace(self.render, camera=self.camera))  # the render eval reproduces
