"""The render stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from talkavatar.config import setting

CAMERAS = ("auto", "input", "front", "orbit")
FORMATS = ("mp4", "webm", "png")
LONG_SIDE = {"gpu": 1920, "cpu": 640}  # default long side, px: the reference rasterizer takes ~9x longer at 1920
PORTRAIT_WIDTH = 1080  # default width of square and portrait frames at most (1080x1080, 1080x1350, 1080x1920)


def _even(pixels: float) -> int:
    return max(2, 2 * round(pixels / 2))


@dataclass(frozen=True)
class RenderConfig:
    width: int | None = setting(None, "Output width in pixels (even for mp4/webm). (default: from the device and "
                                      "the framing: a long side of 1920 on a GPU but at most 1080 "
                                      "wide for square and portrait frames, 640 on a CPU; --camera auto picks "
                                      "square (1080x1080), 4:5 (1080x1350) or 9:16 (1080x1920) for what the photo showed, input keeps the photo's "
                                      "aspect, front/orbit 9:16)")
    height: int | None = setting(None, "Output height in pixels (even for mp4/webm). (default: see --width)")
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
    batch: int | None = setting(None, "Frames posed and rasterized together (larger is faster on a GPU, uses more "
                                      "memory). (default: 8 on a GPU, 2 on a CPU)")

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
        for name in ("width", "height", "batch"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if max(self.width or 0, self.height or 0) > 8192:
            raise ValueError(f"image size {self.width}x{self.height} exceeds 8192 pixels")
        if self.format in ("mp4", "webm") and ((self.width or 0) % 2 or (self.height or 0) % 2):
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
