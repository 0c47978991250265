"""Rotation conversions: axis-angle, 3x3 matrices, unit quaternions (wxyz) and the continuous 6D representation.

Pure, batched functions over the trailing dimensions; differentiable everywhere, including at the identity (the
small-angle branches use Taylor series, so gradients stay finite at zero). Conventions (DESIGN.md): rotations act
on column vectors (``x' = R @ x``), quaternions are ``(w, x, y, z)``, axis-angle vectors are ``angle * axis`` in
radians.
"""

from __future__ import annotations

import torch

# Below this squared angle the closed forms lose precision; the Taylor series are exact to float64 rounding there.
_SMALL_ANGLE_SQ = 1e-6


def skew(v: torch.Tensor) -> torch.Tensor:
    """The cross-product matrix: ``skew(v) @ x == cross(v, x)``. ``v``: [..., 3] -> [..., 3, 3]."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(v.shape + (3,))


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula. ``axis_angle``: [..., 3] -> [..., 3, 3].

    ``R = I + a K + b K^2`` with ``K = skew(axis_angle)``, ``a = sin(t)/t``, ``b = (1 - cos(t))/t^2``; both
    coefficients use their Taylor series near ``t = 0``.
    """
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta_sq), theta_sq))
    a = torch.where(small, 1 - theta_sq / 6 + theta_sq * theta_sq / 120, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta_sq / 24 + theta_sq * theta_sq / 720,
                    (1 - torch.cos(theta)) / torch.where(small, torch.ones_like(theta_sq), theta_sq))
    k = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def right_jacobian(axis_angle: torch.Tensor) -> torch.Tensor:
    """SO(3)'s right Jacobian ``J_r`` of axis-angles [..., 3] -> [..., 3, 3]: ``d(R(w) v)/dw = -R(w) skew(v) J_r(w)``
    for :func:`axis_angle_to_matrix`'s ``R``. ``J_r = I - b K + c K^2`` with ``K = skew(w)``, ``b = (1 - cos t)/t^2``,
    ``c = (t - sin t)/t^3``; Taylor series near ``t = 0``."""
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    safe_sq = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = torch.sqrt(safe_sq)
    b = torch.where(small, 0.5 - theta_sq / 24 + theta_sq * theta_sq / 720, (1 - torch.cos(theta)) / safe_sq)
    c = torch.where(small, 1 / 6 - theta_sq / 120 + theta_sq * theta_sq / 5040,
                    (theta - torch.sin(theta)) / (safe_sq * theta))
    k = skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye - b[..., None, None] * k + c[..., None, None] * (k @ k)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] (wxyz, ``w >= 0``).

    Shepperd's method: each of the four candidate formulas is well conditioned where its pivot is largest; we pick
    that one per element.
    """
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    pivots = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    roots = torch.sqrt(pivots.clamp_min(1e-12))  # = 2 * |q_i| for the pivot component i
    candidates = torch.stack([
        torch.stack([roots[..., 0] ** 2, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0],
                     m[..., 1, 0] - m[..., 0, 1]], -1) / (2 * roots[..., 0, None]),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], roots[..., 1] ** 2, m[..., 1, 0] + m[..., 0, 1],
                     m[..., 0, 2] + m[..., 2, 0]], -1) / (2 * roots[..., 1, None]),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1], roots[..., 2] ** 2,
                     m[..., 2, 1] + m[..., 1, 2]], -1) / (2 * roots[..., 2, None]),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 2, 1] + m[..., 1, 2],
                     roots[..., 3] ** 2], -1) / (2 * roots[..., 3, None]),
    ], -2)  # [..., 4 candidates, 4]
    best = pivots.argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = torch.where(q[..., :1] < 0, -q, q)
    return q / q.norm(dim=-1, keepdim=True)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """Quaternions [..., 4] (wxyz, normalised here) -> rotation matrices [..., 3, 3]."""
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(q.shape[:-1] + (3, 3))


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """Unit quaternions [..., 4] (wxyz) -> axis-angle [..., 3], angle in [0, pi]."""
    q = torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    w, v = q[..., 0], q[..., 1:]
    s_sq = (v * v).sum(-1)
    small = s_sq < _SMALL_ANGLE_SQ
    s = torch.sqrt(torch.where(small, torch.ones_like(s_sq), s_sq))
    # angle / s = 2 atan2(s, w) / s; near s = 0 its series is (2 / w) (1 - s^2 / (3 w^2)).
    factor = torch.where(small, 2 / w * (1 - s_sq / (3 * w * w)), 2 * torch.atan2(s, w) / s)
    return v * factor[..., None]


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """Axis-angle [..., 3] -> unit quaternions [..., 4] (wxyz)."""
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    theta = torch.sqrt(torch.where(small, torch.ones_like(theta_sq), theta_sq))
    half_sinc = torch.where(small, 0.5 - theta_sq / 48, torch.sin(theta / 2) / theta)
    w = torch.where(small, 1 - theta_sq / 8, torch.cos(theta / 2))
    return torch.cat([w[..., None], axis_angle * half_sinc[..., None]], -1)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] -> axis-angle [..., 3] (angle in [0, pi])."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """Zhou et al.'s continuous 6D representation [..., 6] -> rotation matrices [..., 3, 3].

    The 6 numbers are the first two columns of the matrix before Gram-Schmidt (the convention of
    :func:`matrix_to_rotation_6d`).
    """
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = a1 / a1.norm(dim=-1, keepdim=True)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = b2 / b2.norm(dim=-1, keepdim=True)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], -1)


def matrix_to_rotation_6d(matrix: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [..., 3, 3] -> 6D [..., 6] (first column, then second column)."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], -1)


def rotation_between(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The smallest rotation taking direction ``source`` to direction ``target`` (both [..., 3], any length).

    Returns [..., 3, 3]. Opposite directions get a half turn about an axis perpendicular to ``source``.
    """
    a = source / source.norm(dim=-1, keepdim=True)
    b = target / target.norm(dim=-1, keepdim=True)
    axis = torch.linalg.cross(a, b, dim=-1)
    sin = axis.norm(dim=-1)
    cos = (a * b).sum(-1)
    angle = torch.atan2(sin, cos)
    # Antiparallel: any perpendicular axis works; take the one from the coordinate axis least aligned with a.
    helper = torch.eye(3, dtype=a.dtype, device=a.device)[a.abs().argmin(-1)]
    fallback = torch.linalg.cross(a, helper, dim=-1)
    degenerate = (sin < 1e-9)[..., None]
    axis = torch.where(degenerate, torch.where(cos[..., None] < 0, fallback, axis), axis)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return axis_angle_to_matrix(axis * angle[..., None])


def slerp_matrix(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Geodesic interpolation between rotations ``a`` and ``b`` ([..., 3, 3]) at fraction ``t``."""
    return a @ axis_angle_to_matrix(t * matrix_to_axis_angle(a.transpose(-1, -2) @ b))


def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of wxyz quaternions (rotation ``a`` after ``b``). [..., 4] x [..., 4] -> [..., 4]."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)
