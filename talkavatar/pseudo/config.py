"""`PseudoConfig`: the settings of the pseudo stage (one field per CLI option of `talkavatar pseudo`)."""

from __future__ import annotations

from dataclasses import dataclass

from talkavatar.config import setting

GENERATORS = ("reproject",)
RENDERERS = ("auto", "splats", "mesh")


@dataclass(frozen=True)
class PseudoConfig:
    frames: int = setting(120, "Number of pseudo-label frames to render.")
    generator: str = setting("reproject", "Built-in generator: reproject (the photo re-projected onto the completed "
                                          "avatar, rendered under library motions).")
    seed: int = setting(0, "Random seed of the sampled motions and views.")
    size: int = setting(512, "Width and height of the pseudo frames in pixels.")
    uv_res: int = setting(1024, "Resolution of the completed UV texture (and of the rendered UV Gaussians); 1024 keeps "
                                "the photo's detail (512 blurs it by ~3 dB of input-view PSNR).")
    renderer: str = setting("auto", "auto: Gaussians on CUDA (gsplat), else the textured proxy mesh (fast on CPU); "
                                    "splats: Gaussians always (slow on CPU); mesh: the textured proxy mesh.")
    root_pitch: float = setting(30.0, "Random root rotation: pitch within +- this many degrees.")
    root_yaw: float = setting(10.0, "Random root rotation: yaw within +- this many degrees.")
    side_views: float = setting(0.35, "Share of frames seen from the side or back (camera yaw beyond 40 degrees).")
    proxy_smooth: float = setting(0.3, "Smoothness (membrane + thin plate) of the clothing offsets of the proxy "
                                       "surface; larger is smoother but follows the person's outline less closely.")
    proxy_max: float = setting(0.25, "Largest clothing offset of the proxy surface, metres.")

    def __post_init__(self):
        if self.frames < 0:
            raise ValueError("frames must be >= 0")
        if self.generator not in GENERATORS:
            raise ValueError(f"generator must be one of {', '.join(GENERATORS)}, not {self.generator!r}")
        if self.renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}, not {self.renderer!r}")
        if not 16 <= self.size <= 4096:
            raise ValueError("size must be within 16..4096")
        if not 8 <= self.uv_res <= 4096:
            raise ValueError("uv_res must be within 8..4096")
        if not (0 <= self.root_pitch <= 90 and 0 <= self.root_yaw <= 180):
            raise ValueError("root_pitch must be within 0..90 and root_yaw within 0..180 degrees")
        if not 0 <= self.side_views <= 1:
            raise ValueError("side_views must be within 0..1")
        if self.proxy_smooth <= 0 or self.proxy_max < 0:
            raise ValueError("proxy_smooth must be > 0 and proxy_max >= 0")
