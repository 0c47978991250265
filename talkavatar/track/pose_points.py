"""MediaPipe Pose's point indices (its 33-point body model) by body part, for every module of :mod:`talkavatar.track`
that picks a limb's points. ``left`` and ``right`` are the person's own sides, as MediaPipe names them."""

from __future__ import annotations

SIDES = ("left", "right")
EARS = {"left": 7, "right": 8}
HEAD_SIDES = {"left": (1, 2, 3, 7, 9), "right": (4, 5, 6, 8, 10)}
"""The eye (inner, centre, outer), ear and mouth corner of each side of the head."""
SHOULDERS = {"left": 11, "right": 12}
ELBOWS = {"left": 13, "right": 14}
WRISTS = {"left": 15, "right": 16}
HANDS = {"left": {"pinky": 17, "index": 19, "thumb": 21}, "right": {"pinky": 18, "index": 20, "thumb": 22}}
"""The pose model's own hand points: the knuckles of the little and index fingers and the thumb's tip."""
HIPS = {"left": 23, "right": 24}
LEGS = {"left": (23, 25, 27, 29, 31), "right": (24, 26, 28, 30, 32)}
"""Hip, knee, ankle, heel and foot index of each leg."""


def hand_points(side: str) -> tuple[int, ...]:
    """The pinky, index and thumb points of ``side``'s hand."""
    return tuple(HANDS[side].values())
