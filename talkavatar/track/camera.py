"""The tracking camera: OpenCV pinhole at the world origin, looking down world -Z with +Y up (bundle conventions).

Intrinsics ``K`` are in pixels of the image they refer to (pixel centres at +0.5: the principal point of a W x H
image is ``(W / 2, H / 2)``). The world-to-camera rotation is ``diag(1, -1, -1)``: a body at world ``(0, 0, -d)``
facing +Z faces the camera.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from talkavatar.track.config import DEFAULT_FOV_DEG

WORLD_TO_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0]).astype(np.float32)
"""[4, 4] world-to-camera matrix shared by every frame (the body moves, the camera does not)."""


def default_focal(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> float:
    """Focal length in pixels for a field of view of ``fov_deg`` across the longer image side."""
    return max(width, height) / (2.0 * math.tan(math.radians(fov_deg) / 2.0))


def intrinsics(width: int, height: int, focal: float) -> np.ndarray:
    """K: [3, 3] with square pixels and the principal point at the image centre."""
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], np.float32)


def project(points: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """World points [..., 3] → pixel coordinates [..., 2] through the shared camera (no distortion)."""
    x, y, z = points[..., 0], -points[..., 1], -points[..., 2]
    z = z.clamp(min=1e-3)
    return torch.stack([K[0, 0] * x / z + K[0, 2], K[1, 1] * y / z + K[1, 2]], dim=-1)


def pixel_ray(pixel: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates [2] → the direction [3] of the camera ray through them, at depth 1 (z = -1): the points
    ``depth * ray`` are those :func:`project` maps to ``pixel``."""
    return torch.stack([(pixel[0] - K[0, 2]) / K[0, 0], -(pixel[1] - K[1, 2]) / K[1, 1], -torch.ones_like(pixel[0])])
