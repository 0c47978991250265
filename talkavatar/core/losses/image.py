"""Image losses and metrics: L1 (optionally masked), SSIM (Gaussian window), PSNR (optionally masked).

Images are channels-last float tensors ``[B, H, W, C]`` (what :func:`talkavatar.core.splats.rasterize` returns) in
0..1; masks are ``[B, H, W]`` or ``[B, H, W, 1]`` in 0..1 (soft masks weight pixels). Every function is
differentiable and runs on any device and float dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_WINDOW = 11  # Wang et al. 2004: an 11-tap Gaussian window with sigma 1.5
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {list(x.shape)} vs {list(y.shape)}")
    if x.dim() != 4:
        raise ValueError(f"images must be [B, H, W, C], got {list(x.shape)}")


def _mask_weights(mask: Tensor | None, like: Tensor) -> Tensor:
    """A mask as [B, H, W, 1] in the dtype of ``like`` (all ones when None)."""
    if mask is None:
        return torch.ones_like(like[..., :1])
    if mask.dim() == 3:
        mask = mask[..., None]
    if mask.shape[:3] != like.shape[:3] or mask.shape[-1] != 1:
        raise ValueError(f"mask must be [B, H, W] or [B, H, W, 1] matching images {list(like.shape)}, "
                         f"got {list(mask.shape)}")
    return mask.to(like.dtype)


def l1(x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean absolute difference, over the pixels (weighted by ``mask``) and channels. Returns a scalar."""
    _check_pair(x, y)
    w = _mask_weights(mask, x)
    return ((x - y).abs() * w).sum() / (w.sum() * x.shape[-1]).clamp_min(1e-8)


def mse(x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean squared difference per image, [B] (weighted by ``mask``)."""
    _check_pair(x, y)
    w = _mask_weights(mask, x)
    return ((x - y) ** 2 * w).sum((1, 2, 3)) / (w.sum((1, 2, 3)) * x.shape[-1]).clamp_min(1e-12)


def psnr(x: Tensor, y: Tensor, mask: Tensor | None = None, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image in dB, [B]: ``10 log10(range² / MSE)``; with ``mask`` [B, H, W], over the
    masked pixels only. +inf where the images (inside ``mask``) are identical, nan where ``mask`` is empty."""
    error = mse(x, y, mask)
    value = 10.0 * torch.log10(data_range ** 2 / error.clamp_min(torch.finfo(error.dtype).tiny))
    value = torch.where(error > 0, value, torch.full_like(value, float("inf")))
    if mask is not None:  # nothing to compare: undefined
        value = torch.where(mask.flatten(1).sum(1) > 0, value, torch.full_like(value, float("nan")))
    return value


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype=torch.float32,
                    device=None) -> Tensor:
    """Normalised 1-D Gaussian taps, [size]."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _blur_valid(x: Tensor, taps: Tensor) -> Tensor:
    """Separable 'valid' convolution of [B, C, H, W] with ``taps`` -> [B, C, H - k + 1, W - k + 1]."""
    c = x.shape[1]
    k = taps.numel()
    x = F.conv2d(x, taps.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)
    return F.conv2d(x, taps.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)


def ssim_map(x: Tensor, y: Tensor, data_range: float = 1.0, window: int = SSIM_WINDOW,
             sigma: float = SSIM_SIGMA) -> Tensor:
    """Local SSIM per pixel and channel, [B, H - window + 1, W - window + 1, C] ('valid' region only).

    Population (not sample) statistics under a Gaussian window, as in Wang et al. 2004 and
    ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
    """
    _check_pair(x, y)
    if min(x.shape[1], x.shape[2]) < window:
        raise ValueError(f"images of {x.shape[1]}x{x.shape[2]} px are smaller than the {window}-px SSIM window")
    taps = gaussian_window(window, sigma, x.dtype, x.device)
    a, b = x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2)
    # the five local means in one separable blur (two convolutions instead of ten)
    mu_a, mu_b, mean_aa, mean_bb, mean_ab = _blur_valid(torch.cat([a, b, a * a, b * b, a * b], 1), taps).chunk(5, 1)
    var_a = mean_aa - mu_a ** 2
    var_b = mean_bb - mu_b ** 2
    cov = mean_ab - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.permute(0, 2, 3, 1)


def ssim(x: Tensor, y: Tensor, mask: Tensor | None = None, data_range: float = 1.0) -> Tensor:
    """Mean SSIM per image, [B], over channels and the valid window positions (weighted by ``mask`` there)."""
    s = ssim_map(x, y, data_range)
    w = _mask_weights(mask, x)
    crop = (SSIM_WINDOW - 1) // 2
    w = w[:, crop:w.shape[1] - crop, crop:w.shape[2] - crop]
    return (s * w).sum((1, 2, 3)) / (w.sum((1, 2, 3)) * s.shape[-1]).clamp_min(1e-12)


def ssim_loss(x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """1 - mean SSIM, a scalar (for minimisation)."""
    return 1.0 - ssim(x, y, mask).mean()

