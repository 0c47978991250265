"""Fitting energies: robust landmark reprojection, pose priors and joint limits, temporal smoothness.

Kernels over tensors and numbers only. Landmark residuals are measured in units of the person's bounding-box
height, so weights mean the same thing at every image size.
"""

from __future__ import annotations

import torch

from talkavatar.core.rotations import axis_angle_to_matrix


def gmof(residual_sq: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robustifier of squared residuals: ``s^2 r^2 / (s^2 + r^2)`` (SMPLify's GMoF)."""
    s2 = sigma * sigma
    return s2 * residual_sq / (s2 + residual_sq)


def landmark_loss(predicted: torch.Tensor, detected: torch.Tensor, weight: torch.Tensor,
                  unit: torch.Tensor | float, sigma: float) -> torch.Tensor:
    """Weighted robust 2D reprojection error. predicted, detected: [B, K, 2] pixels; weight: [B, K] (visibility,
    0 for missing points); unit: pixels per residual unit, a number or [B, 1, 1].

    Returns the weighted mean of GMoF((|r| / unit)^2) with ``sigma`` in residual units (a scalar).
    """
    r2 = ((predicted - detected) / unit).pow(2).sum(-1)
    return (gmof(r2, sigma) * weight).sum() / weight.sum().clamp(min=1e-6)


def joint_limit_loss(rotations: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Squared excess of axis-angle components beyond per-joint bounds. rotations, lower, upper: [..., J, 3]."""
    return ((lower - rotations).clamp(min=0).pow(2) + (rotations - upper).clamp(min=0).pow(2)).sum(-1).mean()


def pose_prior_loss(rotations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Per-joint weighted squared rotation angle (a Gaussian prior around the rest pose). rotations: [..., J, 3];
    weights: [J]."""
    return (rotations.pow(2).sum(-1) * weights).sum(-1).mean()


def smoothness_loss(series: torch.Tensor) -> torch.Tensor:
    """Mean squared second difference along the first axis (frames) of [T, ...]; 0 for fewer than 3 frames."""
    if series.shape[0] < 3:
        if series.shape[0] == 2:
            return (series[1] - series[0]).pow(2).mean()
        return series.new_zeros(())
    return (series[2:] - 2 * series[1:-1] + series[:-2]).pow(2).mean()


def upright_loss(orientation: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """How far the body's up axis tilts from the world's +Y: weighted mean of ``2 (1 - cos tilt)`` (≈ tilt² in
    rad² for small tilts). orientation: [B, 3] axis-angle of the canonical pelvis; weight: [B]."""
    up_y = axis_angle_to_matrix(orientation)[:, 1, 1]
    return (2.0 * (1.0 - up_y) * weight).mean()


def near_plane_loss(depth: torch.Tensor, near: float) -> torch.Tensor:
    """Squared shortfall (in units of ``near``) of camera depths [B, V] below ``near`` metres, summed over vertices
    and averaged over frames: 0 while the whole mesh lies beyond the near plane."""
    return ((near - depth).clamp(min=0) / near).pow(2).sum(-1).mean()


def hold_loss(rotations: torch.Tensor, held: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Squared distance of joint rotations [B, J, 3] from ``held`` [B, J, 3], weighted per frame and joint by
    ``weight`` [B, J] and summed over joints, averaged over frames."""
    return ((rotations - held).pow(2).sum(-1) * weight).sum(-1).mean()


def temporal_loss(rotations: torch.Tensor, start_rotations: torch.Tensor, translation: torch.Tensor,
                  start_translation: torch.Tensor, metres: float) -> torch.Tensor:
    """How far a frame moved from where it started (tracking a video frame by frame: the previous frame's pose):
    squared joint rotation changes [B, J, 3] summed over joints, plus the squared root translation change [B, 3] in
    units of ``metres``, averaged over frames."""
    turned = (rotations - start_rotations).pow(2).sum((-1, -2))
    moved = ((translation - start_translation) / metres).pow(2).sum(-1)
    return (turned + moved).mean()
