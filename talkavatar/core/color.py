"""sRGB <-> linear colour (IEC 61966-2-1). The bundle stores linear colour in tensors, sRGB in PNGs."""

from __future__ import annotations

import torch
from torch import Tensor


def srgb_to_linear(srgb: Tensor) -> Tensor:
    """sRGB-encoded values in 0..1 -> linear light, same shape."""
    return torch.where(srgb <= 0.04045, srgb / 12.92, ((srgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: Tensor) -> Tensor:
    """Linear light in 0..1 -> sRGB-encoded values, same shape (differentiable; clamps below 0)."""
    x = linear.clamp_min(0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)
