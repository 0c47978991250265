"""A face behind a hand over the mouth: its Face Mesh seen again with the hand painted out.

MediaPipe's Face Mesh bends towards fingers over the mouth, the points it can see included: on hand_over_mouth
(issue 17's photo set) its nose tip lies 3.2 % of the person's height towards the fingers, its seen mouth corner
2.4 %, and the fit follows them (the points under the hand already weigh nothing: :mod:`gating`). Seen on the head
crop with the hand's pixels (:func:`~talkavatar.core.hand_cover.hand_region`) filled from the face around them
(OpenCV's Telea inpainting), the mesh of the same frame keeps its shape: nose tip 1.5 %, seen corner 1.4 %.

Only where a hand of a plausible size (:func:`~talkavatar.track.gating.real_hands`, the hands whose face points the
gating gives no weight) covers part of the lips and less than :data:`MOST` of the mesh: inpainting fills a hand from
what lies around it, and a hand over half the face leaves too little face to fill from. Marked frames of the
Wolfgang Langer clip (the photo's own clip, seen as photos): the mesh's error against the marks fell on the eight
frames whose hand covers 30-42 % of the mesh (1.83-2.80 -> 1.26-2.25 %) and rose on the four covering 47-57 %
(1.87-2.62 -> 2.38-4.37 %); :data:`MOST`, a round half, admits the one at 47 % (frame 185), whose fit neither gains
nor loses (2.39 -> 2.40 %). A hand on the forehead (hand_on_head) is not this case: the mesh there is not bent by
it (its points against the marks 2.04 % as seen, 2.16 % painted out), and the other size of the repainted face
moved the close-up's fitted body (benchmarks/RESULTS.md, eighteenth session, helper trackface18).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from talkavatar.core.body.landmarks import FACE_POINTS
from talkavatar.core.hand_cover import covers, hand_region

LIPS = tuple(sorted(i for name, i in FACE_POINTS.items() if name.startswith("lip_outer")))
"""The Face Mesh's outer lip contour: a hand covering one of these is over the mouth."""
MOST = 0.5
"""A hand covering this fraction of the Face Mesh's points or more is not painted out."""
CROP = 2.0
"""The head crop the mesh is seen again on: a square this many times the mesh's larger extent, about its centre."""
INPAINT_RADIUS = 9
"""Pixels around each painted pixel that Telea's inpainting reads from."""


def over_mouth(face: np.ndarray, hands: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The ``hands`` (each [21, 2] px) that cover a point of the lips (:data:`LIPS`) and less than :data:`MOST` of
    the Face Mesh ``face`` [478, 2] px (:func:`~talkavatar.core.hand_cover.covers`)."""
    out = []
    for hand in hands:
        covered = covers(face, hand)
        if covered[list(LIPS)].any() and covered.mean() < MOST:
            out.append(hand)
    return out


def head_crop(face: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: the square :data:`CROP` times the larger extent of ``face`` [478, 2] about its centre,
    within an image of ``width`` x ``height``."""
    centre = face.mean(0)
    half = CROP / 2 * float(max(np.ptp(face[:, 0]), np.ptp(face[:, 1])))
    x0, y0 = (int(max(0, v - half)) for v in centre)
    return x0, y0, int(min(width, centre[0] + half)), int(min(height, centre[1] + half))


def painted_out(image: np.ndarray, hands: Sequence[np.ndarray]) -> np.ndarray:
    """``image`` [H, W, 3] uint8 with the pixels ``hands`` cover filled from around them (Telea inpainting)."""
    region = hand_region(hands, *image.shape[:2]).astype(np.uint8)
    return cv2.inpaint(np.ascontiguousarray(image), region * 255, INPAINT_RADIUS, cv2.INPAINT_TELEA)
