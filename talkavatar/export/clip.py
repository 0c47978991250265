"""The clip an export bakes: a motion's frames as key times, and the rig's bone transforms at those keys.

Key ``k < T`` is motion frame ``k`` at ``k / fps`` (no resampling, so exported rotations are the motion's own);
a last key at the clip's end (the audio's length, else ``T / fps``) holds the last pose, so that a player's
animation lasts exactly as long as the sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from talkavatar.core.body.rig import Rig, local_rotations
from talkavatar.core.rotations import matrix_to_quaternion
from talkavatar.core.skinning import forward_kinematics, skinning_transforms
from talkavatar.motion.file import Motion


@dataclass(frozen=True)
class Clip:
    """``times`` [K] seconds (strictly increasing, first 0); ``joint_rotations`` [K, 55, 3] canonical axis-angle;
    ``root_translation`` [K, 3] metres; ``arkit_weights`` [K, 52]; ``fps`` of the motion."""

    times: np.ndarray
    joint_rotations: np.ndarray
    root_translation: np.ndarray
    arkit_weights: np.ndarray
    fps: float

    @classmethod
    def of(cls, motion: Motion, seconds: float | None = None) -> "Clip":
        """The motion's frames up to ``seconds`` (default: its own length), plus a held last key at the end."""
        end = motion.seconds if seconds is None else float(seconds)
        if not end > 0:
            raise ValueError(f"a clip needs a positive length, got {end!r} s")
        count = min(motion.frames, int(np.floor(end * motion.fps + 1e-6)) + 1)
        index = np.arange(count)
        times = index / motion.fps
        if end - times[-1] > 1e-6:
            index, times = np.append(index, count - 1), np.append(times, end)
        return cls(times.astype(np.float64), np.asarray(motion.joint_rotations[index], np.float32),
                   np.asarray(motion.root_translation[index], np.float32),
                   np.asarray(motion.arkit_weights[index], np.float32), float(motion.fps))

    @property
    def seconds(self) -> float:
        return float(self.times[-1])

    @property
    def keys(self) -> int:
        return int(self.times.shape[0])


def bone_rotations(rig: Rig, clip: Clip) -> torch.Tensor:
    """The rig's local bone rotations at every key, [K, J, 3, 3] float64 (identity = the rig's rest pose)."""
    rig = rig.to("cpu", torch.float64)
    return local_rotations(torch.from_numpy(clip.joint_rotations).double(), rig.rest_to_canonical, rig.tree.parent_index,
                           rig.bone_driver, rig.bone_driver_fraction)


def bone_quaternions_xyzw(rig: Rig, clip: Clip) -> np.ndarray:
    """Local bone rotations as unit quaternions in glTF's order (x, y, z, w), [K, J, 4] float32, sign-continuous
    over time so that linear interpolation between keys takes the short way."""
    wxyz = matrix_to_quaternion(bone_rotations(rig, clip)).numpy()
    xyzw = np.concatenate([wxyz[..., 1:], wxyz[..., :1]], -1)
    for k in range(1, xyzw.shape[0]):
        flip = (xyzw[k] * xyzw[k - 1]).sum(-1) < 0
        xyzw[k, flip] *= -1
    return (xyzw / np.linalg.norm(xyzw, axis=-1, keepdims=True)).astype(np.float32)


def skinning_matrices(rig: Rig, clip: Clip) -> np.ndarray:
    """Per-key bone skinning transforms rest -> posed (root translation included), [K, J, 3, 4] float32."""
    rig64 = rig.to("cpu", torch.float64)
    global_rotations, posed_joints = forward_kinematics(rig64.tree, bone_rotations(rig, clip), rig64.joints)
    posed_joints = posed_joints + torch.from_numpy(clip.root_translation).double()[:, None]
    return skinning_transforms(global_rotations, posed_joints, rig64.joints).float().numpy()
