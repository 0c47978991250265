"""Colour of rendered frames: colours given by users, sRGB -> Y'CbCr 4:2:0 (sRGB itself: core.color).

Renders are linear RGB (project convention); files hold sRGB. Video frames are converted to BT.709 limited-range
Y'CbCr 4:2:0 on the render device (half the bytes of RGB through the pipe, no colour conversion in ffmpeg), and
the stream is tagged BT.709 so that players decode it with the same matrix.
"""

from __future__ import annotations

import torch
from PIL import ImageColor
from torch import Tensor

# BT.709 luma weights
KR, KB = 0.2126, 0.0722
KG = 1.0 - KR - KB


def parse_color(text: str) -> tuple[float, float, float] | None:
    """A user's colour as sRGB in 0..1: a CSS name or ``#rrggbb`` (via Pillow), or ``r,g,b`` in 0..1.

    Returns None when ``text`` is not a colour.
    """
    parts = text.split(",")
    if len(parts) == 3:
        try:
            values = tuple(float(p) for p in parts)
        except ValueError:
            return None
        if all(0.0 <= v <= 1.0 for v in values):
            return values  # type: ignore[return-value]
        return None

    try:
        rgb = ImageColor.getrgb(text.strip())
    except ValueError:
        return None
    return tuple(c / 255.0 for c in rgb[:3])  # type: ignore[return-value]


def to_uint8(x: Tensor) -> Tensor:
    """0..1 floats -> uint8 with rounding (same device)."""
    return (x.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)


def srgb_to_yuv420p(srgb: Tensor) -> Tensor:
    """BT.709 limited-range planar Y'CbCr 4:2:0 of ``srgb`` [B, H, W, 3] in 0..1 (H, W even).

    Returns uint8 [B, H*W*3/2]: per frame the Y plane [H, W], then Cb and Cr planes [H/2, W/2] (chroma is the
    mean of each 2x2 block), the byte layout of ffmpeg's ``yuv420p``.
    """
    b, h, w, _ = srgb.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even width and height, got {w}x{h}")
    r, g, bl = srgb.clamp(0.0, 1.0).unbind(-1)
    luma = KR * r + KG * g + KB * bl
    y = 16.0 + 219.0 * luma
    half = srgb.clamp(0.0, 1.0).reshape(b, h // 2, 2, w // 2, 2, 3).mean(dim=(2, 4))
    hr, hg, hb = half.unbind(-1)
    half_luma = KR * hr + KG * hg + KB * hb
    cb = 128.0 + 224.0 * (hb - half_luma) / (2 * (1 - KB))
    cr = 128.0 + 224.0 * (hr - half_luma) / (2 * (1 - KR))
    planes = [p.add(0.5).clamp(0, 255).to(torch.uint8).reshape(b, -1) for p in (y, cb, cr)]
    return torch.cat(planes, dim=1)
