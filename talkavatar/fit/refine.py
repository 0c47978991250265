"""Per-frame refinement of the tracked poses and expressions of the real frames a video fit learns from.

Tracking fits landmarks and a silhouette; the photometric loss sees misalignments it cannot (a head turned a degree
further, a mouth a little more open). Each real frame gets small learned corrections to its joint rotations, root
translation and ARKit weights, pulled towards zero by the ``frame_prior`` loss (:class:`~talkavatar.fit.objective.LossWeights`), so that appearance is not learned blurred to
absorb tracking error.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from talkavatar.core.color import linear_to_srgb
from talkavatar.core.losses import l1, ssim_loss
from talkavatar.core.splats import rasterize
from talkavatar.fit.data import Poses

RATES = {"frame_rotations": 2e-3, "frame_translation": 5e-4, "frame_arkit": 5e-3}
"""Adam learning rates (radians, metres, ARKit weight units per step)."""


class FrameRefinement(nn.Module):
    """Corrections for F frames: rotations [F, 55, 3] (axis-angle, added), translation [F, 3] (m), arkit [F, 52]."""

    def __init__(self, count: int, device=None):
        super().__init__()
        self.frame_rotations = nn.Parameter(torch.zeros(count, 55, 3, device=device))
        self.frame_translation = nn.Parameter(torch.zeros(count, 3, device=device))
        self.frame_arkit = nn.Parameter(torch.zeros(count, 52, device=device))

    def poses(self, base: Poses, index: Tensor) -> Poses:
        """``base`` poses of the frames ``index`` [B] (long) with their corrections (ARKit weights kept in 0..1)."""
        return Poses(base.joint_rotations + self.frame_rotations[index],
                     base.root_translation + self.frame_translation[index],
                     (base.arkit_weights + self.frame_arkit[index]).clamp(0, 1))

    def penalty(self, index: Tensor) -> Tensor:
        """Mean squared correction of the frames ``index``: a scalar."""
        return (self.frame_rotations[index].square().mean() + self.frame_translation[index].square().mean()
                + self.frame_arkit[index].square().mean())

    def magnitude(self) -> dict[str, float]:
        """Mean absolute correction per kind (for the fit record)."""
        return {"rotation_rad": float(self.frame_rotations.detach().abs().mean()),
                "translation_m": float(self.frame_translation.detach().abs().mean()),
                "arkit": float(self.frame_arkit.detach().abs().mean())}


REFERENCE_WEIGHTS = {"l1": 0.8, "ssim": 0.2, "prior": 10.0}
"""Test-time refinement's loss (:func:`refine_to_frames`): the fit's photometric weights and ``frame_prior``."""


def refine_to_frames(avatar, poses: Poses, cameras, rgb: Tensor, mask: Tensor, steps: int) -> Poses:
    """``poses`` of T frames corrected so that the frozen ``avatar`` rendered through ``cameras`` (T cameras) over
    black matches the frames ``rgb`` [T, H, W, 3] (sRGB 0..1) matted by their person ``mask`` [T, H, W]: ``steps``
    Adam steps of the fit's per-frame refinement (same rates, same prior), everything on ``rgb``'s device. The
    test-time pose optimisation of the monocular-avatar papers: scores of held-out frames then measure appearance,
    not the tracker's few pixels of disagreement with the fit's own refined poses."""
    device = rgb.device
    refinement = FrameRefinement(len(poses), device)
    optimizer = torch.optim.Adam([{"params": [p], "lr": RATES[name]} for name, p in refinement.named_parameters()])
    target = rgb * mask[..., None]
    index = torch.arange(len(poses), device=device)
    for _ in range(steps):
        p = refinement.poses(poses, index)
        out = rasterize(avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights), cameras)
        image = linear_to_srgb(out.rgb)
        loss = (REFERENCE_WEIGHTS["l1"] * l1(image, target) + REFERENCE_WEIGHTS["ssim"] * ssim_loss(image, target)
                + REFERENCE_WEIGHTS["prior"] * refinement.penalty(index))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return refinement.poses(poses, index)
