"""One ``rasterize()`` for every stage: colour, alpha and expected depth of Gaussians seen by a batch of cameras.

Backends compute the same function (gsplat 1.5.3's "classic" 3DGS rasterization, RGB+ED mode):

* EWA projection of each Gaussian with gsplat's Jacobian clamp (1.3 × the half field of view), plus ``eps2d``
  (0.3 px²) added to the 2D covariance ("low-pass" dilation);
* culling: camera-space depth outside ``[near_plane, far_plane]``, non-positive determinant, opacity < 1/255;
* per pixel, Gaussians front to back in depth order, alpha = min(0.999, opacity · exp(-½ dᵀ Σ⁻¹ d)), skipped when
  below 1/255; a pixel stops before the Gaussian that would bring its transmittance to ≤ 1e-4;
* rgb = Σ wᵢ cᵢ + T·background, alpha = 1 − T, depth = Σ wᵢ zᵢ / max(alpha, 1e-10) (0 where nothing is seen).

``reference`` is plain torch (CPU or CUDA, any float dtype, differentiable; the compositing has an analytic backward
tested against an op-by-op autograd twin) and is the parity oracle;
``gsplat`` is the fast CUDA path (float32). ``auto`` picks gsplat for float32 CUDA tensors when gsplat's CUDA
extension loads, else the reference; the backend actually used is returned in ``RenderOutput.backend``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats.gsplat_backend import TILE_SIZE as GSPLAT_TILE_SIZE
from talkavatar.core.splats.gsplat_backend import render as gsplat_render
from talkavatar.core.splats.gsplat_backend import unavailable_reason as gsplat_unavailable_reason
from talkavatar.core.splats.reference import render as reference_render
from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.settings import RasterSettings
from talkavatar.errors import MissingDependency

Backend = Literal["auto", "gsplat", "reference"]


@dataclass(frozen=True)
class RenderOutput:
    """rgb: [C, H, W, 3]; alpha: [C, H, W, 1]; depth: [C, H, W, 1] expected camera-space z (0 where alpha is 0), or
    None where it was not asked for; backend: the backend that produced them ("gsplat" or "reference")."""

    rgb: Tensor
    alpha: Tensor
    depth: Tensor | None
    backend: str


def rasterize(gaussians: Gaussians, cameras: Cameras, *, backend: Backend = "auto",
              background: Tensor | tuple[float, float, float] | None = None,
              settings: RasterSettings = RasterSettings(), depth: bool = True,
              tile_size: int = GSPLAT_TILE_SIZE) -> RenderOutput:
    """Render ``gaussians`` from every camera.

    gaussians: shared ([N, ...] fields) or posed per camera ([C, N, ...] fields, C = ``cameras.count``).
    cameras: C cameras on the Gaussians' device and dtype.
    background: [3], [C, 3] or an RGB tuple; black when None.
    depth: False leaves the expected depth out (``RenderOutput.depth`` None): gsplat then rasterizes three channels
    instead of four (its forward and backward kernels carry one value less per Gaussian and pixel); rgb and alpha
    are the same numbers either way.
    tile_size: gsplat's tile edge in pixels, a speed knob: the same numbers for any size
    (``gsplat_backend.TILE_SIZE``); the reference backend has its own blocks.
    Raises ``ValueError`` on inconsistent inputs and ``MissingDependency`` when ``backend="gsplat"`` cannot run.
    """
    C = cameras.count
    if gaussians.batch_size not in (None, C):
        raise ValueError(f"Gaussians are posed for {gaussians.batch_size} cameras but {C} cameras were given")
    if cameras.device != gaussians.device or cameras.dtype != gaussians.dtype:
        raise ValueError(f"cameras ({cameras.dtype} on {cameras.device}) and Gaussians ({gaussians.dtype} on "
                         f"{gaussians.device}) must share device and dtype")
    chosen = _choose(backend, gaussians)
    if chosen == "gsplat":  # black composites nothing there (the same numbers, fewer operations)
        bg = None if background is None else _background(background, C, gaussians.dtype, gaussians.device)
        rgb, alpha, expected = gsplat_render(gaussians, cameras, bg, settings, depth=depth, tile_size=tile_size)
    else:
        bg = _background(background, C, gaussians.dtype, gaussians.device)
        rgb, alpha, expected = reference_render(gaussians, cameras, bg, settings)
    return RenderOutput(rgb, alpha, expected if depth else None, chosen)


def _background(background, C: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    if background is None:
        return torch.zeros(C, 3, dtype=dtype, device=device)
    bg = torch.as_tensor(background, dtype=dtype, device=device)
    if bg.shape == (3,):
        return bg.expand(C, 3)
    if bg.shape == (C, 3):
        return bg
    raise ValueError(f"background must be [3] or [{C}, 3], got {list(bg.shape)}")


def _choose(backend: str, gaussians: Gaussians) -> str:
    if backend == "reference":
        return "reference"
    if backend not in ("auto", "gsplat"):
        raise ValueError(f"unknown rasterizer backend {backend!r}; choose auto, gsplat or reference")
    problem = gsplat_unavailable_reason(gaussians.device, gaussians.dtype)
    if problem is None:
        return "gsplat"
    if backend == "gsplat":
        raise MissingDependency(f"the gsplat rasterizer cannot run: {problem}",
                                tip="use backend 'auto' or 'reference', or install gsplat==1.5.3 on a CUDA machine")
    return "reference"
