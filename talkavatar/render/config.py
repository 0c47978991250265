"""The render stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from talkavatar.config import check_fields, setting

Camera = Literal["input", "front", "orbit"]


@dataclass(frozen=True)
class RenderConfig:
    width: int = setting(1080, "Output width in pixels (even for mp4/webm).", ge=1, le=8192)
    height: int = setting(1920, "Output height in pixels (even for mp4/webm).", ge=1, le=8192)
    fps: float | None = setting(None, "Frames per second. (default: the motion's rate; 30 with --audio)", ge=1, le=240)
    camera: Camera = setting("front", "Camera: input (the photo's camera from track/), front, or orbit (circles the "
                                      "body).")
    yaw: float = setting(0.0, "Camera yaw in degrees about the body's vertical axis (front/orbit; + moves to its "
                              "left).")
    pitch: float = setting(0.0, "Camera pitch in degrees (front/orbit; + looks down from above).", ge=-89, le=89)
    distance: float | None = setting(None, "Camera distance from the body's centre in metres (front/orbit). "
                                           "(default: frames the whole body)", gt=0)
    orbit_degrees: float = setting(360.0, "Degrees the orbit camera turns over the whole clip.")
    background: str = setting("white", "Background: a colour (name, #rrggbb or r,g,b in 0..1), an image file, "
                                        "or transparent (png/webm keep alpha).")
    start: float = setting(0.0, "Start time in seconds within the motion/audio.", ge=0)
    duration: float | None = setting(None, "Seconds to render from --start. (default: to the end)", gt=0)
    format: Literal["mp4", "webm", "png"] | None = setting(None, "Output: mp4 (H.264 + AAC), webm (VP9 + Opus) or png "
                                                                 "(a folder of frames). (default: from -o's suffix, "
                                                                 "else mp4)")
    batch: int = setting(8, "Frames posed and rasterized together (larger is faster on a GPU, uses more memory).",
                         ge=1)

    def __post_init__(self):
        check_fields(self)
        if self.format in ("mp4", "webm") and (self.width % 2 or self.height % 2):
            raise ValueError(f"{self.format} needs an even width and height (yuv420p), got {self.width}x{self.height}")
        if not self.background.strip():
            raise ValueError("background must not be empty")
