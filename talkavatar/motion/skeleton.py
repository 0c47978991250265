"""A tiny forward kinematics over the canonical SMPL-X joints, for checks on generated motion (no mesh needed).

``REST_JOINTS`` are approximate rest (T-pose) joint positions of a neutral SMPL-X body, in metres, pelvis at the
origin, +Y up, the body facing +Z, the person's left at +X. They are rounded, hand-made values: good enough to
check directions, reach and clearances of a motion, not to pose a mesh.
"""

from __future__ import annotations

import numpy as np

from talkavatar.motion.names import JOINT_INDEX, JOINT_NAMES, JOINT_PARENTS
from talkavatar.motion.rotations import axis_angle_to_matrix

_LEFT = {
    "hip": (0.06, -0.09, 0.0), "knee": (0.10, -0.47, 0.0), "ankle": (0.09, -0.87, -0.04),
    "foot": (0.12, -0.93, 0.08), "collar": (0.07, 0.42, -0.01), "shoulder": (0.18, 0.45, -0.02),
    "elbow": (0.43, 0.43, -0.04), "wrist": (0.68, 0.43, -0.03), "eye_smplhf": (0.03, 0.68, 0.09),
    "index1": (0.77, 0.42, 0.02), "index2": (0.80, 0.42, 0.02), "index3": (0.83, 0.42, 0.02),
    "middle1": (0.775, 0.42, 0.0), "middle2": (0.81, 0.42, 0.0), "middle3": (0.84, 0.42, 0.0),
    "pinky1": (0.76, 0.42, -0.04), "pinky2": (0.785, 0.42, -0.04), "pinky3": (0.80, 0.42, -0.04),
    "ring1": (0.77, 0.42, -0.02), "ring2": (0.80, 0.42, -0.02), "ring3": (0.82, 0.42, -0.02),
    "thumb1": (0.71, 0.41, 0.03), "thumb2": (0.73, 0.40, 0.05), "thumb3": (0.75, 0.40, 0.06),
}
_CENTRE = {
    "pelvis": (0.0, 0.0, 0.0), "spine1": (0.0, 0.11, -0.01), "spine2": (0.0, 0.25, 0.0),
    "spine3": (0.0, 0.31, 0.01), "neck": (0.0, 0.52, -0.02), "head": (0.0, 0.62, 0.01),
    "jaw": (0.0, 0.63, 0.03),
}


def _rest_joints() -> np.ndarray:
    out = np.zeros((len(JOINT_NAMES), 3))
    for name, i in JOINT_INDEX.items():
        if name in _CENTRE:
            out[i] = _CENTRE[name]
            continue
        side, part = name.split("_", 1)
        x, y, z = _LEFT[part]
        out[i] = (x if side == "left" else -x, y, z)
    return out


REST_JOINTS: np.ndarray = _rest_joints()
"""[55, 3] approximate SMPL-X rest joint positions (metres)."""

TORSO_HALF_WIDTH = 0.17
TORSO_HALF_DEPTH = 0.12
"""Half-axes (metres) of the elliptic cylinder that stands in for the torso around the spine axis."""


def joint_transforms(joint_rotations: np.ndarray, rest_joints: np.ndarray = REST_JOINTS) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations ``[T, 55, 3, 3]`` and positions ``[T, 55, 3]`` of the canonical joints, from local axis-angle
    ``joint_rotations [T, 55, 3]`` on a skeleton whose rest (T-pose) joints are ``rest_joints [55, 3]``."""
    local = axis_angle_to_matrix(np.asarray(joint_rotations, dtype=np.float64))
    frames = local.shape[0]
    rotations = np.empty_like(local)
    positions = np.empty((frames, len(JOINT_NAMES), 3))
    for j, parent in enumerate(JOINT_PARENTS):
        if parent < 0:
            rotations[:, j], positions[:, j] = local[:, j], rest_joints[j]
        else:
            rotations[:, j] = rotations[:, parent] @ local[:, j]
            offset = rest_joints[j] - rest_joints[parent]
            positions[:, j] = positions[:, parent] + rotations[:, parent] @ offset
    return rotations, positions


def forward_kinematics(joint_rotations: np.ndarray, root_translation: np.ndarray | None = None) -> np.ndarray:
    """World joint positions ``[T, 55, 3]`` from local axis-angle ``joint_rotations [T, 55, 3]`` (+ ``[T, 3]``)."""
    positions = joint_transforms(joint_rotations)[1]
    if root_translation is not None:
        positions = positions + np.asarray(root_translation, dtype=np.float64)[:, None, :]
    return positions


def torso_clearance(positions: np.ndarray, points: list[str]) -> np.ndarray:
    """Elliptic distance of ``points`` from the spine axis, ``[T, len(points)]``; < 1 means inside the torso.

    The torso is an elliptic cylinder (``TORSO_HALF_WIDTH`` x ``TORSO_HALF_DEPTH``) around the line through
    pelvis and neck, between hip and shoulder height; points outside that height range count as clear (inf).
    """
    pelvis, neck = positions[:, JOINT_INDEX["pelvis"]], positions[:, JOINT_INDEX["neck"]]
    out = np.full((positions.shape[0], len(points)), np.inf)
    for k, name in enumerate(points):
        p = positions[:, JOINT_INDEX[name]]
        axis = neck - pelvis
        h = np.einsum("ij,ij->i", p - pelvis, axis) / np.einsum("ij,ij->i", axis, axis)
        centre = pelvis + h[:, None] * axis
        d = p - centre
        inside_height = (h > -0.25) & (h < 1.0)
        ell = np.sqrt((d[:, 0] / TORSO_HALF_WIDTH) ** 2 + (d[:, 2] / TORSO_HALF_DEPTH) ** 2)
        out[inside_height, k] = ell[inside_height]
    return out
