"""How far beyond its landmarks a detected hand covers the image: track's gating (face points under a hand) and
pseudo's texture (the photo's pixels a hand covers) take the same region, the convex hull of MediaPipe's 21 hand
points grown by :func:`margin`."""

from __future__ import annotations

import numpy as np

FINGER = 0.25
"""Half a finger's width, in hand sizes (wrist to middle knuckle): how far beyond its points a hand covers."""


def margin(hand: np.ndarray) -> float:
    """Pixels a hand covers beyond the hull of its points ``hand`` [21, 2]: :data:`FINGER` of its size (wrist 0 to
    middle knuckle 9), half a finger's width about the bones' points."""
    return FINGER * float(np.linalg.norm(hand[0] - hand[9]))
