"""Anatomical channels -> canonical SMPL-X local axis-angle, and the natural joint limits every clip respects.

Frame conventions (SMPL-X rest = T-pose; +Y up, the body faces +Z, the person's left is +X), shared with
drive-audio's gesture set: the left arm lies along +X, so lowering it is a negative rotation about Z at the
shoulder; swinging it forward a negative rotation about X; bending the elbow forward a negative rotation about Y;
curling the fingers towards the palm (which faces -Y in the T-pose) a negative rotation about Z. The right arm is
the mirror image (Y and Z components negated). Head, neck and spine: ``pitch`` + nods down (about +X), ``yaw`` +
turns towards the person's left (about +Y), ``roll`` + tilts towards the person's right shoulder (about +Z).

A relaxed rest (:data:`REST`) has the arms lowered 1.2 rad from the T-pose, slightly forward and bent.
"""

from __future__ import annotations

import numpy as np

from talkavatar.motion.file import Motion
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX, JOINT_NAMES
from talkavatar.motion.rotations import axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle, mirror_axis_angle

#: the arm channels (left-arm convention) and their rest values, radians (curl, index: 0 open .. 1 loose fist)
ARM_REST: dict[str, float] = {"down": 1.25, "forward": 0.12, "inward": 0.15, "elbow": 0.3, "twist": 0.0,
                              "wrist": 0.0, "curl": 0.35, "index": 0.35, "shrug": 0.0}
#: natural ranges of the anatomical channels (radians; curl and index 0..1)
ARM_LIMITS: dict[str, tuple[float, float]] = {
    "down": (0.5, 1.5), "forward": (-0.2, 1.2), "inward": (-0.3, 1.2), "elbow": (0.0, 2.2), "twist": (-0.5, 1.6),
    "wrist": (-0.8, 0.8), "curl": (0.0, 1.0), "index": (0.0, 1.0), "shrug": (0.0, 0.25)}
AXIAL_LIMITS: dict[str, tuple[float, float]] = {
    "spine.pitch": (-0.25, 0.35), "spine.yaw": (-0.35, 0.35), "spine.roll": (-0.2, 0.2),
    "neck.pitch": (-0.35, 0.45), "neck.yaw": (-0.6, 0.6), "neck.roll": (-0.3, 0.3),
    "head.pitch": (-0.35, 0.4), "head.yaw": (-0.6, 0.6), "head.roll": (-0.3, 0.3)}
REST: dict[str, float] = {**{f"{s}.{k}": v for s in ("left", "right") for k, v in ARM_REST.items()},
                          **{k: 0.0 for k in AXIAL_LIMITS}}
#: the share of the spine channels each spine joint takes
SPINE_SHARE = {"spine1": 0.3, "spine2": 0.3, "spine3": 0.4}
_CURL_SPLIT = (0.9, 1.1, 0.7)   # radians per unit curl at finger joints 1, 2, 3
FINGERS = ("index", "middle", "ring", "pinky")

#: Natural joint limits as ranges of each axis-angle component (degrees) of a joint's local rotation, for the
#: left side and the midline (the right side is the mirror: y and z ranges negated and swapped). Joints not listed
#: (legs, feet, pelvis, eyes) stay at zero in the library. The ranges follow clinical ranges of motion (shoulder
#: flexion <= 180, abduction <= 180, elbow flexion 0..150 without hyperextension, wrist +-70, neck flexion 45 /
#: extension 45 / rotation 60-80 / lateral bend 45, finger flexion 0..90 per joint) narrowed to talking motion.
JOINT_LIMITS_DEG: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "spine1": ((-10, 15), (-15, 15), (-10, 10)), "spine2": ((-10, 15), (-15, 15), (-10, 10)),
    "spine3": ((-12, 18), (-18, 18), (-10, 10)),
    "neck": ((-25, 30), (-40, 40), (-20, 20)), "head": ((-25, 30), (-40, 40), (-20, 20)),
    "jaw": ((0, 25), (-5, 5), (-5, 5)),
    "left_collar": ((-5, 5), (-5, 5), (0, 16)),
    "left_shoulder": ((-110, 60), (-80, 80), (-110, 0)),
    "left_elbow": ((-100, 40), (-130, 0), (-65, 65)),  # z: the cross term of flexion with forearm twist
    "left_wrist": ((-5, 5), (-5, 5), (-50, 50)),
    **{f"left_{f}{k}": ((-5, 5), (-5, 5), (-70, 0)) for f in FINGERS for k in (1, 2, 3)},
    "left_thumb1": ((-5, 5), (0, 20), (-15, 0)), "left_thumb2": ((-5, 5), (-5, 5), (-5, 5)),
    "left_thumb3": ((-5, 5), (-5, 5), (-5, 5)),
}


def joint_limits_deg() -> np.ndarray:
    """[55, 3, 2] (min, max) degrees per canonical joint and axis-angle component, both sides (zeros: locked)."""
    out = np.zeros((len(JOINT_NAMES), 3, 2))
    for name, ranges in JOINT_LIMITS_DEG.items():
        out[JOINT_INDEX[name]] = ranges
        if name.startswith("left_"):
            (x, y, z) = ranges
            out[JOINT_INDEX["right_" + name[5:]]] = (x, (-y[1], -y[0]), (-z[1], -z[0]))
    return out


def _about(axis: int, angle: np.ndarray) -> np.ndarray:
    v = np.zeros(np.shape(angle) + (3,))
    v[..., axis] = angle
    return axis_angle_to_matrix(v)


def arm_rotations(p: dict[str, np.ndarray], side: str) -> dict[str, np.ndarray]:
    """Arm channels (``p[field]`` [T], left-arm convention) -> {canonical joint: [T, 3] axis-angle} of ``side``."""
    zero = np.zeros_like(p["down"])
    out = {
        "collar": matrix_to_axis_angle(_about(2, p["shrug"])),
        "shoulder": matrix_to_axis_angle(_about(0, -p["forward"]) @ _about(2, -p["down"]) @ _about(0, p["inward"])),
        "elbow": matrix_to_axis_angle(_about(1, -p["elbow"]) @ _about(0, -p["twist"])),
        "wrist": matrix_to_axis_angle(_about(2, p["wrist"])),
        "thumb1": np.stack([zero, 0.3 * p["curl"], -0.2 * p["curl"]], -1),
    }
    for finger in FINGERS:
        curl = p["index"] if finger == "index" else p["curl"]
        for j in range(3):
            out[f"{finger}{j + 1}"] = np.stack([zero, zero, -_CURL_SPLIT[j] * curl], -1)
    if side == "right":
        out = {k: mirror_axis_angle(v) for k, v in out.items()}
    return {f"{side}_{k}": v for k, v in out.items()}


def _pitch_yaw_roll(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    return matrix_to_axis_angle(euler_to_matrix(yaw, pitch, roll))


def channels_to_motion(values: dict[str, np.ndarray], frames: int, fps: float):
    """Sampled channels ({name: [T]}, missing ones at :data:`REST`) -> :class:`~talkavatar.motion.file.Motion`."""
    unknown = [k for k in values if k not in REST and not (k.startswith("arkit.") and k[6:] in ARKIT_INDEX)]
    if unknown:
        raise ValueError(f"unknown channels {unknown}")

    def get(name: str) -> np.ndarray:
        return np.asarray(values[name], np.float64) if name in values else np.full(frames, REST[name])

    motion = Motion.still(frames, fps)
    rot = motion.joint_rotations.astype(np.float64)
    for side in ("left", "right"):
        for joint, v in arm_rotations({k: get(f"{side}.{k}") for k in ARM_REST}, side).items():
            rot[:, JOINT_INDEX[joint]] = v
    spine = [get(f"spine.{a}") for a in ("pitch", "yaw", "roll")]
    for joint, share in SPINE_SHARE.items():
        rot[:, JOINT_INDEX[joint]] = _pitch_yaw_roll(*(share * c for c in spine))
    for part in ("neck", "head"):
        rot[:, JOINT_INDEX[part]] = _pitch_yaw_roll(*(get(f"{part}.{a}") for a in ("pitch", "yaw", "roll")))
    motion.joint_rotations = rot.astype(np.float32)
    for name, v in values.items():
        if name.startswith("arkit."):
            motion.arkit_weights[:, ARKIT_INDEX[name[6:]]] = np.clip(v, 0.0, 1.0)
    return motion
