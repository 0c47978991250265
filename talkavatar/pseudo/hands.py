"""The photo's pixels that a detected hand covers: colours there belong to the hand, not to what lies behind it.

A hand raised to the face (laughing's on his forehead) sits within the texture projection's depth tolerance of the
head, and the fitted hand never matches the real one's outline: without this the head's texels behind it take the
hand's colours, and the video shows a hand painted on the forehead when the arm comes down. The region of each hand
is what track's gating takes as under the hand (:mod:`talkavatar.core.hand_cover`): the convex hull of its 21
MediaPipe points grown by half a finger's width. The forward-facing face there is completed as skin
(:mod:`complete`), not as the head band's hair.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from talkavatar.core import hand_cover

MIN_MARGIN = 1  # pixels


def hand_region(hands: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """[H, W] bool: the pixels of the hands ``hands`` (each [21, 2] pixel points (x, y)) in an image of that size."""
    region = np.zeros((height, width), np.uint8)
    for points in hands:
        hull = cv2.convexHull(np.round(points).astype(np.int32))
        hand = np.zeros_like(region)
        cv2.fillConvexPoly(hand, hull, 1)
        margin = max(int(round(hand_cover.margin(points))), MIN_MARGIN)
        region |= cv2.dilate(hand, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)))
    return region.astype(bool)
