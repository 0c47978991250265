"""The photo's pixels a detected hand covers: colours there belong to the hand, not to what lies behind it.

Track's gating (face points under a hand, :func:`covers`), its Face Mesh behind a hand over the mouth
(:mod:`talkavatar.track.face_behind_hand`), pseudo's texture (the texels behind a hand are unseen) and the fit (the
Gaussians behind a hand give their colour back) take the same region: the convex hull of MediaPipe's 21 hand points
grown by :func:`margin`. A hand raised to the face (laughing's on his forehead) sits within the texture projection's
depth tolerance of the head, or a few millimetres inside it (the tracked hand is placed by its 2D points), and the
fitted hand never matches the real one's outline: without this the head behind it takes the hand's colours, and the
video shows a hand painted on the forehead when the arm comes down.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

FINGER = 0.25
"""Half a finger's width, in hand sizes (wrist to middle knuckle): how far beyond its points a hand covers."""
MIN_MARGIN = 1  # pixels


def margin(hand: np.ndarray) -> float:
    """Pixels a hand covers beyond the hull of its points ``hand`` [21, 2]: :data:`FINGER` of its size (wrist 0 to
    middle knuckle 9), half a finger's width about the bones' points."""
    return FINGER * float(np.linalg.norm(hand[0] - hand[9]))


def covers(points: np.ndarray, hand: np.ndarray) -> np.ndarray:
    """[N] bool: which ``points`` [N, 2] a hand ``hand`` [21, 2] covers: inside the convex hull of its points grown
    by :func:`margin` (the test of single points that :func:`hand_region` is of pixels)."""
    hull = cv2.convexHull(hand.astype(np.float32))
    grown = margin(hand)
    return np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), True) >= -grown for x, y in points], bool)


def hand_region(hands: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """[H, W] bool: the pixels of the hands ``hands`` (each [21, 2] pixel points (x, y)) in an image of that size."""
    region = np.zeros((height, width), np.uint8)
    for points in hands:
        hull = cv2.convexHull(np.round(points).astype(np.int32))
        hand = np.zeros_like(region)
        cv2.fillConvexPoly(hand, hull, 1)
        grown = max(int(round(margin(points))), MIN_MARGIN)
        region |= cv2.dilate(hand, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grown + 1, 2 * grown + 1)))
    return region.astype(bool)
