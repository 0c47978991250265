"""Small deterministic Gaussian scenes for the rasterizer tests (CPU and GPU)."""

import torch

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats import Gaussians


def random_gaussians(n: int, seed: int, *, dtype=torch.float32, spread: float = 0.35,
                     scale_range=(0.01, 0.06)) -> Gaussians:
    """``n`` Gaussians in a ball of radius ~``spread`` around the origin, varied shapes, opacities, colours."""
    gen = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=gen) * 2 - 1) * spread
    quats = torch.randn(n, 4, generator=gen)
    lo, hi = scale_range
    log_scales = torch.log(lo + (hi - lo) * torch.rand(n, 3, generator=gen))
    opacity_logit = torch.randn(n, generator=gen) * 1.5
    rgb = torch.rand(n, 3, generator=gen)
    return Gaussians(means, quats, log_scales, opacity_logit, rgb).to(dtype=dtype)


def ring_cameras(count: int, *, width: int = 40, height: int = 32, dtype=torch.float32) -> Cameras:
    """``count`` cameras around the origin at distance 2 m, looking at it, a little from above."""
    yaw = torch.linspace(0.0, 300.0, count)
    return Cameras.orbit(torch.zeros(3), 2.0, yaw, 15.0, width=width, height=height, fov_y_degrees=35.0).to(
        dtype=dtype)
