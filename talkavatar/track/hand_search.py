"""A second look for a hand Holistic missed: MediaPipe Hands on a window beyond the forearm.

Holistic looks for a hand only where its pose model's wrist and hand points put the hand model's window. On a
dramatic pose the pose model can put the wrist well short of the hand (combat.jpg: the outstretched left arm's wrist
on the sleeve, 16 % of the person's height short of the fist), and the hand model then finds nothing there. On a
photo, for an arm whose elbow and wrist are seen but whose hand is not, the detector runs MediaPipe Hands on a
square window ahead of the wrist along the forearm (:func:`window`); a hand found there whose wrist lies on the
forearm's line (:func:`pick`) becomes that arm's hand, and its wrist and knuckles replace the body's wrist and hand
points (:func:`place`), which the fit then follows.
"""

from __future__ import annotations

import numpy as np

from talkavatar.track.pose_points import HANDS, SIDES, WRISTS

AHEAD = 1.0
"""The window's centre: this many forearm lengths (detected elbow to wrist) beyond the detected wrist."""
SIDE = 2.5
"""The window's side, in forearm lengths (measured on combat.jpg, a tune photo: 1.5 forearms centred 0.5 ahead
finds no hand, 2.0 at 0.7 and 2.5 at 1.0 find the fist)."""
VIEW = 256
"""The window is resized to this longer side for the hand detector (a small photo's hand gets enough pixels)."""
REACH = (0.6, 2.2)
"""A found hand's wrist must lie between these many forearm lengths from the elbow along the forearm's direction
(the wrist MediaPipe puts short of the hand: combat's true wrist lies at 1.7)."""
OFF_LINE = 0.5
"""... and at most this many forearm lengths beside the forearm's line (combat's: 0.38; its elbow is off too)."""
MIN_FOREARM = 8.0
"""Forearms shorter than this many pixels give no window (a folded arm seen end-on)."""
BODY_FROM_HAND = {"wrist": 0, "pinky": 17, "index": 5, "thumb": 2}
"""The MediaPipe hand point (21-point model) at each of the body model's hand points: the pose model's pinky, index
and thumb are the knuckles the body model ties them to (pinky1, index1, thumb2)."""
BODY_HAND_POINTS = {side: {"wrist": WRISTS[side], **HANDS[side]} for side in SIDES}
"""The MediaPipe pose indices of each side's wrist and hand points."""


def window(elbow: np.ndarray, wrist: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` pixels of the square to search for the hand of the forearm ``elbow`` → ``wrist`` ([2]
    pixels each), clipped to the ``width`` x ``height`` image; None for a forearm too short or a window outside it."""
    forearm = wrist - elbow
    length = float(np.linalg.norm(forearm))
    if length < MIN_FOREARM:
        return None
    cx, cy = wrist + AHEAD * forearm
    half = SIDE * length / 2
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    x1, y1 = int(min(width, cx + half)), int(min(height, cy + half))
    return (x0, y0, x1, y1) if x1 - x0 >= 16 and y1 - y0 >= 16 else None


def along(elbow: np.ndarray, wrist: np.ndarray, point: np.ndarray) -> tuple[float, float]:
    """``point`` ([2] px) in forearm lengths from ``elbow``: (along the forearm towards ``wrist``, beside its line)."""
    forearm = wrist - elbow
    length2 = float(forearm @ forearm)
    rel = point - elbow
    t = float(rel @ forearm) / length2
    off = abs(float(rel[0] * forearm[1] - rel[1] * forearm[0])) / length2
    return t, off


def pick(hands: list[np.ndarray], elbow: np.ndarray, wrist: np.ndarray,
         others: list[np.ndarray]) -> np.ndarray | None:
    """The hand ([21, 3] pixels) among ``hands`` whose wrist lies on the forearm's line within :data:`REACH` and
    :data:`OFF_LINE`, the one nearest the line, unless it is one of the person's ``others`` (hands already placed:
    its wrist within its own span, wrist to middle knuckle, of theirs); None if none does."""
    best, best_off = None, OFF_LINE
    for hand in hands:
        t, off = along(elbow, wrist, hand[0, :2])
        span = np.linalg.norm(hand[9, :2] - hand[0, :2])
        if any(np.linalg.norm(other[0, :2] - hand[0, :2]) < span for other in others):
            continue
        if REACH[0] <= t <= REACH[1] and off <= best_off:
            best, best_off = hand, off
    return best


def place(body: np.ndarray, hand: np.ndarray, side: str) -> np.ndarray:
    """``body`` [33, 3] with ``side``'s wrist and hand points moved to the found ``hand``'s ([21, 3]) wrist and
    knuckles (:data:`BODY_FROM_HAND`); the depths (z) stay the pose model's."""
    out = body.copy()
    for name, i in BODY_HAND_POINTS[side].items():
        out[i, :2] = hand[BODY_FROM_HAND[name], :2]
    return out
