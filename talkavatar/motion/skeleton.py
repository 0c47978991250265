"""Forward kinematics over the canonical SMPL-X joints, for checks on motion (no mesh needed): where the joints go,
and whether the hands stay out of the torso.

:data:`REST_JOINTS` are the canonical SMPL-X joint positions of Anny's default shape (phenotypes 0.5) in the
canonical T-pose, as the rig places them (``rig.pose(zeros).canonical_joints``, metres, rounded to mm; pelvis near
the origin, +Y up, the body facing +Z, the person's left at +X). The torso is an elliptic cylinder fitted to that
mesh's trunk cross-sections (|x| <= 0.15 m, -0.07 <= z <= 0.13 m, -0.05 <= y <= 0.50 m), carried by spine2.
"""

from __future__ import annotations

import numpy as np

from talkavatar.motion.names import JOINT_INDEX, JOINT_PARENTS
from talkavatar.motion.rotations import axis_angle_to_matrix

REST_JOINTS: np.ndarray = np.array([
    (-0.000, 0.050, 0.011),
    (0.102, 0.039, 0.008),
    (-0.102, 0.039, 0.008),
    (-0.000, 0.118, -0.022),
    (0.135, -0.350, 0.040),
    (-0.135, -0.350, 0.040),
    (-0.000, 0.186, -0.010),
    (0.177, -0.749, 0.004),
    (-0.177, -0.749, 0.004),
    (0.000, 0.394, -0.032),
    (0.190, -0.796, 0.140),
    (-0.190, -0.796, 0.140),
    (0.000, 0.560, 0.008),
    (0.022, 0.493, 0.026),
    (-0.022, 0.493, 0.026),
    (0.000, 0.657, 0.042),
    (0.162, 0.467, 0.017),
    (-0.162, 0.467, 0.017),
    (0.414, 0.467, 0.017),
    (-0.414, 0.467, 0.017),
    (0.641, 0.468, 0.017),
    (-0.641, 0.468, 0.017),
    (0.000, 0.657, 0.042),
    (0.029, 0.697, 0.119),
    (-0.029, 0.697, 0.119),
    (0.743, 0.464, 0.043),
    (0.767, 0.457, 0.046),
    (0.787, 0.447, 0.048),
    (0.742, 0.468, 0.017),
    (0.773, 0.457, 0.013),
    (0.798, 0.446, 0.011),
    (0.727, 0.464, -0.020),
    (0.745, 0.456, -0.028),
    (0.757, 0.448, -0.033),
    (0.736, 0.468, -0.002),
    (0.763, 0.460, -0.011),
    (0.784, 0.450, -0.016),
    (0.679, 0.465, 0.041),
    (0.690, 0.444, 0.060),
    (0.715, 0.427, 0.079),
    (-0.743, 0.464, 0.043),
    (-0.767, 0.457, 0.046),
    (-0.787, 0.447, 0.048),
    (-0.742, 0.468, 0.017),
    (-0.773, 0.457, 0.013),
    (-0.798, 0.446, 0.011),
    (-0.727, 0.464, -0.020),
    (-0.745, 0.456, -0.028),
    (-0.757, 0.448, -0.033),
    (-0.736, 0.468, -0.002),
    (-0.763, 0.460, -0.011),
    (-0.784, 0.450, -0.016),
    (-0.679, 0.465, 0.041),
    (-0.690, 0.444, 0.060),
    (-0.715, 0.427, 0.079),
])
"""[55, 3] rest (T-pose) joint positions (metres)."""
TORSO_CENTRE_XZ = (0.0, 0.03)
TORSO_SEMI_AXES_XZ = (0.15, 0.10)
TORSO_Y_RANGE = (-0.05, 0.50)
#: points of each hand checked against the torso: wrist, knuckles, finger joints
HAND_POINTS = ("wrist", "index1", "middle1", "pinky1", "index3", "middle3", "thumb3")


def joint_transforms(joint_rotations: np.ndarray,
                     root_translation: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations ``[T, 55, 3, 3]`` and positions ``[T, 55, 3]`` of the canonical joints, from local axis-angle
    ``joint_rotations [T, 55, 3]`` (and the root's translation ``[T, 3]``, added to every position)."""
    local = axis_angle_to_matrix(np.asarray(joint_rotations, dtype=np.float64))
    rotations = np.empty_like(local)
    positions = np.empty((local.shape[0], len(JOINT_PARENTS), 3))
    for j, parent in enumerate(JOINT_PARENTS):
        if parent < 0:
            rotations[:, j], positions[:, j] = local[:, j], REST_JOINTS[j]
        else:
            rotations[:, j] = rotations[:, parent] @ local[:, j]
            offset = REST_JOINTS[j] - REST_JOINTS[parent]
            positions[:, j] = positions[:, parent] + rotations[:, parent] @ offset
    if root_translation is not None:
        positions = positions + np.asarray(root_translation, dtype=np.float64)[:, None, :]
    return rotations, positions


def forward_kinematics(joint_rotations: np.ndarray, root_translation: np.ndarray | None = None) -> np.ndarray:
    """World joint positions ``[T, 55, 3]`` from local axis-angle ``joint_rotations [T, 55, 3]`` (+ ``[T, 3]``)."""
    return joint_transforms(joint_rotations, root_translation)[1]


def hand_torso_depth(joint_rotations: np.ndarray) -> np.ndarray:
    """How far each frame's hand points reach into the torso: [T] max over points of (1 - normalised elliptic
    radius), positive inside (0.1 ~ 1.5 cm deep at the side), <= 0 outside or above/below the trunk."""
    rotations, positions = joint_transforms(joint_rotations)
    spine = JOINT_INDEX["spine2"]
    names = [f"{side}_{p}" for side in ("left", "right") for p in HAND_POINTS]
    points = positions[:, [JOINT_INDEX[n] for n in names]]  # [T, P, 3]
    local = np.einsum("tji,tpj->tpi", rotations[:, spine], points - positions[:, spine, None]) + REST_JOINTS[spine]
    dx = (local[..., 0] - TORSO_CENTRE_XZ[0]) / TORSO_SEMI_AXES_XZ[0]
    dz = (local[..., 2] - TORSO_CENTRE_XZ[1]) / TORSO_SEMI_AXES_XZ[1]
    inside_y = (local[..., 1] > TORSO_Y_RANGE[0]) & (local[..., 1] < TORSO_Y_RANGE[1])
    depth = np.where(inside_y, 1 - np.sqrt(dx**2 + dz**2), -1.0)
    return depth.max(-1)
