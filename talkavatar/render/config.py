"""The render stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from talkavatar.config import check_fields, setting

Camera = Literal["auto", "input", "front", "orbit"]
LONG_SIDE = {"gpu": 1920, "cpu": 640}  # default long side, px: the reference rasterizer takes ~9x longer at 1920
PORTRAIT_WIDTH = 1080  # default width of square and portrait frames at most (1080x1080, 1080x1350, 1080x1920)


def _even(pixels: float) -> int:
    return max(2, 2 * round(pixels / 2))


@dataclass(frozen=True)
class RenderConfig:
    width: int | None = setting(None, "Output width in pixels (even for mp4/webm). (default: from the device and "
                                      "the framing: a long side of 1920 on a GPU but at most 1080 wide for square "
                                      "and portrait frames, 640 on a CPU; --camera auto picks square (1080x1080), "
                                      "4:5 (1080x1350) or 9:16 (1080x1920) for what the photo showed, input keeps "
                                      "the photo's aspect, front/orbit 9:16)", ge=1, le=8192)
    height: int | None = setting(None, "Output height in pixels (even for mp4/webm). (default: see --width)", ge=1,
                                 le=8192)
    fps: float | None = setting(None, "Frames per second. (default: the motion's rate; 30 with --audio)", ge=1, le=240)
    camera: Camera = setting("auto", "Camera: auto (frames what the photo showed - a portrait as a portrait, a full "
                                     "body as a full body - and follows the body smoothly), input (the photo's camera "
                                     "from track/), front (the whole body), or orbit (circles the body).")
    yaw: float = setting(0.0, "Camera yaw in degrees about the body's vertical axis (auto/front/orbit; + moves to "
                              "its left; auto adds it to its own turn towards the side of a profile face the photo "
                              "saw).")
    pitch: float = setting(0.0, "Camera pitch in degrees (auto/front/orbit; + looks down from above).", ge=-89, le=89)
    distance: float | None = setting(None, "Camera distance from the framed centre in metres (auto/front/orbit). "
                                           "(default: fits the framing)", gt=0)
    orbit_degrees: float = setting(360.0, "Degrees the orbit camera turns over the whole clip.")
    background: str = setting("white", "Background: a colour (name, #rrggbb or r,g,b in 0..1), an image file, "
                                        "or transparent (png/webm keep alpha).")
    start: float = setting(0.0, "Start time in seconds within the motion/audio.", ge=0)
    duration: float | None = setting(None, "Seconds to render from --start. (default: to the end)", gt=0)
    format: Literal["mp4", "webm", "png"] | None = setting(None, "Output: mp4 (H.264 + AAC), webm (VP9 + Opus) or png "
                                                                 "(a folder of frames). (default: from -o's suffix, "
                                                                 "else mp4)")
    crf: int | None = setting(None, "Video quality (mp4/webm): the encoder's constant rate factor, lower is better "
                                    "and larger. (default: 18 for mp4, 30 for webm)", ge=0, le=51)
    batch: int | None = setting(None, "Frames posed and rasterized together (larger is faster on a GPU, uses more "
                                      "memory). (default: 8 on a GPU, 2 on a CPU)", ge=1)

    def sized(self, device_type: str, aspect: float = 9 / 16) -> "RenderConfig":
        """This config with the size and batch it leaves open chosen for ``device_type``: the long side
        :data:`LONG_SIDE` (square and portrait frames at most :data:`PORTRAIT_WIDTH` wide), ``aspect`` (width /
        height) from the framing; one side given keeps ``aspect`` too."""
        gpu = device_type == "cuda"
        width, height = self.width, self.height
        if width is None and height is None:
            long_side = LONG_SIDE["gpu" if gpu else "cpu"]
            width, height = (long_side * aspect, long_side) if aspect <= 1 else (long_side, long_side / aspect)
            if aspect <= 1 and width > PORTRAIT_WIDTH:
                width, height = PORTRAIT_WIDTH, PORTRAIT_WIDTH / aspect
            width, height = _even(width), _even(height)
        elif width is None:
            width = _even(height * aspect)
        elif height is None:
            height = _even(width / aspect)
        return replace(self, width=width, height=height,
                       batch=self.batch if self.batch is not None else (8 if gpu else 2))

    def __post_init__(self):
        check_fields(self)
        if self.format in ("mp4", "webm") and ((self.width or 0) % 2 or (self.height or 0) % 2):
            raise ValueError(f"{self.format} needs an even width and height (yuv420p), got {self.width}x{self.height}")
        if not self.background.strip():
            raise ValueError("background must not be empty")
