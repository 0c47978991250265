"""Co-speech gestures: a compact built-in gesture set, stroke scheduling on accents, idle body motion.

A gesture clip is a list of keyframes in canonical joints: at each keyframe time (seconds relative to the stroke,
which lands on an accent) a pose per arm. Poses are written in anatomical terms (:class:`ArmPose`, left-arm
convention) and converted to SMPL-X local axis-angle by :func:`arm_rotations`; the right arm is the mirror image.
Between keyframes, shape-preserving cubic (PCHIP) splines interpolate each parameter, so motion never overshoots a
keyframe; every clip starts and ends at the rest pose with zero velocity, so clips blend into idle motion. A
motion library (the pseudo stage's) can extend :data:`GESTURES` with more :class:`GestureClip` values (pass them
as ``library=``), and read any clip as keyframes in canonical joints with :meth:`GestureClip.joint_keyframes`.

Frame conventions (SMPL-X rest = T-pose; +Y up, the body faces +Z, the person's left is +X): the left arm lies
along +X, so lowering it is a negative rotation about Z at the shoulder; swinging it forward is a negative rotation
about X; bending the elbow forward is a negative rotation about Y; curling the fingers towards the palm (which
faces -Y in the T-pose) is a negative rotation about Z. Mirroring to the right arm negates the Y and Z components.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from talkavatar.audio.noise import smooth_noise
from talkavatar.audio.prosody import Accent
from talkavatar.motion.names import JOINT_INDEX
from talkavatar.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle, mirror_axis_angle


@dataclass(frozen=True)
class ArmPose:
    """One arm in anatomical terms (radians). Natural ranges are :data:`LIMITS`."""

    down: float = 1.2          # shoulder: arm lowered from the horizontal T-pose (pi/2 hangs straight)
    forward: float = 0.12      # shoulder flexion: arm swung forward
    inward: float = 0.15       # shoulder internal rotation: a bent forearm swings towards the body's midline
    elbow: float = 0.3         # elbow flexion
    twist: float = 0.0         # forearm supination: + turns the palm up when the forearm points forward
    wrist: float = 0.0         # wrist extension (+ back of the hand towards the forearm)
    curl: float = 0.35         # finger curl: 0 open .. 1 loose fist
    index: float = 0.35        # index finger curl (pointing: 0 while the others curl)
    shrug: float = 0.0         # collar bone raise

    def lerp(self, other: "ArmPose", w: float) -> "ArmPose":
        return ArmPose(*(a + w * (b - a) for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


PARAMS = tuple(f.name for f in fields(ArmPose))
LIMITS: dict[str, tuple[float, float]] = {
    "down": (0.5, 1.5), "forward": (-0.2, 1.2), "inward": (-0.3, 1.2), "elbow": (0.0, 2.2), "twist": (-0.5, 1.6),
    "wrist": (-0.8, 0.8), "curl": (0.0, 1.0), "index": (0.0, 1.0), "shrug": (0.0, 0.25),
}
REST = ArmPose()

FINGERS = ("index", "middle", "ring", "pinky")
_CURL_SPLIT = np.array([0.9, 1.1, 0.7])   # radians per unit curl at joints 1, 2, 3


def _mat(axis: int, angle: np.ndarray) -> np.ndarray:
    v = np.zeros(angle.shape + (3,))
    v[..., axis] = angle
    return axis_angle_to_matrix(v)


def arm_rotations(params: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """``params [T, len(PARAMS)]`` (ArmPose fields) -> local axis-angle ``[T, 3]`` per canonical joint of one arm."""
    p = {name: params[:, k] for k, name in enumerate(PARAMS)}
    out = {
        "collar": matrix_to_axis_angle(_mat(2, p["shrug"])),
        "shoulder": matrix_to_axis_angle(_mat(0, -p["forward"]) @ _mat(2, -p["down"]) @ _mat(0, p["inward"])),
        "elbow": matrix_to_axis_angle(_mat(1, -p["elbow"]) @ _mat(0, -p["twist"])),
        "wrist": matrix_to_axis_angle(_mat(2, p["wrist"])),
    }
    for finger in FINGERS:
        curl = p["index"] if finger == "index" else p["curl"]
        for j in range(3):
            out[f"{finger}{j + 1}"] = np.stack([np.zeros_like(curl), np.zeros_like(curl),
                                                -_CURL_SPLIT[j] * curl], -1)
    out["thumb1"] = np.stack([np.zeros_like(p["curl"]), 0.3 * p["curl"], -0.2 * p["curl"]], -1)
    if side == "right":
        out = {k: mirror_axis_angle(v) for k, v in out.items()}
    return {f"{side}_{k}": v for k, v in out.items()}


@dataclass(frozen=True)
class GestureClip:
    """Keyframes relative to the stroke (``times`` seconds, 0 = stroke); ``left``/``right`` poses or None (rest)."""

    name: str
    times: tuple[float, ...]
    left: tuple[ArmPose, ...] | None
    right: tuple[ArmPose, ...] | None

    @property
    def start(self) -> float:
        return self.times[0]

    @property
    def end(self) -> float:
        return self.times[-1]

    def mirrored(self, name: str) -> "GestureClip":
        return GestureClip(name, self.times, self.right, self.left)

    def joint_keyframes(self, amplitude: float = 1.0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The clip in canonical joints: ``(times [K], {joint name: local axis-angle [K, 3]})``."""
        out: dict[str, np.ndarray] = {}
        for side, poses in (("left", self.left), ("right", self.right)):
            if poses is not None:
                out.update(arm_rotations(_clip_params(poses, amplitude), side))
        return np.array(self.times), out


def _one_arm(name: str, times: tuple[float, ...], poses: tuple[ArmPose, ...]) -> tuple[GestureClip, GestureClip]:
    left = GestureClip(name + "_left", times, poses, None)
    return left, left.mirrored(name + "_right")


def _both(name: str, times: tuple[float, ...], poses: tuple[ArmPose, ...]) -> GestureClip:
    return GestureClip(name, times, poses, poses)


def _p(**kw) -> ArmPose:
    return replace(REST, **kw)


def _wider(keys: tuple[tuple[float, ...], tuple[ArmPose, ...]], inward: float):
    """The same keyframes with the forearms turned in less (two-handed clips keep the hands apart)."""
    times, poses = keys
    return times, tuple(p if p == REST else replace(p, inward=min(p.inward, inward)) for p in poses)


# Keyframes: rest, preparation (end), stroke apex, hold (end), rest. The stroke (preparation -> apex, 0.2 s around
# the accent) is the fastest phase; preparation and retraction are slower.
_BEAT = ((-1.0, -0.1, 0.1, 0.35, 1.3),
         (REST, _p(down=1.2, forward=0.5, inward=0.7, elbow=1.7, wrist=0.3, curl=0.3, index=0.25),
          _p(down=1.25, forward=0.4, inward=0.7, elbow=0.95, wrist=-0.25, curl=0.35),
          _p(down=1.25, forward=0.38, inward=0.7, elbow=1.0, curl=0.35), REST))
_PALM = ((-1.0, -0.1, 0.1, 0.35, 1.3),
         (REST, _p(down=1.2, forward=0.45, inward=0.7, elbow=1.45, twist=0.8, curl=0.25, index=0.2),
          _p(down=1.0, forward=0.45, inward=0.2, elbow=1.3, twist=1.3, wrist=0.15, curl=0.08, index=0.05),
          _p(down=1.02, forward=0.42, inward=0.25, elbow=1.3, twist=1.25, curl=0.1, index=0.08), REST))
_POINT = ((-1.0, -0.1, 0.1, 0.35, 1.3),
          (REST, _p(down=1.2, forward=0.55, inward=0.6, elbow=1.6, curl=0.85, index=0.3),
           _p(down=1.2, forward=0.8, inward=0.5, elbow=1.0, wrist=0.1, curl=0.9, index=0.0),
           _p(down=1.2, forward=0.76, inward=0.5, elbow=1.05, curl=0.9, index=0.05), REST))
_OFFER = ((-1.0, -0.1, 0.1, 0.35, 1.3),
          (REST, _p(down=1.25, forward=0.35, inward=0.6, elbow=1.6, twist=1.0, curl=0.3, index=0.25),
           _p(down=1.15, forward=0.75, inward=0.4, elbow=1.0, twist=1.4, wrist=0.1, curl=0.1, index=0.05),
           _p(down=1.15, forward=0.7, inward=0.4, elbow=1.05, twist=1.35, curl=0.12, index=0.08), REST))
_CHOP = ((-1.0, -0.1, 0.1, 0.35, 1.3),
         (REST, _p(down=1.2, forward=0.55, inward=0.65, elbow=1.8, twist=0.3, wrist=0.35, curl=0.1, index=0.1),
          _p(down=1.25, forward=0.45, inward=0.65, elbow=1.0, twist=0.3, wrist=-0.15, curl=0.12, index=0.12),
          _p(down=1.25, forward=0.45, inward=0.65, elbow=1.05, twist=0.3, curl=0.15, index=0.15), REST))
_SHRUG = ((-1.0, -0.1, 0.1, 0.35, 1.3),
          (REST, _p(down=1.25, forward=0.3, inward=0.5, elbow=1.4, twist=0.9, curl=0.2, index=0.2, shrug=0.05),
           _p(down=1.05, forward=0.35, inward=0.1, elbow=1.45, twist=1.45, wrist=0.2, curl=0.05, index=0.05,
              shrug=0.18),
           _p(down=1.08, forward=0.35, inward=0.15, elbow=1.45, twist=1.4, curl=0.08, index=0.08, shrug=0.12), REST))

GESTURES: tuple[GestureClip, ...] = (
    *_one_arm("beat", *_BEAT), _both("beat_both", *_wider(_BEAT, 0.4)),
    *_one_arm("open_palm", *_PALM), _both("open_palms_both", *_PALM),
    *_one_arm("point_small", *_POINT), *_one_arm("offer", *_OFFER),
    _both("chop_both", *_wider(_CHOP, 0.4)), _both("shrug_palms_up", *_SHRUG),
)
"""The built-in gesture set (12 clips)."""


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


def schedule(accents: list[Accent], seconds: float, style: GestureStyle, rng: np.random.Generator,
             library: tuple[GestureClip, ...] = GESTURES) -> list[Placement]:
    """Pick accents for strokes and a clip for each: no overlap, no identical clip within ``REPEAT_WINDOW_S``."""
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


def _clip_params(poses: tuple[ArmPose, ...], amplitude: float) -> np.ndarray:
    rest = np.array(REST.as_tuple())
    keys = np.array([p.as_tuple() for p in poses])
    return rest + amplitude * (keys - rest)


def clip_spline(times: np.ndarray, keys: np.ndarray) -> CubicHermiteSpline:
    """Shape-preserving cubic through ``keys [K, P]`` at ``times [K]`` that starts and ends at rest (zero
    velocity), so a clip eases out of and back into the idle pose."""
    slopes = PchipInterpolator(times, keys, axis=0).derivative()(times)
    slopes[0] = 0.0
    slopes[-1] = 0.0
    return CubicHermiteSpline(times, keys, slopes, axis=0)


def arm_tracks(placements: list[Placement], frames: int, fps: float, rng: np.random.Generator,
               idle: float) -> dict[str, np.ndarray]:
    """ArmPose parameter tracks ``{"left": [T, P], "right": [T, P]}``: rest + idle sway, gestures blended in."""
    times = np.arange(frames) / fps
    lows = np.array([LIMITS[n][0] for n in PARAMS])
    highs = np.array([LIMITS[n][1] for n in PARAMS])
    tracks = {}
    for side in ("left", "right"):
        base = np.tile(np.array(REST.as_tuple()), (frames, 1))
        sway = smooth_noise(rng, frames, fps, 1.5, 1.0, 3)
        base[:, PARAMS.index("down")] += 0.03 * idle * sway[:, 0]
        base[:, PARAMS.index("forward")] += 0.03 * idle * sway[:, 1]
        base[:, PARAMS.index("elbow")] += 0.04 * idle * sway[:, 2]
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
                   gestures: bool = True, library: tuple[GestureClip, ...] = GESTURES
                   ) -> tuple[np.ndarray, np.ndarray, list[Placement]]:
    """Body motion: local rotations ``[T, 55, 3]``, root translation ``[T, 3]`` and the gesture placements.

    ``library``: the clips to draw from (a motion library can pass its own :class:`GestureClip` values).
    """
    look = STYLES[style]
    rng_sched, rng_arms, rng_idle = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(3))
    placements = schedule(accents, frames / fps, look, rng_sched, library) if gestures else []
    joints, root = idle_body(frames, fps, rng_idle, look.idle)
    for side, params in arm_tracks(placements, frames, fps, rng_arms, look.idle).items():
        for name, rot in arm_rotations(params, side).items():
            if name.endswith("_collar"):
                rot = matrix_to_axis_angle(axis_angle_to_matrix(joints[:, JOINT_INDEX[name]]) @
                                           axis_angle_to_matrix(rot))
            joints[:, JOINT_INDEX[name]] = rot
    return joints.astype(np.float32), root.astype(np.float32), placements
