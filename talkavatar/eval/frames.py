"""Frames as the metrics need them: sizes, resized, as tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_size(width: int, height: int, longer_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is ``longer_side``, rounded to even numbers."""
    s = longer_side / max(width, height)
    return max(2, 2 * round(width * s / 2)), max(2, 2 * round(height * s / 2))


def resized(images: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """``images`` [B, H, W, C] (uint8 0..255 or float 0..1) -> float32 [B, h, w, C] in 0..1 at ``size`` = (w, h),
    area-averaged when shrinking."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    w, h = size
    if x.shape[1:3] == (h, w):
        return x
    y = F.interpolate(x.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y.permute(0, 2, 3, 1).clamp(0, 1)
