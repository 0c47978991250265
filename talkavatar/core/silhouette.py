"""Silhouettes of the posed mesh: a soft, differentiable one for fitting and an exact hard one for measuring.

There is no mesh rasterizer here (no pytorch3d), so the soft silhouette splats points spread uniformly over the
mesh surface (fixed barycentric samples, area-weighted) bilinearly onto a coarse grid, blurs the density with a
small Gaussian and saturates it: ``alpha = 1 - exp(-density / level)``. Gradients reach the vertices through the
bilinear weights. The density grows when the mesh shrinks, so an IoU against this soft silhouette rewards a mesh
slightly smaller than the mask: good enough to place a body (track), not to hold a fitted surface on the person's
outline. :class:`SilhouetteChamfer` does that: a two-sided 2D chamfer distance between the projected surface
samples and the mask, which is zero exactly when the samples fill the mask out to its outline. The hard silhouette
fills every projected triangle (OpenCV) at full resolution.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from talkavatar.core.gather import gather


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
    corners = gather(vertices, faces[face_index], -2)  # [..., S, 3, 3]
    return (corners * bary[..., None]).sum(-2)


def _gaussian_kernel(sigma: float, device, dtype) -> torch.Tensor:
    radius = max(1, math.ceil(2.5 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def splat_density(points_px: torch.Tensor, width: int, height: int, grid: tuple[int, int], sigma: float = 0.8
                  ) -> torch.Tensor:
    """Blurred count of points per grid cell. points_px: [N, 2] in image pixels; grid: (gw, gh) cells over the
    image → [gh, gw]. Points outside the image are dropped; differentiable in the point positions. Each point's
    bilinear weights are added into its four cells and the grid is blurred by a separable Gaussian
    (:func:`_splat_sums`; on CUDA the same as matrix products, :func:`_splat_products`)."""
    gw, gh = grid
    x = points_px[:, 0] * (gw / width) - 0.5
    y = points_px[:, 1] * (gh / height) - 0.5
    x0, y0 = torch.floor(x).detach(), torch.floor(y).detach()
    splat = _splat_products if points_px.is_cuda else _splat_sums
    return splat(x0, y0, x - x0, y - y0, gw, gh, _gaussian_kernel(sigma, points_px.device, points_px.dtype))


def _splat_sums(x0: torch.Tensor, y0: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor, gw: int, gh: int,
                k: torch.Tensor) -> torch.Tensor:
    """The splat (the reference): ``x0``, ``y0`` [N] each point's lower cell (floats of whole numbers), ``fx``,
    ``fy`` [N] its offsets from them in cells, ``k`` [2r + 1] the blur's kernel -> [gh, gw]. The bilinear weights are
    added into the cells by ``index_add``, the grid blurred by ``F.conv2d`` of the zero-padded grid."""
    density = fx.new_zeros(gh * gw)
    xl, yl = x0.long(), y0.long()
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = xl + dx, yl + dy
        inside = (xi >= 0) & (xi < gw) & (yi >= 0) & (yi < gh)
        # outside points add an exact 0 at cell 0 (masked, not indexed: the same sums, ~30 % faster)
        density = density.index_add(0, torch.where(inside, yi * gw + xi, 0), wgt * inside)
    img = density.view(1, 1, gh, gw)
    img = F.conv2d(F.pad(img, (len(k) // 2, len(k) // 2, 0, 0)), k.view(1, 1, 1, -1))
    img = F.conv2d(F.pad(img, (0, 0, len(k) // 2, len(k) // 2)), k.view(1, 1, -1, 1))
    return img[0, 0]


def _splat_products(x0: torch.Tensor, y0: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor, gw: int, gh: int,
                    k: torch.Tensor) -> torch.Tensor:
    """:func:`_splat_sums` as matrix products: a bilinear weight is a row weight times a column weight, so the grid
    is ``rows^T @ columns`` with each point's two row weights [N, gh] and two column weights [N, gw] (a cell outside
    the grid matches no row or column: dropped), and the blur is a banded matrix on each side (:func:`_banded`). No
    scatter: on CUDA no atomics (the same sums every run) and nothing that reads indices back to the host (torch's
    deterministic ``index_add`` does, at every call); no cuDNN. So a fit step can be replayed from a CUDA graph. The
    same sums up to rounding."""
    columns = torch.arange(gw, dtype=fx.dtype, device=fx.device)
    rows = torch.arange(gh, dtype=fy.dtype, device=fy.device)
    across = (columns == x0[:, None]) * (1 - fx)[:, None] + (columns == x0[:, None] + 1) * fx[:, None]
    down = (rows == y0[:, None]) * (1 - fy)[:, None] + (rows == y0[:, None] + 1) * fy[:, None]
    return _banded(k, gh) @ (down.t() @ across) @ _banded(k, gw)


def _banded(k: torch.Tensor, n: int) -> torch.Tensor:
    """[n, n] the zero-padded convolution of a length-n axis with the symmetric kernel ``k`` [2r + 1] as a matrix:
    ``image @ _banded(k, w)`` blurs the rows of an [h, w] image, ``_banded(k, h) @ image`` its columns."""
    radius = len(k) // 2
    index = torch.arange(n, device=k.device)
    offset = index[None, :] - index[:, None] + radius  # [n, n] the tap of k that couples cells i and j
    return torch.where((offset >= 0) & (offset < len(k)), k[offset.clamp(0, len(k) - 1)], 0.0)


def soft_silhouette(points_px: torch.Tensor, width: int, height: int, grid: tuple[int, int], level: float
                    ) -> torch.Tensor:
    """Soft coverage in 0..1 on the grid [gh, gw]; ``level`` is the density that counts as about 63 % covered."""
    return 1.0 - torch.exp(-splat_density(points_px, width, height, grid) / level)


def soft_iou_loss(alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU of two coverage maps [H, W] in 0..1."""
    inter = (alpha * target).sum()
    union = (alpha + target - alpha * target).sum().clamp(min=1e-6)
    return 1.0 - inter / union


class SilhouetteChamfer:
    """A mask's outline as a target for projected surface points (image pixels, [N, 2]).

    ``loss(points)`` = (the area the points cover outside the mask, each weighted by its distance to the mask, per
    outline pixel: d^2 / 2 for a surface d px too large all round) + (mean distance from each outline pixel of the
    mask to its nearest point: d for a surface d px too small); both in pixels. A point stands for the mask area
    divided by the number of points inside the mask. Outline pixels on the image border are left out (there the
    person goes on beyond the frame), and so are points outside the image (the mask says nothing there).
    mask: [H, W] 0..1 (> 0.5 is the person).
    """

    def __init__(self, mask: torch.Tensor, max_outline: int = 2000):
        person = (mask.detach().cpu().numpy() > 0.5).astype(np.uint8)
        self.height, self.width = person.shape
        # on the mask's device: a tensor made from Python numbers per call is a host-to-device copy and a sync
        self.size = torch.tensor([self.width, self.height], dtype=mask.dtype).to(mask.device)
        self.area = max(int(person.sum()), 1)
        outside = cv2.distanceTransform(1 - person, cv2.DIST_L2, 5)  # px to the nearest person pixel
        self.outside = torch.from_numpy(outside).to(mask.device, mask.dtype)[None, None]
        edge = person - cv2.erode(person, np.ones((3, 3), np.uint8))
        edge[[0, -1], :] = 0
        edge[:, [0, -1]] = 0
        ys, xs = np.nonzero(edge)
        self.outline_length = max(len(xs), 1)
        keep = np.linspace(0, len(xs) - 1, min(len(xs), max_outline)).round().astype(int) if len(xs) else []
        outline = np.stack([xs[keep], ys[keep]], -1).astype(np.float32) + 0.5  # pixel centres
        self.outline = torch.from_numpy(outline.reshape(-1, 2)).to(mask.device, mask.dtype)

    def loss(self, points_px: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        """Scalar, differentiable in ``points_px`` [N, 2]."""
        size = self.size.to(points_px.dtype)
        inside = ((points_px >= 0) & (points_px < size)).all(-1)
        grid = (points_px / size * 2 - 1).view(1, 1, -1, 2)  # align_corners=False: pixel edges at +-1
        beyond = F.grid_sample(self.outside, grid, mode="bilinear", padding_mode="border",
                               align_corners=False)[0, 0, 0] * inside  # masked, not indexed: no host sync per step
        in_mask = ((beyond.detach() == 0) & inside).sum().clamp_min(1)
        to_mask = beyond.sum() * (self.area / in_mask) / self.outline_length
        if not len(self.outline):
            return to_mask
        nearest = nearest_points(self.outline, points_px.detach(), chunk)
        to_points = (self.outline - points_px[nearest]).norm(dim=-1).mean()
        return to_mask + to_points


def nearest_points(queries: torch.Tensor, points: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Index of the nearest of ``points`` [N, 2] for each of ``queries`` [M, 2] -> [M] (long). On the CPU a k-d tree
    (scipy: ~10x faster than distances to every point); elsewhere (or with non-finite points) distances in chunks of
    ``chunk`` queries (no [M, N] matrix kept, no host synchronisation)."""
    if points.device.type == "cpu" and len(points) and bool(torch.isfinite(points).all()):
        from scipy.spatial import cKDTree  # here, not at the top: scipy.spatial costs every track process ~0.4 s

        return torch.from_numpy(cKDTree(points.numpy()).query(queries.numpy())[1]).long()
    return torch.cat([torch.cdist(q, points).argmin(-1) for q in queries.split(chunk)])


def hard_silhouette(vertices_px: np.ndarray, faces: np.ndarray, width: int, height: int) -> np.ndarray:
    """Exact coverage of the projected mesh. vertices_px: [V, 2]; faces: [F, 3] → [H, W] bool."""
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
    return cv2.resize(mask.astype(np.float32), grid, interpolation=cv2.INTER_AREA)
