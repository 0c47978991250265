"""Refining MediaPipe's coarse person mask: an edge-aware guided filter, then the component that holds the person."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a colour guide. guide: [H, W, 3] float in 0..1; src: [H, W] → [H, W].

    Box filters of side ``2 radius + 1`` (OpenCV's running means in float64, edges replicated: scipy's
    ``uniform_filter`` to ~1e-15, 4-5x faster): O(H W) whatever the radius; the guide's 3x3 covariance from its 6
    distinct products.
    """
    size = 2 * radius + 1

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.blur(x, (size, size), borderType=cv2.BORDER_REPLICATE).reshape(x.shape)

    I = guide.astype(np.float64)
    p = src.astype(np.float64)
    mean_I, mean_p = box(I), box(p)
    cov_Ip = box(I * p[..., None]) - mean_I * mean_p[..., None]
    pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    products = box(np.stack([I[..., i] * I[..., j] for i, j in pairs], -1))
    # the guide's 3x3 covariance per pixel (+ eps on the diagonal), its 6 distinct entries
    m = [products[..., n] - mean_I[..., i] * mean_I[..., j] + (eps if i == j else 0.0)
         for n, (i, j) in enumerate(pairs)]
    a = _solve_symmetric3(*m, cov_Ip)                                           # [H, W, 3]
    b = mean_p - (a * mean_I).sum(-1)
    return (box(a) * I).sum(-1) + box(b)


def _solve_symmetric3(m00, m01, m02, m11, m12, m22, rhs: np.ndarray) -> np.ndarray:
    """x [..., 3] with ``M x = rhs`` for the symmetric 3x3 matrices M given by their entries [...] (Cramer's rule
    with the adjugate: the per-pixel solve without a batched LAPACK call)."""
    c00, c01, c02 = m11 * m22 - m12 * m12, m02 * m12 - m01 * m22, m01 * m12 - m02 * m11
    c11, c12, c22 = m00 * m22 - m02 * m02, m01 * m02 - m00 * m12, m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    r0, r1, r2 = rhs[..., 0], rhs[..., 1], rhs[..., 2]
    return np.stack([c00 * r0 + c01 * r1 + c02 * r2, c01 * r0 + c11 * r1 + c12 * r2,
                     c02 * r0 + c12 * r1 + c22 * r2], -1) / det[..., None]


def refine_mask(image: np.ndarray, mask: np.ndarray, seeds_xy: np.ndarray | None = None,
                max_side: int = 1024) -> np.ndarray:
    """A soft person mask with sharp edges. image: [H, W, 3] uint8; mask: [H, W] 0..1; seeds_xy: [K, 2] pixels that
    lie on the person (landmarks). Returns [H, W] float32 in 0..1.

    Filtering runs at most at ``max_side`` px (longer side) and is upsampled back; the connected component(s) of the
    thresholded mask that contain no seed are removed (other people, furniture the segmenter caught).
    """
    h, w = mask.shape
    factor = min(1.0, max_side / max(h, w))
    small = (max(1, round(w * factor)), max(1, round(h * factor)))
    guide = np.asarray(Image.fromarray(image).resize(small, Image.BILINEAR), np.float64) / 255.0
    src = np.asarray(Image.fromarray(mask.astype(np.float32)).resize(small, Image.BILINEAR), np.float64)
    radius = max(2, round(0.012 * max(small)))
    soft = np.clip(guided_filter(guide, src, radius, 1e-3), 0.0, 1.0)
    hard = soft > 0.5
    count, labels = cv2.connectedComponents(hard.astype(np.uint8), connectivity=4)  # 0: background
    if count > 2 and seeds_xy is not None and len(seeds_xy):
        xs = np.clip((seeds_xy[:, 0] * factor).astype(int), 0, small[0] - 1)
        ys = np.clip((seeds_xy[:, 1] * factor).astype(int), 0, small[1] - 1)
        keep = set(labels[ys, xs].tolist()) - {0}
        if not keep:  # no landmark inside the mask: keep the largest piece
            keep = {int(np.argmax(np.bincount(labels.ravel())[1:]) + 1)}
        soft = soft * np.isin(labels, list(keep))
    soft = soft * fill_holes(soft > 0.5) + soft * (soft <= 0.5)
    if factor < 1.0:
        soft = np.asarray(Image.fromarray(soft.astype(np.float32)).resize((w, h), Image.BILINEAR))
    return soft.astype(np.float32)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """[H, W] bool with every background region that does not reach the border (4-connected) filled
    (``scipy.ndimage.binary_fill_holes``; OpenCV's flood fill, so that tracking need not import scipy.ndimage:
    ~0.4 s of CPU)."""
    outside = np.pad(mask, 1).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 1, flags=4)
    return mask | (outside[1:-1, 1:-1] == 0)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks [H, W]."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
