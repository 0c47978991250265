"""The export stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass

from talkavatar.config import setting

FORMATS = ("glb", "bvh", "arkit-csv", "ply", "web")
SUFFIXES = {".glb": "glb", ".bvh": "bvh", ".csv": "arkit-csv", ".ply": "ply"}
NEEDS_MOTION = ("bvh", "arkit-csv")


@dataclass(frozen=True)
class ExportConfig:
    format: str | None = setting(None, "What to write: glb (rigged mesh, 52 ARKit morph targets, texture, baked "
                                       "animation), bvh (body motion, SMPL-X joints), arkit-csv (Live Link Face), "
                                       "ply (3D Gaussian splats) or web (a static player folder). (default: from "
                                       "-o's suffix; a path without one is a web folder)")
    splats: bool = setting(False, "glb: also carry the Gaussians (first pose, static) through KHR_gaussian_splatting; "
                                  "viewers without the extension show them as points.")
    fps: float = setting(30.0, "Frames per second of the motion made from --audio (a --motion keeps its own).")
    width: int = setting(720, "Web player: canvas and poster width in pixels.")
    height: int = setting(1280, "Web player: canvas and poster height in pixels.")

    def __post_init__(self):
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not (isinstance(self.fps, (int, float)) and 1.0 <= float(self.fps) <= 240.0):
            raise ValueError(f"fps must be between 1 and 240, got {self.fps!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 16 <= value <= 4096:
                raise ValueError(f"{name} must be an integer between 16 and 4096, got {value!r}")
