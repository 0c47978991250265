"""Cameras of the pseudo frames: orbits around the part of the person the photo shows.

Each frame's camera looks at the centroid of the posed vertices that were inside the photo (so an upper-body
photo gives upper-body frames wherever the motion moves them), from the photo's camera distance, turned about the
vertical axis by a sampled view yaw (most frames near the photo's view, ``side_views`` of them from the sides and
back) and a small pitch. Focal length: the photo's, scaled to the frame size.
"""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.cameras import Cameras


def sample_view_angles(count: int, seed: int, side_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(yaw [N], pitch [N]) degrees: near views within +-35, side/back views 40..180 either way."""
    rng = np.random.default_rng(seed + 7919)
    side = rng.random(count) < side_share
    yaw = np.where(side, rng.choice([-1, 1], count) * rng.uniform(40, 180, count), rng.uniform(-35, 35, count))
    pitch = rng.uniform(-8, 15, count)
    return yaw, pitch


def orbit_cameras(focus: torch.Tensor, photo_centre: torch.Tensor, yaw_degrees: np.ndarray,
                  pitch_degrees: np.ndarray, focal: float, size: int) -> Cameras:
    """focus: [N, 3] look-at points; photo_centre: [3] the photo camera's centre; -> N cameras of ``size``²."""
    offset = photo_centre[None] - focus  # [N, 3] from the focus to the photo camera
    yaw = torch.from_numpy(np.radians(yaw_degrees)).to(focus)
    pitch = torch.from_numpy(np.radians(pitch_degrees)).to(focus)
    c, s = torch.cos(yaw), torch.sin(yaw)
    x = c * offset[:, 0] + s * offset[:, 2]
    z = -s * offset[:, 0] + c * offset[:, 2]
    horizontal = torch.sqrt(x**2 + z**2).clamp_min(1e-6)
    elevation = torch.atan2(offset[:, 1], horizontal) + pitch
    length = offset.norm(dim=1)
    direction = torch.stack([x / horizontal * torch.cos(elevation), torch.sin(elevation),
                             z / horizontal * torch.cos(elevation)], -1)
    eye = focus + direction * length[:, None]
    K = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]], dtype=focus.dtype)
    return Cameras.look_at(eye, focus, width=size, height=size, K=K)


def frame_focal(photo_focal: float, photo_size: tuple[int, int], size: int) -> float:
    return photo_focal * size / max(photo_size)
