"""Co-speech gestures: stroke gestures of the motion library placed on accents, and idle body motion.

The gestures come from the motion library (:func:`talkavatar.motion.library.gestures.stroke_gestures`): each is a
preparation -> stroke pose pair in the library's anatomical arm channels (:mod:`talkavatar.motion.library.anatomy`,
left-arm convention; the right arm is the mirror image). Here a pair becomes one stroke-aligned clip: keyframes at
times relative to the stroke, which lands on an accent: rest, preparation, stroke apex, a short hold that settles
back a little, rest. The stroke (preparation -> apex, 0.2 s around the accent) is the fastest phase. Two-handed
strokes keep the forearms turned in no more than :data:`TWO_HANDED_INWARD` so the hands stay apart. Between
keyframes, shape-preserving cubic (PCHIP) splines interpolate each channel, so motion never overshoots a keyframe;
every clip starts and ends at the rest pose with zero velocity, so clips blend into idle motion.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from talkavatar.audio.noise import smooth_noise
from talkavatar.audio.prosody import Accent
from talkavatar.motion.library.anatomy import ARM_LIMITS, ARM_REST, arm_rotations
from talkavatar.motion.library.gestures import stroke_gestures
from talkavatar.motion.names import JOINT_INDEX
from talkavatar.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle

FIELDS = tuple(ARM_REST)                                  # arm channel order of the pose arrays below
REST = np.array([ARM_REST[f] for f in FIELDS])
STROKE_TIMES = (-1.0, -0.1, 0.1, 0.35, 1.3)              # rest, preparation, apex, hold, rest (s from the stroke)
HOLD_SETTLE = 0.1                                         # the hold eases this fraction back towards preparation
TWO_HANDED_INWARD = 0.4


@dataclass(frozen=True, eq=False)
class GestureClip:
    """Keyframes relative to the stroke (``times [K]`` seconds, 0 = stroke); ``left``/``right`` arm poses
    ``[K, len(FIELDS)]`` (left-arm convention) or None for an arm that stays at rest. Compared by identity (the
    clips are built once, :func:`library_gestures`)."""

    name: str
    times: tuple[float, ...]
    left: np.ndarray | None
    right: np.ndarray | None

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]


def _pose_array(pose: dict[str, float]) -> np.ndarray:
    return np.array([pose[f] for f in FIELDS])


@lru_cache(maxsize=1)
def library_gestures() -> tuple[GestureClip, ...]:
    """The motion library's stroke gestures as stroke-aligned clips (one per library clip name)."""
    out = []
    inward = FIELDS.index("inward")
    for name, sides, prep, stroke in stroke_gestures():
        prep, stroke = _pose_array(prep), _pose_array(stroke)
        if len(sides) == 2:
            prep[inward], stroke[inward] = min(prep[inward], TWO_HANDED_INWARD), min(stroke[inward], TWO_HANDED_INWARD)
        hold = stroke + HOLD_SETTLE * (prep - stroke)
        keys = np.stack([REST, prep, stroke, hold, REST])
        out.append(GestureClip(name, STROKE_TIMES, keys if "left" in sides else None,
                               keys if "right" in sides else None))
    return tuple(out)


def side_rotations(params: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """Arm channels ``params [T, len(FIELDS)]`` of ``side`` -> local axis-angle ``[T, 3]`` per canonical joint."""
    return arm_rotations({f: params[:, k] for k, f in enumerate(FIELDS)}, side)


@dataclass(frozen=True)
class GestureStyle:
    """How much a speaker gestures: chance per accent, minimum gap, amplitude and idle-motion scale."""

    probability: float
    min_gap_s: float
    amplitude: float
    idle: float


STYLES = {"calm": GestureStyle(0.55, 1.8, 0.65, 0.7), "lively": GestureStyle(0.9, 0.9, 1.0, 1.0)}
REPEAT_WINDOW_S = 10.0


@dataclass(frozen=True)
class Placement:
    clip: GestureClip
    stroke: float      # seconds: the accent the stroke lands on
    amplitude: float


def schedule(accents: list[Accent], seconds: float, style: GestureStyle, rng: np.random.Generator
             ) -> list[Placement]:
    """Pick accents for strokes and a library gesture for each: no overlap, no identical clip within
    ``REPEAT_WINDOW_S``."""
    library = library_gestures()
    out: list[Placement] = []
    busy_until = 0.0
    for a in sorted(accents, key=lambda a: a.time):
        if a.strength < 0.35 or rng.uniform() > style.probability * (0.5 + 0.5 * a.strength):
            continue
        fits = [c for c in library
                if a.time + c.start >= max(busy_until, 0.0) and a.time + c.end <= seconds + 0.5
                and not any(p.clip.name == c.name and a.time - p.stroke < REPEAT_WINDOW_S for p in out)]
        if not fits or (out and a.time - out[-1].stroke < style.min_gap_s):
            continue
        clip = fits[int(rng.integers(len(fits)))]
        out.append(Placement(clip, a.time, style.amplitude * (0.75 + 0.25 * a.strength)))
        # The next clip may start during this one's retraction, not before its hold ends.
        busy_until = a.time + clip.times[-2]
    return out


def _clip_params(poses: np.ndarray, amplitude: float) -> np.ndarray:
    return REST + amplitude * (poses - REST)


def clip_spline(times: np.ndarray, keys: np.ndarray) -> CubicHermiteSpline:
    """Shape-preserving cubic through ``keys [K, P]`` at ``times [K]`` that starts and ends at rest (zero
    velocity), so a clip eases out of and back into the idle pose."""
    slopes = PchipInterpolator(times, keys, axis=0).derivative()(times)
    slopes[0] = 0.0
    slopes[-1] = 0.0
    return CubicHermiteSpline(times, keys, slopes, axis=0)


def arm_tracks(placements: list[Placement], frames: int, fps: float, rng: np.random.Generator,
               idle: float) -> dict[str, np.ndarray]:
    """Arm channel tracks ``{"left": [T, len(FIELDS)], "right": ...}``: rest + idle sway, gestures blended in."""
    times = np.arange(frames) / fps
    lows = np.array([ARM_LIMITS[f][0] for f in FIELDS])
    highs = np.array([ARM_LIMITS[f][1] for f in FIELDS])
    tracks = {}
    for side in ("left", "right"):
        base = np.tile(REST, (frames, 1))
        sway = smooth_noise(rng, frames, fps, 1.5, 1.0, 3)
        base[:, FIELDS.index("down")] += 0.03 * idle * sway[:, 0]
        base[:, FIELDS.index("forward")] += 0.03 * idle * sway[:, 1]
        base[:, FIELDS.index("elbow")] += 0.04 * idle * sway[:, 2]
        for p in placements:
            poses = p.clip.left if side == "left" else p.clip.right
            if poses is None:
                continue
            t0, t1 = p.stroke + p.clip.start, p.stroke + p.clip.end
            sel = (times >= t0) & (times <= t1)
            if not sel.any():
                continue
            keys = _clip_params(poses, p.amplitude)
            keys[0] = base[np.flatnonzero(sel)[0]]     # start from where the arm is (maybe mid-retraction)
            spline = clip_spline(p.stroke + np.array(p.clip.times), keys)
            # Blend weight: full inside the clip, eased over its first and last 0.15 s, so idle sway fades out.
            w = np.clip(np.minimum(times[sel] - t0, t1 - times[sel]) / 0.15, 0.0, 1.0)
            w = w * w * (3 - 2 * w)
            base[sel] = base[sel] + w[:, None] * (spline(times[sel]) - base[sel])
        tracks[side] = np.clip(base, lows, highs)
    return tracks


def idle_body(frames: int, fps: float, rng: np.random.Generator, idle: float) -> tuple[np.ndarray, np.ndarray]:
    """Breathing and weight shift: local rotations ``[T, 55, 3]`` (spine, pelvis, hips) and root ``[T, 3]``."""
    times = np.arange(frames) / fps
    joints = np.zeros((frames, 55, 3))
    root = np.zeros((frames, 3))
    if frames == 0:
        return joints, root
    breath_hz = rng.uniform(0.22, 0.3)
    breath = np.sin(2 * np.pi * breath_hz * times + rng.uniform(0, 2 * np.pi))
    for name, amp in (("spine1", 0.006), ("spine2", 0.008), ("spine3", 0.01)):
        joints[:, JOINT_INDEX[name], 0] = -amp * idle * breath       # chest rises: a slight extension
    for name, sign in (("left_collar", 1.0), ("right_collar", -1.0)):
        joints[:, JOINT_INDEX[name], 2] = sign * 0.01 * idle * breath
    shift = smooth_noise(rng, frames, fps, 3.0, 1.0, 2)
    roll = 0.02 * idle * shift[:, 0]
    joints[:, JOINT_INDEX["pelvis"], 2] = roll
    joints[:, JOINT_INDEX["left_hip"], 2] = -roll                    # legs stay vertical
    joints[:, JOINT_INDEX["right_hip"], 2] = -roll
    joints[:, JOINT_INDEX["spine1"], 2] = -0.7 * roll                # the upper body stays upright
    joints[:, JOINT_INDEX["pelvis"], 1] = 0.03 * idle * shift[:, 1]  # a little yaw
    root[:, 0] = 0.015 * idle * shift[:, 0]
    return joints, root


def gesture_motion(accents: list[Accent], frames: int, fps: float, style: str, rng: np.random.Generator,
                   gestures: bool = True) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """Body motion: local rotations ``[T, 55, 3]``, root translation ``[T, 3]`` and the gesture placements."""
    look = STYLES[style]
    rng_sched, rng_arms, rng_idle = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(3))
    placements = schedule(accents, frames / fps, look, rng_sched) if gestures else []
    joints, root = idle_body(frames, fps, rng_idle, look.idle)
    for side, params in arm_tracks(placements, frames, fps, rng_arms, look.idle).items():
        for name, rot in side_rotations(params, side).items():
            if name.endswith("_collar"):
                rot = matrix_to_axis_angle(axis_angle_to_matrix(joints[:, JOINT_INDEX[name]]) @
                                           axis_angle_to_matrix(rot))
            joints[:, JOINT_INDEX[name]] = rot
    return joints.astype(np.float32), root.astype(np.float32), placements
