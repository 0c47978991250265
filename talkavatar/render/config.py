"""The render stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass

from talkavatar.config import setting

CAMERAS = ("auto", "input", "front", "orbit")
FORMATS = ("mp4", "webm", "png")


@dataclass(frozen=True)
class RenderConfig:
    width: int | None = setting(None, "Output width in pixels (even for mp4/webm). (default: auto suits the framing: "
                                      "1080 wide, square, 4:5 or 9:16; otherwise 1080)")
    height: int | None = setting(None, "Output height in pixels (even for mp4/webm). (default: auto suits the "
                                       "framing; otherwise 1920)")
    fps: float | None = setting(None, "Frames per second. (default: the motion's rate; 30 with --audio)")
    camera: str = setting("auto", "Camera: auto (frames what the photo showed - a portrait as a portrait, a full "
                                  "body as a full body - and follows the body smoothly), input (the photo's camera "
                                  "from track/), front (the whole body), or orbit (circles the body).")
    yaw: float = setting(0.0, "Camera yaw in degrees about the body's vertical axis (auto/front/orbit; + moves to "
                              "its left).")
    pitch: float = setting(0.0, "Camera pitch in degrees (auto/front/orbit; + looks down from above).")
    distance: float | None = setting(None, "Camera distance from the framed centre in metres (auto/front/orbit). "
                                           "(default: fits the framing)")
    orbit_degrees: float = setting(360.0, "Degrees the orbit camera turns over the whole clip.")
    background: str = setting("white", "Background: a colour (name, #rrggbb or r,g,b in 0..1), an image file, "
                                        "or transparent (png/webm keep alpha).")
    start: float = setting(0.0, "Start time in seconds within the motion/audio.")
    duration: float | None = setting(None, "Seconds to render from --start. (default: to the end)")
    format: str | None = setting(None, "Output: mp4 (H.264 + AAC), webm (VP9 + Opus) or png (a folder of frames). "
                                       "(default: from -o's suffix, else mp4)")
    batch: int = setting(8, "Frames posed and rasterized together (larger is faster on a GPU, uses more memory).")

    def __post_init__(self):
        for name in ("width", "height", "batch"):
            value = getattr(self, name)
            if (value is not None or name == "batch") and (not isinstance(value, int) or isinstance(value, bool)
                                                           or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        sides = [v for v in (self.width, self.height) if v is not None]
        if sides and max(sides) > 8192:
            raise ValueError(f"image size {self.width}x{self.height} exceeds 8192 pixels")
        if self.format in ("mp4", "webm") and any(v % 2 for v in sides):
            raise ValueError(f"{self.format} needs an even width and height (yuv420p), got {self.width}x{self.height}")
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and 1.0 <= float(self.fps) <= 240.0):
            raise ValueError(f"fps must be between 1 and 240, got {self.fps!r}")
        if self.camera not in CAMERAS:
            raise ValueError(f"camera must be one of {', '.join(CAMERAS)}, got {self.camera!r}")
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not -89.0 <= self.pitch <= 89.0:
            raise ValueError(f"pitch must be between -89 and 89 degrees, got {self.pitch!r}")
        if self.distance is not None and not self.distance > 0:
            raise ValueError(f"distance must be positive, got {self.distance!r}")
        if self.start < 0:
            raise ValueError(f"start must be >= 0, got {self.start!r}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration must be positive, got {self.duration!r}")
        if not self.background.strip():
            raise ValueError("background must not be empty")

    def size(self, suggested: tuple[int, int] = (1080, 1920)) -> tuple[int, int]:
        """(width, height): the given ones, the missing ones from ``suggested`` (the framing's size, scaled to keep
        its aspect when only one side is given; even)."""
        if self.width is not None and self.height is not None:
            return self.width, self.height
        if self.width is None and self.height is None:
            return suggested
        if self.width is not None:
            return self.width, max(2, 2 * round(self.width * suggested[1] / suggested[0] / 2))
        return max(2, 2 * round(self.height * suggested[0] / suggested[1] / 2)), self.height
