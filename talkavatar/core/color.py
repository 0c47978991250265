"""sRGB <-> linear colour (IEC 61966-2-1). The bundle stores linear colour in tensors, sRGB in PNGs."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

GREY_SPREAD = 0.02  # an image whose pixels' mean channel spread (max - min, sRGB 0..1) is under this has no colour


def is_greyscale(srgb: np.ndarray) -> bool:
    """Whether an sRGB image [..., 3] in 0..1 is black and white: its pixels' mean channel spread under GREY_SPREAD
    (a scanned or JPEG-compressed greyscale photo keeps a little spread)."""
    return float((np.max(srgb, -1) - np.min(srgb, -1)).mean()) < GREY_SPREAD


def srgb_to_linear(srgb: Tensor) -> Tensor:
    """sRGB-encoded values in 0..1 -> linear light, same shape."""
    return torch.where(srgb <= 0.04045, srgb / 12.92, ((srgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: Tensor) -> Tensor:
    """Linear light in 0..1 -> sRGB-encoded values, same shape (differentiable; clamps below 0)."""
    x = linear.clamp_min(0)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def shade_distance(a: Tensor, b: Tensor, chroma_unit: float, shade_unit: float) -> Tensor:
    """Colour distance [...] of sRGB colours a, b [..., 3] in 0..1 that forgives shading: chromaticity (r, g, b over
    their sum) in ``chroma_unit`` units and log-luminance ratio in ``shade_unit`` units, combined (a wall or a cheek
    in shadow keeps its chromaticity; a darker material of the same hue is still far by luminance)."""
    sa, sb = a.sum(-1, keepdim=True) + 0.03, b.sum(-1, keepdim=True) + 0.03
    chroma = (a / sa - b / sb).norm(dim=-1) / chroma_unit
    shade = torch.log(sa[..., 0] / sb[..., 0]) / shade_unit
    return torch.sqrt(chroma ** 2 + shade ** 2)
