"""Cameras of the pseudo frames: orbits around the part of the person the photo shows.

Each frame's camera looks at the centroid of the posed vertices that were inside the photo (so an upper-body
photo gives upper-body frames wherever the motion moves them), from the photo's camera distance, turned about the
vertical axis by a sampled view yaw (most frames near the photo's view, ``side_views`` of them from the sides and
back) and a small pitch. Focal length: the photo's, scaled to the frame size. No camera is inside or touching the
body: one nearer than ``CLEARANCE`` to the frame's posed body backs away from its look-at point until it is not
(:func:`keep_clear`), so a close portrait's side and back views frame the head instead of entering it.
"""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.cameras import Cameras

CLEARANCE = 0.3  # metres between a pseudo camera and the nearest point of its frame's body


def sample_view_angles(count: int, seed: int, side_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(yaw [N], pitch [N]) degrees: near views within +-35, side/back views 40..180 either way."""
    rng = np.random.default_rng(seed + 7919)
    side = rng.random(count) < side_share
    yaw = np.where(side, rng.choice([-1, 1], count) * rng.uniform(40, 180, count), rng.uniform(-35, 35, count))
    pitch = rng.uniform(-8, 15, count)
    return yaw, pitch


def keep_clear(eye: torch.Tensor, focus: torch.Tensor, bodies: torch.Tensor, clearance: float = CLEARANCE
               ) -> torch.Tensor:
    """eye, focus: [N, 3]; bodies: [N, P, 3] points of each frame's posed body -> eyes [N, 3] moved away from their
    focus along the line of sight until no body point is nearer than ``clearance`` (metres)."""
    away = eye - focus
    away = away / away.norm(dim=1, keepdim=True).clamp_min(1e-9)
    for _ in range(6):
        nearest = (bodies - eye[:, None]).norm(dim=2).min(dim=1).values
        short = (clearance - nearest).clamp_min(0)
        if not bool((short > 0).any()):
            break
        eye = eye + away * (short + 0.01 * (short > 0))[:, None]
    return eye


def orbit_cameras(focus: torch.Tensor, photo_centre: torch.Tensor, yaw_degrees: np.ndarray,
                  pitch_degrees: np.ndarray, focal: float, size: int, bodies: torch.Tensor | None = None
                  ) -> Cameras:
    """focus: [N, 3] look-at points; photo_centre: [3] the photo camera's centre; bodies: [N, P, 3] points of each
    frame's posed body (cameras keep clear of them, :func:`keep_clear`) or None; -> N cameras of ``size``²."""
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
    if bodies is not None:
        eye = keep_clear(eye, focus, bodies)
    K = torch.tensor([[focal, 0.0, size / 2], [0.0, focal, size / 2], [0.0, 0.0, 1.0]], dtype=focus.dtype)
    return Cameras.look_at(eye, focus, width=size, height=size, K=K)


def frame_focal(photo_focal: float, photo_size: tuple[int, int], size: int) -> float:
    return photo_focal * size / max(photo_size)
