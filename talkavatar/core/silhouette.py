"""Silhouettes of the posed mesh: a soft, differentiable one for fitting and an exact hard one for measuring.

There is no mesh rasterizer here (no pytorch3d), so the soft silhouette splats points spread uniformly over the
mesh surface (fixed barycentric samples, area-weighted) bilinearly onto a coarse grid, blurs the density with a
small Gaussian and saturates it: ``alpha = 1 - exp(-density / level)``. Gradients reach the vertices through the
bilinear weights. The hard silhouette fills every projected triangle (OpenCV) at full resolution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def surface_samples(vertices: torch.Tensor, faces: torch.Tensor, count: int, seed: int = 0
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` points spread over the surface by area. vertices: [V, 3]; faces: [F, 3] long.

    Returns (face_index [S] long, barycentric [S, 3]) on the vertices' device; a point is
    ``sum_k bary[:, k] * v[faces[face_index, k]]``. Drawn on the CPU: the same seed gives the same points anywhere.
    """
    g = torch.Generator().manual_seed(seed)
    tri = vertices.detach().cpu()[faces.cpu()].double()
    area = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]).norm(dim=-1)
    face_index = torch.multinomial(area / area.sum(), count, replacement=True, generator=g)
    u, v = torch.rand(count, generator=g), torch.rand(count, generator=g)
    flip = u + v > 1
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    bary = torch.stack([1 - u - v, u, v], dim=-1).to(vertices.dtype)
    return face_index.to(vertices.device), bary.to(vertices.device)


def sample_points(vertices: torch.Tensor, faces: torch.Tensor, face_index: torch.Tensor, bary: torch.Tensor
                  ) -> torch.Tensor:
    """Surface points of posed ``vertices`` [..., V, 3] at fixed samples → [..., S, 3]."""
    corners = vertices[..., faces[face_index], :]  # [..., S, 3, 3]
    return (corners * bary[..., None]).sum(-2)


def _gaussian_kernel(sigma: float, device, dtype) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def splat_density(points_px: torch.Tensor, width: int, height: int, grid: tuple[int, int], sigma: float = 0.8
                  ) -> torch.Tensor:
    """Blurred count of points per grid cell. points_px: [N, 2] in image pixels; grid: (gw, gh) cells over the
    image → [gh, gw]. Points outside the image are dropped; differentiable in the point positions."""
    gw, gh = grid
    x = points_px[:, 0] * (gw / width) - 0.5
    y = points_px[:, 1] * (gh / height) - 0.5
    x0, y0 = torch.floor(x).detach(), torch.floor(y).detach()
    fx, fy = x - x0, y - y0
    density = points_px.new_zeros(gh * gw)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = x0.long() + dx, y0.long() + dy
        inside = (xi >= 0) & (xi < gw) & (yi >= 0) & (yi < gh)
        density = density.index_add(0, (yi * gw + xi)[inside], wgt[inside])
    k = _gaussian_kernel(sigma, points_px.device, points_px.dtype)
    img = density.view(1, 1, gh, gw)
    img = F.conv2d(F.pad(img, (len(k) // 2, len(k) // 2, 0, 0)), k.view(1, 1, 1, -1))
    img = F.conv2d(F.pad(img, (0, 0, len(k) // 2, len(k) // 2)), k.view(1, 1, -1, 1))
    return img[0, 0]


def soft_silhouette(points_px: torch.Tensor, width: int, height: int, grid: tuple[int, int], level: float
                    ) -> torch.Tensor:
    """Soft coverage in 0..1 on the grid [gh, gw]; ``level`` is the density that counts as about 63 % covered."""
    return 1.0 - torch.exp(-splat_density(points_px, width, height, grid) / level)


def soft_iou_loss(alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU of two coverage maps [H, W] in 0..1."""
    inter = (alpha * target).sum()
    union = (alpha + target - alpha * target).sum().clamp(min=1e-6)
    return 1.0 - inter / union


def hard_silhouette(vertices_px: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """Exact coverage of the projected mesh. vertices_px: [V, 2]; faces: [F, 3] → [H, W] bool."""
    import cv2

    shift = 4
    pts = np.round(vertices_px * (1 << shift) - (1 << (shift - 1))).astype(np.int32)  # pixel centres at +0.5
    tris = pts[faces]
    keep = (np.abs(tris) < (1 << 28)).all(axis=(1, 2))
    out = np.zeros((height, width), np.uint8)
    for tri in tris[keep]:  # one call per triangle: fillPoly on many polygons fills by the even-odd rule
        cv2.fillConvexPoly(out, tri, 1, lineType=cv2.LINE_8, shift=shift)
    return out.astype(bool)


def downsample_mask(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Area-average a [H, W] 0..1 mask onto a (gw, gh) grid → [gh, gw] float32."""
    import cv2

    return cv2.resize(mask.astype(np.float32), grid, interpolation=cv2.INTER_AREA)
