"""A small triangle rasterizer in torch (z-buffer): which triangle, at which barycentrics, is nearest at each pixel.

Used for visibility (inverse texture mapping), silhouettes and proxy fitting; not differentiable and not needed to
be: the pseudo stage renders its frames with Gaussians (:func:`talkavatar.core.splats.rasterize`).

Pixel centres at +0.5 (bundle convention). Triangles are grouped by bounding-box size so that each group tests the
pixels of its boxes in one batched step; the nearest triangle wins per pixel (ties: the lower triangle index).
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


def rasterize_mesh(pixels: torch.Tensor, depth: torch.Tensor, faces: torch.Tensor, width: int, height: int,
                   near: float = 1e-3, chunk: int = 4_000_000) -> Fragments:
    """Rasterize triangles given projected vertices.

    pixels: [V, 2] pixel coordinates; depth: [V] camera z (triangles with a corner at z <= ``near`` are skipped);
    faces: [F, 3] int64. Barycentrics are screen-space (exact for the face id and depth test at this scale).
    """
    dev = pixels.device
    pixels, depth = pixels.double(), depth.double()
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
    zbuf = torch.full((height * width,), float("inf"), dtype=torch.float64, device=dev)
    fbuf = torch.full((height * width,), -1, dtype=torch.int64, device=dev)
    bbuf = torch.zeros(height * width, 3, dtype=torch.float64, device=dev)
    extent = size.max(1).values
    candidates = []
    for span in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192):
        sel = torch.nonzero(ok & (extent <= span) & (extent > span // 2 if span > 1 else extent >= 0)).squeeze(1)
        if len(sel) == 0:
            continue
        per = max(1, chunk // (span * span))
        for start in range(0, len(sel), per):
            candidates.append(_candidates(sel[start:start + per], span, lo, tri, z, area, width, height))
    if not candidates:
        return Fragments(fbuf.view(height, width), bbuf.view(height, width, 3).float(),
                         zbuf.view(height, width).float())
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
    return Fragments(fbuf.view(height, width), bbuf.view(height, width, 3).float(), zbuf.view(height, width).float())


def _candidates(sel, span, lo, tri, z, area, width, height):
    dev = tri.device
    offs = torch.arange(span, device=dev, dtype=torch.float64)
    oy, ox = torch.meshgrid(offs, offs, indexing="ij")
    px = lo[sel, 0, None] + ox.reshape(1, -1)  # [n, span²] integer pixel indices
    py = lo[sel, 1, None] + oy.reshape(1, -1)
    cx, cy = px + 0.5, py + 0.5
    t = tri[sel]
    a = area[sel, None]
    w0 = ((t[:, 1, None, 0] - cx) * (t[:, 2, None, 1] - cy) - (t[:, 1, None, 1] - cy) * (t[:, 2, None, 0] - cx)) / a
    w1 = ((t[:, 2, None, 0] - cx) * (t[:, 0, None, 1] - cy) - (t[:, 2, None, 1] - cy) * (t[:, 0, None, 0] - cx)) / a
    w2 = 1 - w0 - w1
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px < width) & (py < height)
    n, k = torch.nonzero(inside, as_tuple=True)
    bary = torch.stack([w0[n, k], w1[n, k], w2[n, k]], -1)
    zz = (bary * z[sel[n]]).sum(-1)
    pix = (py[n, k] * width + px[n, k]).long()
    return pix, sel[n], bary, zz
