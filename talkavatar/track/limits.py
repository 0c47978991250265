"""Anatomical bounds and prior weights for the canonical SMPL-X joints, in canonical axes.

The canonical rest pose is SMPL-X's T-pose (arms along +-X, palms down, facing +Z, +Y up) and every joint's local
axis-angle is expressed in those world-aligned axes, so e.g. a left elbow bends with a negative Y component, a knee
with a positive X one. The boxes are generous: they stop impossible bends (knees backwards, elbows hyper-extended)
while leaving the landmark losses free inside them.
"""

from __future__ import annotations

import functools

import math

import torch

from talkavatar.motion.names import JOINT_NAMES

_BIG = math.pi
# name -> ((x_lo, y_lo, z_lo), (x_hi, y_hi, z_hi)) in radians; "left" entries mirror to "right" (y, z flip sign)
_LEFT_AND_CENTRE = {
    "spine1": ((-0.5, -0.6, -0.5), (0.9, 0.6, 0.5)),
    "spine2": ((-0.4, -0.5, -0.4), (0.6, 0.5, 0.4)),
    "spine3": ((-0.4, -0.5, -0.4), (0.6, 0.5, 0.4)),
    "neck": ((-0.7, -0.9, -0.6), (0.8, 0.9, 0.6)),
    "head": ((-0.7, -0.9, -0.6), (0.8, 0.9, 0.6)),
    "jaw": ((-0.05, -0.1, -0.1), (0.5, 0.1, 0.1)),
    "left_eye_smplhf": ((-0.5, -0.6, -0.3), (0.5, 0.6, 0.3)),
    "left_hip": ((-2.4, -0.9, -0.6), (0.8, 0.9, 1.3)),
    "left_knee": ((-0.1, -0.25, -0.2), (2.5, 0.25, 0.2)),
    "left_ankle": ((-0.8, -0.5, -0.5), (0.8, 0.5, 0.5)),
    "left_foot": ((-0.5, -0.3, -0.3), (0.5, 0.3, 0.3)),
    "left_collar": ((-0.5, -0.5, -0.4), (0.5, 0.5, 0.6)),
    "left_shoulder": ((-1.6, -2.0, -1.75), (1.6, 0.9, 1.3)),
    "left_elbow": ((-1.7, -2.7, -0.35), (1.7, 0.1, 0.35)),
    "left_wrist": ((-1.3, -1.0, -1.3), (1.3, 1.0, 1.3)),
}
_FINGER_LEFT = ((-0.35, -0.5, -1.9), (0.35, 0.5, 0.35))
_THUMB = ((-1.2, -1.2, -1.2), (1.2, 1.2, 1.2))


def _mirror(bounds):
    (xl, yl, zl), (xh, yh, zh) = bounds
    return (xl, -yh, -zh), (xh, -yl, -zl)


def joint_bounds() -> tuple[torch.Tensor, torch.Tensor]:
    """(lower, upper): [55, 3] each; the pelvis (global orientation) is unbounded. Copies: callers may change them."""
    lower, upper = _joint_bounds()
    return lower.clone(), upper.clone()


@functools.cache
def _joint_bounds() -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`joint_bounds`, built once a process (a clip's every frame asks: ~4 ms each time)."""
    lower = torch.full((len(JOINT_NAMES), 3), -_BIG)
    upper = torch.full((len(JOINT_NAMES), 3), _BIG)
    for j, name in enumerate(JOINT_NAMES):
        if name == "pelvis":
            continue
        side = "left" if name.startswith("left_") else "right" if name.startswith("right_") else None
        left_name = "left_" + name[len("right_"):] if side == "right" else name
        base = left_name[len("left_"):] if side else name
        if any(base.startswith(f) for f in ("index", "middle", "ring", "pinky")):
            bounds = _FINGER_LEFT
        elif base.startswith("thumb"):
            bounds = _THUMB
        else:
            bounds = _LEFT_AND_CENTRE[left_name]
        if side == "right":
            bounds = _mirror(bounds)
        lower[j], upper[j] = torch.tensor(bounds[0]), torch.tensor(bounds[1])
    return lower, upper


def prior_weights() -> torch.Tensor:
    """[55] weight of each joint's squared angle in the pose prior (legs and spine stiff, arms free). A copy."""
    return _prior_weights().clone()


@functools.cache
def _prior_weights() -> torch.Tensor:
    stiff = {"spine1": 4.0, "spine2": 4.0, "spine3": 4.0, "neck": 1.0, "head": 1.0, "jaw": 2.0,
             "hip": 2.0, "knee": 2.0, "ankle": 2.0, "foot": 4.0, "collar": 4.0, "shoulder": 0.3, "elbow": 0.3,
             "wrist": 1.0, "eye_smplhf": 1.0}
    weights = torch.zeros(len(JOINT_NAMES))
    for j, name in enumerate(JOINT_NAMES):
        base = name.removeprefix("left_").removeprefix("right_")
        if name == "pelvis":
            continue
        weights[j] = stiff.get(base, 0.5)  # finger joints
    return weights
