"""Talking upper-body gestures: beats, open palms, pointing, counting, shrugs, hand-to-chest, rest poses.

Each gesture is a few arm poses (anatomical channels of :mod:`anatomy`, left-arm convention, unspecified fields
at rest) placed on a timeline by :func:`strokes`: rest -> preparation -> stroke -> hold -> (repeat) -> rest.
One-handed gestures come as a left and a right clip (mirror images). A light trunk sway makes the body alive.

The stroke gestures are a preparation -> stroke pose pair (:data:`STROKE_PAIRS`): the library clips repeat the
pair at a fixed period; drive-audio places the pair once on each accent it picks (:func:`stroke_gestures`), so
both draw on one set of gestures.
"""

from __future__ import annotations

from talkavatar.motion.library.anatomy import ARM_REST
from talkavatar.motion.library.keyframes import Clip, Track, keys

Pose = dict[str, float]

# --- the poses (left arm; radians) ---------------------------------------------------------------------------
BEAT_UP: Pose = dict(down=1.2, forward=0.5, inward=0.7, elbow=1.5, wrist=0.25, curl=0.3, index=0.25)
BEAT_DOWN: Pose = dict(down=1.22, forward=0.42, inward=0.7, elbow=1.1, wrist=-0.2, curl=0.35)
PALM_PREP: Pose = dict(down=1.2, forward=0.45, inward=0.7, elbow=1.45, twist=0.8, curl=0.25, index=0.2)
PALM_OPEN: Pose = dict(down=1.0, forward=0.45, inward=0.2, elbow=1.3, twist=1.3, wrist=0.15, curl=0.08, index=0.05)
PALM_WIDE: Pose = dict(down=0.85, forward=0.35, inward=0.0, elbow=1.2, twist=1.4, wrist=0.2, curl=0.05, index=0.05)
POINT_PREP: Pose = dict(down=1.2, forward=0.55, inward=0.6, elbow=1.6, curl=0.85, index=0.3)
POINT_OUT: Pose = dict(down=1.2, forward=0.8, inward=0.5, elbow=1.0, wrist=0.1, curl=0.9, index=0.0)
POINT_SIDE: Pose = dict(down=1.05, forward=0.6, inward=0.0, elbow=0.7, wrist=0.05, curl=0.9, index=0.0)
COUNT_HAND: Pose = dict(down=1.15, forward=0.6, inward=0.8, elbow=1.75, twist=0.5, wrist=0.1, curl=0.9, index=0.9)
SHRUG_UP: Pose = dict(down=1.05, forward=0.35, inward=0.1, elbow=1.45, twist=1.45, wrist=0.2, curl=0.05,
                      index=0.05, shrug=0.18)
CHEST: Pose = dict(down=1.3, forward=0.45, inward=1.15, elbow=2.05, twist=0.15, wrist=0.0, curl=0.15, index=0.1)
CHOP: Pose = dict(down=1.22, forward=0.5, inward=0.65, elbow=1.15, twist=0.3, wrist=-0.1, curl=0.12, index=0.12)
OFFER: Pose = dict(down=1.15, forward=0.75, inward=0.4, elbow=1.0, twist=1.4, wrist=0.1, curl=0.1, index=0.05)
HOLD_BALL: Pose = dict(down=1.15, forward=0.55, inward=0.35, elbow=1.4, twist=0.7, curl=0.3, index=0.25)
HANDS_LOW: Pose = dict(down=1.3, forward=0.35, inward=0.6, elbow=1.0, twist=0.4, curl=0.4, index=0.4)


#: preparation -> stroke poses of the stroke gestures
STROKE_PAIRS: dict[str, tuple[Pose, Pose]] = {
    "beat": (BEAT_UP, BEAT_DOWN), "open_palm": (PALM_PREP, PALM_OPEN), "palms_wide": (PALM_PREP, PALM_WIDE),
    "point_forward": (POINT_PREP, POINT_OUT), "point_side": (POINT_PREP, POINT_SIDE), "chop": (BEAT_UP, CHOP),
    "offer": (PALM_PREP, OFFER), "shrug": (PALM_PREP, SHRUG_UP),
    "hold_ball": (HOLD_BALL, {**HOLD_BALL, "inward": 0.5}),
}
#: the library clips built from one stroke pair: (clip name, pair, one-armed (a _left and a _right clip) or both)
STROKE_CLIPS: tuple[tuple[str, str, bool], ...] = (
    ("beat", "beat", True), ("beat_both", "beat", False), ("open_palm", "open_palm", True),
    ("open_palms_both", "palms_wide", False), ("point_forward", "point_forward", True),
    ("point_side", "point_side", True), ("chop", "chop", True), ("offer", "offer", True),
    ("shrug_twice", "shrug", False), ("hold_ball", "hold_ball", False),
)


def stroke_gestures() -> list[tuple[str, tuple[str, ...], Pose, Pose]]:
    """``(clip name, sides, preparation pose, stroke pose)`` of every stroke gesture clip (full left-arm poses)."""
    out = []
    for name, pair, one_armed in STROKE_CLIPS:
        prep, stroke = (_pose(p) for p in STROKE_PAIRS[pair])
        if one_armed:
            out += [(f"{name}_left", ("left",), prep, stroke), (f"{name}_right", ("right",), prep, stroke)]
        else:
            out.append((name, ("left", "right"), prep, stroke))
    return out


def _pose(p: Pose | None) -> Pose:
    return {**ARM_REST, **(p or {})}


def strokes(timeline: list[tuple[float, Pose | None]], sides: tuple[str, ...]) -> dict[str, Track]:
    """Arm channels of ``sides`` from ``[(time, pose or None for rest), ...]`` (a pose of the left arm)."""
    out: dict[str, Track] = {}
    for field in ARM_REST:
        values = [(t, _pose(p)[field]) for t, p in timeline]
        for side in sides:
            out[f"{side}.{field}"] = keys(*values)
    return out


def repeated(start: float, period: float, count: int, poses: list[Pose], rest_after: float = 0.7
             ) -> list[tuple[float, Pose | None]]:
    """Rest at 0, then ``count`` cycles through ``poses`` every ``period`` seconds from ``start``, then rest."""
    timeline: list[tuple[float, Pose | None]] = [(0.0, None)]
    t = start
    step = period / len(poses)
    for _ in range(count):
        for p in poses:
            timeline.append((round(t, 3), p))
            t += step
    timeline.append((round(t - step + rest_after, 3), None))
    return timeline


def sway(seconds: float, amount: float = 0.04, phase: float = 0.0) -> dict[str, Track]:
    """A slow trunk sway (yaw and roll) over the clip."""
    n = max(2, int(seconds / 1.5) + 1)
    ts = [seconds * i / (n - 1) for i in range(n)]
    return {"spine.yaw": keys(*[(t, amount * ((-1) ** (i + int(phase))) * (0 if i in (0, n - 1) else 1))
                                for i, t in enumerate(ts)]),
            "spine.roll": keys(*[(t, 0.5 * amount * ((-1) ** i) * (0 if i in (0, n - 1) else 1))
                                 for i, t in enumerate(ts)])}


def _clip(name: str, timeline, sides, extra: dict[str, Track] | None = None) -> Clip:
    seconds = max(3.0, round(timeline[-1][0] + 0.4, 2))
    channels = {**strokes(timeline, sides), **sway(seconds), **(extra or {})}
    return Clip(name, "gesture", min(seconds, 8.0), channels)


def _sided(name: str, timeline, extra=None) -> list[Clip]:
    return [_clip(f"{name}_left", timeline, ("left",), extra), _clip(f"{name}_right", timeline, ("right",), extra)]


def gesture_clips() -> list[Clip]:
    pairs = {name: list(pair) for name, pair in STROKE_PAIRS.items()}
    clips: list[Clip] = []
    clips += _sided("beat", repeated(0.5, 0.6, 5, pairs["beat"]))
    clips += _sided("beat_slow", repeated(0.6, 1.1, 3, pairs["beat"]))
    clips.append(_clip("beat_both", repeated(0.5, 0.7, 4, pairs["beat"]), ("left", "right")))
    clips += _sided("open_palm", repeated(0.5, 1.6, 2, pairs["open_palm"]))
    clips.append(_clip("open_palms_both", repeated(0.5, 1.8, 2, pairs["palms_wide"]), ("left", "right")))
    clips += _sided("point_forward", repeated(0.5, 1.5, 2, pairs["point_forward"]))
    clips += _sided("point_side", repeated(0.6, 1.6, 2, pairs["point_side"]))
    count = [(0.0, None), (0.6, COUNT_HAND)]
    for k in range(4):  # the fingers open one by one: index .. ring, then a short beat
        count.append((1.1 + 0.7 * k, {**COUNT_HAND, "index": 0.0, "curl": 0.9 - 0.25 * k}))
    count += [(4.2, {**COUNT_HAND, "index": 0.0, "curl": 0.1}), (4.9, None)]
    clips += _sided("counting", count)
    clips.append(_clip("shrug", [(0.0, None), (0.7, PALM_PREP), (1.3, SHRUG_UP), (2.4, SHRUG_UP), (3.2, None)],
                       ("left", "right"), {"head.roll": keys((0, 0), (1.3, 0.12), (2.4, 0.1), (3.2, 0))}))
    clips.append(_clip("shrug_twice", repeated(0.6, 1.4, 2, pairs["shrug"]), ("left", "right")))
    clips += _sided("hand_to_chest", [(0.0, None), (0.9, BEAT_UP), (1.6, CHEST), (3.4, CHEST), (4.3, None)])
    clips.append(_clip("both_hands_chest", [(0.0, None), (1.0, BEAT_UP), (1.8, CHEST), (3.6, CHEST), (4.5, None)],
                       ("left", "right")))
    clips += _sided("chop", repeated(0.5, 0.8, 4, pairs["chop"]))
    clips += _sided("offer", repeated(0.5, 1.8, 2, pairs["offer"]))
    clips.append(_clip("hold_ball", repeated(0.6, 1.2, 3, pairs["hold_ball"]), ("left", "right")))
    clips.append(_clip("alternate_beats", [(0.0, None)] + [(0.5 + 0.55 * k, BEAT_UP if k % 2 == 0 else BEAT_DOWN)
                                                           for k in range(8)] + [(5.4, None)], ("left",),
                       strokes([(0.0, None)] + [(0.78 + 0.55 * k, BEAT_DOWN if k % 2 == 0 else BEAT_UP)
                                                for k in range(8)] + [(5.7, None)], ("right",))))
    return clips


def rest_clips() -> list[Clip]:
    """Rest poses held with breathing-like sway: arms hanging, hands together low, one hand resting."""
    out = []
    for name, timeline, sides in (
        ("rest_arms_down", [(0.0, None), (6.0, None)], ("left", "right")),
        ("rest_hands_low", [(0.0, None), (1.0, HANDS_LOW), (5.0, HANDS_LOW), (6.0, None)], ("left", "right")),
        ("rest_relaxed_wide", [(0.0, None), (1.2, dict(down=1.1, elbow=0.5, forward=0.2)), (4.8, dict(
            down=1.1, elbow=0.55, forward=0.25)), (6.0, None)], ("left", "right")),
    ):
        out.append(Clip(name, "rest", 6.0, {**strokes(timeline, sides), **sway(6.0, 0.05),
                                              "spine.pitch": keys((0, 0), (2, 0.03), (4, -0.02), (6, 0))}))
    return out
