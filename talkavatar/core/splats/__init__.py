"""Gaussian splat rasterization: one :func:`rasterize` with a gsplat (CUDA) and a pure-torch reference backend.

Usage: ``out = rasterize(gaussians, cameras)`` gives ``RenderOutput(rgb, alpha, depth, backend)``.
"""

from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.rasterize import RasterSettings, RenderOutput, rasterize

__all__ = ["Gaussians", "RasterSettings", "RenderOutput", "rasterize"]
