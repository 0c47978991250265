"""Per-frame refinement of the tracked poses and expressions of the real frames a video fit learns from.

Tracking fits landmarks and a silhouette; the photometric loss sees misalignments it cannot (a head turned a degree
further, a mouth a little more open). Each real frame gets small learned corrections to its joint rotations, root
translation and ARKit weights, pulled towards zero by the ``frame_prior`` loss (:class:`~talkavatar.fit.objective.LossWeights`), so that appearance is not learned blurred to
absorb tracking error.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

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
