"""Rotation helpers on numpy arrays (no torch): axis-angle ``[..., 3]`` <-> matrices ``[..., 3, 3]``, Euler.

Conventions (DESIGN.md): right-handed, +Y up; axis-angle vectors are axis * angle in radians.
"""

from __future__ import annotations

import numpy as np


def axis_angle_to_matrix(rotvec: np.ndarray) -> np.ndarray:
    """Rodrigues: ``rotvec [..., 3]`` -> ``[..., 3, 3]``."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.where(angle > 1e-12, angle, 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    c, s = np.cos(angle[..., 0]), np.sin(angle[..., 0])
    t = 1.0 - c
    m = np.stack([
        t * x * x + c, t * x * y - s * z, t * x * z + s * y,
        t * x * y + s * z, t * y * y + c, t * y * z - s * x,
        t * x * z - s * y, t * y * z + s * x, t * z * z + c,
    ], axis=-1)
    return m.reshape(rotvec.shape[:-1] + (3, 3))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """``[..., 3, 3]`` rotation matrices -> axis-angle ``[..., 3]`` (angle in [0, pi]), through the quaternion for
    stability near 0 and pi."""
    m = np.asarray(m, np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    q = np.stack([1 + tr, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] + m[..., 1, 1]
                  - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = q.argmax(-1)
    cands = np.stack([
        np.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], q[..., 1], m[..., 1, 0] + m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1], q[..., 2], m[..., 2, 1] + m[..., 1, 2]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2], q[..., 3]], -1),
    ], -2)
    quat = np.take_along_axis(cands, best[..., None, None], -2)[..., 0, :]
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    quat = np.where(quat[..., :1] < 0, -quat, quat)
    sin_half = np.linalg.norm(quat[..., 1:], axis=-1, keepdims=True)
    angle = 2 * np.arctan2(sin_half, quat[..., :1])
    return quat[..., 1:] * np.where(sin_half > 1e-12, angle / np.maximum(sin_half, 1e-12), 2.0)


def euler_to_matrix(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)`` (yaw about +Y, pitch about +X, roll about +Z; radians)."""
    yaw, pitch, roll = (np.asarray(a, dtype=np.float64) for a in (yaw, pitch, roll))
    zeros = np.zeros_like(yaw)
    ry = axis_angle_to_matrix(np.stack([zeros, yaw, zeros], -1))
    rx = axis_angle_to_matrix(np.stack([pitch, zeros, zeros], -1))
    rz = axis_angle_to_matrix(np.stack([zeros, zeros, roll], -1))
    return ry @ rx @ rz


def matrix_to_euler(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of :func:`euler_to_matrix`: ``(yaw, pitch, roll)`` with pitch in [-pi/2, pi/2]."""
    m = np.asarray(matrix, dtype=np.float64)
    pitch = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    roll = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return yaw, pitch, roll


def compose_axis_angle(*rotvecs: np.ndarray) -> np.ndarray:
    """Axis-angle of ``R(a) @ R(b) @ ...`` (left to right)."""
    out = axis_angle_to_matrix(rotvecs[0])
    for r in rotvecs[1:]:
        out = out @ axis_angle_to_matrix(r)
    return matrix_to_axis_angle(out)


def mirror_axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """The rotation mirrored through the body's sagittal plane (x -> -x): ``(x, y, z) -> (x, -y, -z)``."""
    out = np.array(rotvec, dtype=np.float64, copy=True)
    out[..., 1:] *= -1.0
    return out
