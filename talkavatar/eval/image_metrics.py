"""Image similarity of renders against references: PSNR (dB, +inf for identical images), SSIM, L1 and a perceptual
distance, each per frame and optionally inside a mask.

Images are channels-last ``[B, H, W, 3]`` float in 0..1 (sRGB, as a video stores them); masks ``[B, H, W]`` in 0..1.
SSIM and the perceptual distance are :mod:`talkavatar.core.losses`'s (shared with fitting). Inside a mask, PSNR and
L1 weight pixels by the mask, SSIM weights its local windows by the mask at their centres, and the perceptual
distance compares the two images with everything outside the mask set to black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.losses import psnr, ssim


def l1_per_image(x: Tensor, y: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean absolute difference per image, [B] (pixels weighted by ``mask``, channels averaged)."""
    w = torch.ones_like(x[..., 0]) if mask is None else mask.to(x.dtype)
    return ((x - y).abs().mean(-1) * w).sum((1, 2)) / w.sum((1, 2)).clamp_min(1e-12)


@dataclass(frozen=True)
class ImageScores:
    """Per-frame scores, each ``[B]`` numpy float64; ``perceptual_kind`` names the perceptual network (None: not
    computed)."""

    psnr: np.ndarray
    ssim: np.ndarray
    l1: np.ndarray
    perceptual: np.ndarray | None
    perceptual_kind: str | None


@torch.no_grad()
def image_scores(rendered: Tensor, reference: Tensor, mask: Tensor | None = None, perceptual=None) -> ImageScores:
    """All scores of ``rendered`` vs ``reference`` [B, H, W, 3] (inside ``mask`` [B, H, W] when given).

    ``perceptual``: a :class:`talkavatar.core.losses.PerceptualDistance` or None to skip it.
    """
    if rendered.shape != reference.shape or rendered.dim() != 4 or rendered.shape[-1] != 3:
        raise ValueError(f"images must both be [B, H, W, 3], got {list(rendered.shape)} and {list(reference.shape)}")
    if mask is not None and mask.shape != rendered.shape[:3]:
        raise ValueError(f"mask must be [B, H, W] = {list(rendered.shape[:3])}, got {list(mask.shape)}")
    as_np = lambda t: t.detach().double().cpu().numpy()  # noqa: E731
    distance = None
    if perceptual is not None:
        a, b = (rendered, reference) if mask is None else (rendered * mask[..., None], reference * mask[..., None])
        distance = as_np(perceptual(a.float(), b.float()))
    return ImageScores(as_np(psnr(rendered, reference, mask)), as_np(ssim(rendered, reference, mask)),
                       as_np(l1_per_image(rendered, reference, mask)), distance,
                       None if perceptual is None else perceptual.kind)
