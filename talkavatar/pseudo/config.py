"""`PseudoConfig`: the settings of the pseudo stage (one field per CLI option of `talkavatar pseudo`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from talkavatar.config import check_fields, setting

# The pseudo stage's settings when `talkavatar fit PHOTO` runs it for a fit preset (its defaults otherwise): as
# many frames as the preset's fit uses.
PRESETS = {"tiny": dict(frames=12, size=192, uv_res=128), "fast": dict(frames=64), "quality": dict(frames=256)}


@dataclass(frozen=True)
class PseudoConfig:
    frames: int = setting(120, "Number of pseudo-label frames to render.", ge=0)
    generator: Literal["reproject"] = setting("reproject", "Built-in generator: reproject (the photo re-projected onto the completed "
                                          "avatar, rendered under library motions).")
    seed: int = setting(0, "Random seed of the sampled motions and views.", ge=0)
    size: int = setting(512, "Width and height of the pseudo frames in pixels.", ge=16, le=4096)
    uv_res: int = setting(1024, "Resolution of the completed UV texture (and of the rendered UV Gaussians); 1024 keeps "
                                "the photo's detail (512 blurs it by ~3 dB of input-view PSNR).", ge=8, le=4096)
    renderer: Literal["auto", "splats", "mesh"] = setting("auto", "auto: Gaussians on CUDA (gsplat), else the textured proxy mesh (fast on CPU); "
                                    "splats: Gaussians always (slow on CPU); mesh: the textured proxy mesh.")
    root_pitch: float = setting(30.0, "Random root rotation: pitch within +- this many degrees.", ge=0, le=90)
    root_yaw: float = setting(10.0, "Random root rotation: yaw within +- this many degrees.", ge=0, le=180)
    side_views: float = setting(0.35, "Share of frames seen from the side or back (camera yaw beyond 40 degrees).",
                                ge=0, le=1)
    proxy_smooth: float = setting(0.3, "Smoothness (membrane + thin plate) of the clothing offsets of the proxy "
                                       "surface; larger is smoother but follows the person's outline less closely.",
                                 gt=0)
    proxy_max: float = setting(0.25, "Largest clothing offset of the proxy surface, metres.", ge=0)
    batch: int = setting(8, "Frames posed and rendered together (larger is faster on a GPU, uses more memory).", ge=1)

    def __post_init__(self):
        check_fields(self)

    @classmethod
    def for_preset(cls, preset: str) -> "PseudoConfig":
        """The settings `talkavatar fit PHOTO --preset PRESET` runs the pseudo stage with."""
        return replace(cls(), **PRESETS[preset])
