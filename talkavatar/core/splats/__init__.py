"""Gaussian splat rasterization: one :func:`rasterize` with a gsplat (CUDA) and a pure-torch reference backend.

Usage: ``out = rasterize(gaussians, cameras)`` gives ``RenderOutput(rgb, alpha, depth, backend)``.
"""

from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.rasterize import RenderOutput, rasterize
from talkavatar.core.splats.settings import RasterSettings

__all__ = ["Gaussians", "RasterSettings", "RenderOutput", "rasterize"]
