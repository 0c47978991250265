"""A small triangle rasterizer in torch (z-buffer): which triangle, at which barycentrics, is nearest at each pixel.

Used for visibility (inverse texture mapping), silhouettes and proxy fitting; not differentiable and not needed to
be: the pseudo stage renders its frames with Gaussians (:func:`talkavatar.core.splats.rasterize`).

Pixel centres at +0.5 (bundle convention). Every triangle tests the pixels of its bounding box in batched steps: on a
GPU all triangles at once (a step per ``chunk`` candidate pixels: a 512² z-buffer 2.8 ms on an H100, 32.6 ms as
~35 size groups of ~40 small steps each), on the CPU grouped by power-of-two box size (no per-pixel gathers); the
nearest triangle wins per pixel (ties: the lower triangle index).
Plain torch on any device: the pseudo stage draws its proxy and texture z-buffers on its own device (the CPU path is
the reference; ``tests/test_pseudo_texture.py`` compares the two on CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Fragments:
    """face: [H, W] int64 (-1: empty); barycentrics: [H, W, 3]; depth: [H, W] camera z (inf where empty)."""

    face: torch.Tensor
    barycentrics: torch.Tensor
    depth: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        return self.face >= 0

    def to(self, device) -> "Fragments":
        return Fragments(self.face.to(device), self.barycentrics.to(device), self.depth.to(device))


def rasterize_mesh(pixels: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, width: int, height: int,
                   near: float = 1e-3, cull_back: bool = False, chunk: int = 4_000_000,
                   exact_boxes: bool | None = None) -> Fragments:
    """Rasterize triangles given projected vertices.

    pixels: [V, 2] pixel coordinates; depth: [V] camera z (triangles with a corner at z <= ``near`` are skipped);
    faces: [F, 3] int64, counter-clockwise seen from outside; ``cull_back`` drops triangles seen from behind (right
    for closed surfaces). Barycentrics are screen-space (exact for the face id and depth test at this scale).
    ``exact_boxes``: every triangle tests its own bounding box, all in one step (:func:`_exact_boxes`; default on a
    GPU), or triangles grouped by padded box sizes (:func:`_padded_boxes`; default on the CPU): the same pixels
    and values either way, only the work's schedule differs.
    """
    dev = pixels.device
    pixels, depth = pixels.float(), depth.float()
    tri = pixels[faces]  # [F, 3, 2]
    z = depth[faces]  # [F, 3]
    lo = torch.floor(tri.min(1).values - 0.5).clamp(min=0)
    hi = torch.ceil(tri.max(1).values - 0.5)
    hi[:, 0].clamp_(max=width - 1)
    hi[:, 1].clamp_(max=height - 1)
    size = (hi - lo + 1).clamp(min=0)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = (z.min(1).values > near) & (size > 0).all(1) & (area.abs() > 1e-12)
    if cull_back:  # image y points down: a triangle facing the camera has negative signed area here
        ok &= area < 0
    zbuf = torch.full((height * width,), float("inf"), dtype=torch.float32, device=dev)
    fbuf = torch.full((height * width,), -1, dtype=torch.int64, device=dev)
    bbuf = torch.zeros(height * width, 3, dtype=torch.float32, device=dev)
    sel = torch.nonzero(ok).squeeze(1)
    exact = dev.type != "cpu" if exact_boxes is None else exact_boxes
    groups = _exact_boxes(sel, size, chunk) if exact else _padded_boxes(sel, size, chunk)
    candidates = [_candidates(group, box, lo, tri, z, area, width, height) for group, box in groups]
    if not candidates:
        return Fragments(fbuf.view(height, width), bbuf.view(height, width, 3), zbuf.view(height, width))
    pix = torch.cat([c[0] for c in candidates])
    fid = torch.cat([c[1] for c in candidates])
    bary = torch.cat([c[2] for c in candidates])
    zc = torch.cat([c[3] for c in candidates])
    zbuf.scatter_reduce_(0, pix, zc, reduce="amin")
    win = zc <= zbuf[pix]
    pix, fid, bary = pix[win], fid[win], bary[win]
    first = torch.full((height * width,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=dev)
    first.scatter_reduce_(0, pix, fid, reduce="amin")
    keep = fid == first[pix]
    fbuf[pix[keep]] = fid[keep]
    bbuf[pix[keep]] = bary[keep]
    zbuf[fbuf < 0] = float("inf")
    return Fragments(fbuf.view(height, width), bbuf.view(height, width, 3), zbuf.view(height, width))


def _exact_boxes(sel: torch.Tensor, size: torch.Tensor, chunk: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Triangles ``sel`` with their own bounding boxes [T, 2] (width, height), in a few groups of about ``chunk``
    candidate pixels: few steps, for a GPU (its time goes to launching steps, not to the pixels)."""
    box = size[sel].long()
    ends = torch.cumsum(box[:, 0] * box[:, 1], 0).cpu()  # candidates of the triangles sel[:i + 1]
    total = int(ends[-1]) if len(ends) else 0
    starts = torch.searchsorted(ends, torch.arange(1, total // chunk + 1) * chunk, right=True).tolist()
    bounds = sorted({0, len(sel), *starts})
    return [(sel[a:b], box[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _padded_boxes(sel: torch.Tensor, size: torch.Tensor, chunk: int) -> list[tuple[torch.Tensor, tuple[int, int]]]:
    """Triangles ``sel`` grouped by their bounding box's power-of-two width and height (sx, sy), each group's boxes
    padded to that: more candidate pixels (~2x) but no per-pixel gathers, for a CPU (its time goes to the pixels)."""
    level = torch.ceil(torch.log2(size[sel].clamp(min=1))).long()
    bucket = level[:, 0] * 64 + level[:, 1]
    groups = []
    for b in torch.unique(bucket).tolist():
        sx, sy = 1 << (b // 64), 1 << (b % 64)
        members = sel[bucket == b]
        per = max(1, chunk // (sx * sy))
        groups += [(members[start:start + per], (sx, sy)) for start in range(0, len(members), per)]
    return groups


def _candidates(sel, box, lo, tri, z, area, width, height):
    """Pixels of the boxes of triangles ``sel`` [T] (from ``lo``; ``box``: (sx, sy) pixels wide and high for all,
    or [T, 2] each its own) that fall inside their triangle: (flat pixel index, face, barycentrics, depth). Edge
    functions are affine in the pixel: w = a x + b y + c."""
    dev = tri.device
    if isinstance(box, tuple):  # [1, S] offsets shared by every box, per-triangle values broadcast along them
        sx, sy = box
        oy, ox = torch.meshgrid(torch.arange(sy, device=dev, dtype=tri.dtype),
                                torch.arange(sx, device=dev, dtype=tri.dtype), indexing="ij")
        ox, oy = ox.reshape(1, -1), oy.reshape(1, -1)

        def spread(v):
            return v[:, None]
    else:  # [C] candidates, each with its triangle n and its offsets
        count = box[:, 0] * box[:, 1]
        n = torch.repeat_interleave(torch.arange(len(sel), device=dev), count)
        first = (torch.cumsum(count, 0) - count).int()
        k = torch.arange(len(n), device=dev, dtype=torch.int32) - first[n]  # its place in the box, row-major
        box_w = box[:, 0].int()[n]
        row = torch.div(k, box_w, rounding_mode="floor")
        ox, oy = (k - row * box_w).to(tri.dtype), row.to(tri.dtype)

        def spread(v):
            return v[n]
    t = tri[sel]
    inv = 1.0 / area[sel]
    x0, y0 = lo[sel, 0], lo[sel, 1]
    weights = []
    for i, j in ((1, 2), (2, 0)):  # w0 from edge 1-2, w1 from edge 2-0 (relative to the box corner x0, y0)
        a = (t[:, i, 1] - t[:, j, 1]) * inv
        b = (t[:, j, 0] - t[:, i, 0]) * inv
        c = ((t[:, i, 0] - x0 - 0.5) * (t[:, j, 1] - y0 - 0.5)
             - (t[:, i, 1] - y0 - 0.5) * (t[:, j, 0] - x0 - 0.5)) * inv
        weights.append(spread(a) * ox + spread(b) * oy + spread(c))
    w0, w1 = weights
    eps = -1e-5  # pixels on a shared edge belong to both triangles (float32 rounding must not leave holes)
    inside = (w0 >= eps) & (w1 >= eps) & (1 - w0 - w1 >= eps)
    if isinstance(box, tuple):
        n, k = torch.nonzero(inside, as_tuple=True)
        a, b, px, py = w0[n, k], w1[n, k], x0[n] + ox[0, k], y0[n] + oy[0, k]
    else:
        k = torch.nonzero(inside).squeeze(1)
        n, a, b, px, py = n[k], w0[k], w1[k], x0[n[k]] + ox[k], y0[n[k]] + oy[k]
    seen = (px < width) & (py < height)  # boxes may reach past the image: cut here
    n, a, b, px, py = n[seen], a[seen], b[seen], px[seen], py[seen]
    bary = torch.stack([a, b, 1 - a - b], -1)
    zz = (bary * z[sel[n]]).sum(-1)
    pix = (py * width + px).long()
    return pix, sel[n], bary, zz
