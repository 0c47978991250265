"""Inverse texture mapping: the photo's colours onto the avatar's UV map through the fitted camera.

Every texel of the ``R x R`` UV map is a point of the posed proxy surface (:class:`~talkavatar.core.binding.Binding`).
It takes the photo's colour where it projects if it is visible there: in front of the z-buffer of the posed proxy
(within ``depth_tolerance``), inside the person mask, facing the camera. Its confidence is the cosine between its
normal and the view ray, faded to 5 % of it within ``edge_pixels`` of the mask edge (colours there mix in the
background; completion may replace them by more confident ones). The proxy is fitted to reach a little beyond the
mask's outline (:mod:`proxy`): texels that project outside the mask take the colour of the nearest pixel at least
``edge_pixels`` inside it, at the faded confidence, so the outline carries no background colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

from talkavatar.core.binding import Binding
from talkavatar.core.cameras import Cameras
from talkavatar.pseudo.mesh import face_normals
from talkavatar.pseudo.raster import rasterize_mesh

EDGE_PIXELS = 3.0  # the mask's edge band (pixels) whose colours mix in the background: faded, and snapped past


@dataclass(frozen=True)
class ProjectedTexture:
    """Per texel of ``binding``: rgb [N, 3] (the image's values, 0 where unseen), confidence [N] in 0..1
    (0 = unseen), pixel [N, 2] where it projects."""

    rgb: torch.Tensor
    confidence: torch.Tensor
    pixel: torch.Tensor

    @property
    def seen(self) -> torch.Tensor:
        return self.confidence > 0


def project_texture(posed_vertices: torch.Tensor, faces: torch.Tensor, binding: Binding, camera: Cameras,
                    image: torch.Tensor, mask: np.ndarray, depth_tolerance: float = 0.015,
                    min_cosine: float = 0.1, edge_pixels: float = EDGE_PIXELS, raster_device="cpu",
                    inner: np.ndarray | None = None) -> ProjectedTexture:
    """posed_vertices: [V, 3] world; camera: one camera of the image's size; image: [H, W, 3] float;
    mask: [H, W] bool person mask; ``raster_device``: where the z-buffer is drawn (:mod:`raster`); ``inner``: the
    mask's :func:`inner_pixels` at ``edge_pixels`` when already made."""
    h, w = image.shape[:2]
    pixels, depth = camera.project(posed_vertices)
    frags = rasterize_mesh(pixels[0].to(raster_device), depth[0].to(raster_device), faces.to(raster_device), w,
                           h).to(posed_vertices.device)
    points = binding.surface_points(posed_vertices[None], faces)[0]
    tpix, tdepth = camera.project(points)
    tpix, tdepth = tpix[0], tdepth[0]
    inside = (tpix[:, 0] >= 0) & (tpix[:, 0] < w) & (tpix[:, 1] >= 0) & (tpix[:, 1] < h) & (tdepth > 0)
    col = tpix[:, 0].floor().long().clamp(0, w - 1)
    row = tpix[:, 1].floor().long().clamp(0, h - 1)
    zbuf = frags.depth[row, col]
    visible = inside & (tdepth <= zbuf + depth_tolerance)
    normals = face_normals(posed_vertices, faces)[binding.face_index]
    ray = points - camera.centers[0]
    cosine = -(normals * ray / ray.norm(dim=-1, keepdim=True)).sum(-1)
    edge = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    edge_weight = torch.from_numpy(np.clip(edge / edge_pixels, 0, 1)).to(points)[row, col]
    confidence = torch.where(visible & (cosine > min_cosine), cosine.clamp(0, 1) * edge_weight.clamp_min(0.05),
                             torch.zeros_like(cosine))
    sample = tpix.clone()
    snap = ~torch.from_numpy(mask)[row, col] & (confidence > 0)
    if snap.any() and mask.any():
        inner = inner_pixels(mask, edge_pixels) if inner is None else inner
        r, c = row[snap].numpy(), col[snap].numpy()
        sample[snap] = torch.from_numpy(np.stack([inner[1, r, c], inner[0, r, c]], -1) + 0.5).to(sample)
    grid = torch.stack([sample[:, 0] / w * 2 - 1, sample[:, 1] / h * 2 - 1], -1)[None, None].to(image.dtype)
    rgb = F.grid_sample(image.permute(2, 0, 1)[None], grid, mode="bilinear", padding_mode="border",
                        align_corners=False)[0, :, 0].T
    rgb = torch.where((confidence > 0)[:, None], rgb, torch.zeros_like(rgb))
    return ProjectedTexture(rgb, confidence, tpix)


def inner_pixels(mask: np.ndarray, depth: float) -> np.ndarray:
    """[2, H, W] int: for each pixel the (row, col) of the mask pixel at least ``depth`` pixels inside ``mask`` [H, W]
    bool nearest to it (of the plain mask where it is thinner than that)."""
    inner = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) >= depth
    if not inner.any():
        inner = mask
    return distance_transform_edt(~inner, return_distances=False, return_indices=True)


def texels_to_image(values: torch.Tensor, binding: Binding, fill: float = 0.0) -> torch.Tensor:
    """Per-texel values [N, C] -> UV image [R, R, C] (row 0 at v = 1); texels bound twice keep the last."""
    out = values.new_full((binding.uv_res, binding.uv_res, values.shape[1]), fill)
    out[binding.texel[:, 1], binding.texel[:, 0]] = values
    return out
