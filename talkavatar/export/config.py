"""The export stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from talkavatar.config import check_fields, setting

Format = Literal["glb", "bvh", "arkit-csv", "ply", "web"]
SUFFIXES = {".glb": "glb", ".bvh": "bvh", ".csv": "arkit-csv", ".ply": "ply"}
NEEDS_MOTION = ("bvh", "arkit-csv")


@dataclass(frozen=True)
class ExportConfig:
    format: Format | None = setting(None, "What to write: glb (rigged mesh, 52 ARKit morph targets, texture, baked "
                                       "animation), bvh (body motion, SMPL-X joints), arkit-csv (Live Link Face), "
                                       "ply (3D Gaussian splats) or web (a static player folder). (default: from "
                                       "-o's suffix; a path without one is a web folder)")
    splats: bool = setting(False, "glb: also carry the Gaussians (first pose, static) through KHR_gaussian_splatting; "
                                  "viewers without the extension show them as points.")
    fps: float = setting(30.0, "Frames per second of the motion made from --audio (a --motion keeps its own).",
                         ge=1, le=240)
    width: int = setting(720, "Web player: canvas and poster width in pixels.", ge=16, le=4096)
    height: int = setting(1280, "Web player: canvas and poster height in pixels.", ge=16, le=4096)

    def __post_init__(self):
        check_fields(self)
