"""The clip's timeline: which motion pose each output frame shows.

Output frame ``i`` is the instant ``start + i / fps`` (the first frame at t = 0 of the clip, which is ``start``
seconds into the motion and its audio). The clip has ``round(seconds * fps)`` frames, so its video lasts the audio's
duration within half a frame. Motion frame ``k`` is the instant ``k / motion.fps``; between motion frames, poses
are interpolated (quaternion nlerp for joints, linear for translation and ARKit weights); past the last motion frame
the last pose holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle
from talkavatar.motion.file import Motion


@dataclass(frozen=True)
class Timeline:
    """``frames`` output frames at ``fps`` starting ``start`` seconds into ``motion``."""

    motion: Motion
    fps: float
    start: float
    frames: int

    @classmethod
    def of(cls, motion: Motion, fps: float, start: float = 0.0, duration: float | None = None,
           total_seconds: float | None = None) -> "Timeline":
        """The clip ``[start, start + duration)`` of a motion lasting ``total_seconds`` (default: its own length)."""
        total = motion.seconds if total_seconds is None else total_seconds
        if start >= total:
            raise ValueError(f"start {start:g} s is past the end ({total:g} s)")
        seconds = total - start if duration is None else min(duration, total - start)
        return cls(motion, float(fps), float(start), max(1, int(round(seconds * fps))))

    @property
    def seconds(self) -> float:
        """Duration of the clip's media: frames / fps."""
        return self.frames / self.fps

    def poses(self, frame_index: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """Poses of output frames ``frame_index`` [B]: (joint_rotations [B, 55, 3], root_translation [B, 3],
        arkit_weights [B, 52]), float32 CPU tensors."""
        m = self.motion
        position = (self.start + np.asarray(frame_index, dtype=np.float64) / self.fps) * m.fps
        position = np.clip(position, 0.0, m.frames - 1)
        lower = np.floor(position + 1e-6).astype(np.int64).clip(0, m.frames - 1)
        upper = np.minimum(lower + 1, m.frames - 1)
        weight = torch.from_numpy(np.clip(position - lower, 0.0, 1.0)).float()
        exact = bool((weight < 1e-6).all())
        rotations = torch.from_numpy(np.asarray(m.joint_rotations[lower], dtype=np.float32))
        translation = torch.from_numpy(np.asarray(m.root_translation[lower], dtype=np.float32))
        arkit = torch.from_numpy(np.asarray(m.arkit_weights[lower], dtype=np.float32))
        if exact:
            return rotations, translation, arkit
        w = weight[:, None]
        translation = torch.lerp(translation, torch.from_numpy(np.asarray(m.root_translation[upper], np.float32)), w)
        arkit = torch.lerp(arkit, torch.from_numpy(np.asarray(m.arkit_weights[upper], np.float32)), w)
        q0 = axis_angle_to_quaternion(rotations)
        q1 = axis_angle_to_quaternion(torch.from_numpy(np.asarray(m.joint_rotations[upper], np.float32)))
        q1 = torch.where((q0 * q1).sum(-1, keepdim=True) < 0, -q1, q1)  # the shorter way round
        q = torch.lerp(q0, q1, w[:, :, None])
        rotations = quaternion_to_axis_angle(q / q.norm(dim=-1, keepdim=True))
        return rotations, translation, arkit
