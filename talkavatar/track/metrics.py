"""Figures the track stage reports on its own fit: landmark error as % of the person's height, silhouette IoU."""

from __future__ import annotations

import numpy as np

from talkavatar.track.mask import mask_iou

VISIBLE = 0.5
"""Body landmarks count in the error where MediaPipe's visibility is at least this (and they lie in the image)."""


def person_height(mask: np.ndarray, points: np.ndarray) -> float:
    """Height in pixels of the person's bounding box: the mask's (> 0.5) rows, else the landmarks' [K, 2] extent."""
    rows = np.flatnonzero((mask > 0.5).any(axis=1))
    if rows.size:
        return float(rows[-1] - rows[0] + 1)
    return float(np.ptp(points[:, 1])) if len(points) else 1.0


def keypoint_error_pct(fitted: np.ndarray, detected: np.ndarray, weight: np.ndarray, height: float) -> float | None:
    """Mean 2D distance between fitted [K, 2] and detected [K, 2] points where weight [K] > 0, as % of ``height``;
    None when no point counts."""
    keep = weight > 0
    if not keep.any():
        return None
    return float(np.linalg.norm(fitted[keep] - detected[keep], axis=1).mean() / height * 100.0)


def silhouette_iou(silhouette: np.ndarray, mask: np.ndarray) -> float:
    """IoU of the posed mesh's silhouette [H, W] bool with the person mask [H, W] (0..1, thresholded at 0.5)."""
    return mask_iou(silhouette, mask > 0.5)
