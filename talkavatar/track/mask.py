"""Refining MediaPipe's coarse person mask: an edge-aware guided filter, then the component that holds the person."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a colour guide. guide: [H, W, 3] float in 0..1; src: [H, W] → [H, W].

    Plain numpy box filters (integral images); O(H W) whatever the radius.
    """
    def box(x: np.ndarray) -> np.ndarray:
        pad = np.pad(x, [(radius + 1, radius)] * 2 + [(0, 0)] * (x.ndim - 2), mode="edge")
        c = pad.cumsum(0).cumsum(1)
        k = 2 * radius + 1
        return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)

    I = guide.astype(np.float64)
    p = src.astype(np.float64)
    mean_I, mean_p = box(I), box(p)
    cov_Ip = box(I * p[..., None]) - mean_I * mean_p[..., None]
    # 3x3 covariance of the guide per pixel
    var = box(I[..., :, None] * I[..., None, :]) - mean_I[..., :, None] * mean_I[..., None, :]
    a = np.linalg.solve(var + eps * np.eye(3), cov_Ip[..., None])[..., 0]  # [H, W, 3]
    b = mean_p - (a * mean_I).sum(-1)
    return (box(a) * I).sum(-1) + box(b)


def refine_mask(image: np.ndarray, mask: np.ndarray, seeds_xy: np.ndarray | None = None) -> np.ndarray:
    """A soft person mask with sharp edges. image: [H, W, 3] uint8; mask: [H, W] 0..1; seeds_xy: [K, 2] pixels that
    lie on the person (landmarks). Returns [H, W] float32 in 0..1.

    Filtering runs at most at 1024 px (longer side) and is upsampled back; the connected component(s) of the
    thresholded mask that contain no seed are removed (other people, furniture the segmenter caught).
    """
    h, w = mask.shape
    factor = min(1.0, 1024 / max(h, w))
    small = (max(1, round(w * factor)), max(1, round(h * factor)))
    guide = np.asarray(Image.fromarray(image).resize(small, Image.BILINEAR), np.float64) / 255.0
    src = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(small, Image.BILINEAR), np.float64)
    radius = max(2, round(0.012 * max(small)))
    soft = np.clip(guided_filter(guide, src, radius, 1e-3), 0.0, 1.0)
    hard = soft > 0.5
    labels, n = ndimage.label(hard)
    if n > 1 and seeds_xy is not None and len(seeds_xy):
        xs = np.clip((seeds_xy[:, 0] * factor).astype(int), 0, small[0] - 1)
        ys = np.clip((seeds_xy[:, 1] * factor).astype(int), 0, small[1] - 1)
        keep = set(labels[ys, xs].tolist()) - {0}
        if not keep:  # no landmark inside the mask: keep the largest piece
            keep = {int(np.argmax(np.bincount(labels.ravel())[1:]) + 1)}
        soft = soft * np.isin(labels, list(keep))
    soft = soft * ndimage.binary_fill_holes(soft > 0.5) + soft * (soft <= 0.5)
    if factor < 1.0:
        soft = np.asarray(Image.fromarray(soft.astype(np.float32)).resize((w, h), Image.BILINEAR))
    return soft.astype(np.float32)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks [H, W]."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
