"""Reference rasterizer in plain torch: differentiable by autograd, any device and float dtype.

It reproduces gsplat 1.5.3's "classic" 3DGS forward pass (``ProjectionEWA3DGSFused.cu`` and
``RasterizeToPixels3DGSFwd.cu``) step by step, so it can serve as the parity oracle; the module docstring of
:mod:`talkavatar.core.splats.rasterize` lists the rules. Pixels are processed in square blocks (like gsplat's
tiles) against the Gaussians whose bounding box touches the block; blocks of similar Gaussian counts are composited
together, which bounds memory per step to about ``_GROUP_ELEMENTS`` pixel-Gaussian pairs (one block's
``block² × (its Gaussians)`` when that alone is larger).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from talkavatar.core.cameras import Cameras
from talkavatar.core.rotations import quaternion_to_matrix
from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.settings import RasterSettings

ALPHA_THRESHOLD = 1.0 / 255.0  # a Gaussian whose alpha at a pixel is below this is skipped there
MAX_ALPHA = 0.999  # alpha is clamped to this, so one Gaussian never makes a pixel fully opaque
MIN_TRANSMITTANCE = 1e-4  # a pixel stops before the Gaussian that would take its transmittance to <= this
BBOX_SIGMAS = 3.33  # upper bound of the bounding-box extent in standard deviations
FOV_CLAMP = 0.3  # the Jacobian is evaluated at most 0.3 half-fields-of-view beyond the image border


@dataclass(frozen=True)
class Projected:
    """Gaussians projected into C cameras (the intermediate gsplat calls "fully fused projection").

    means2d: [C, N, 2] pixel coordinates; conics: [C, N, 3] upper triangle (a, b, c) of the inverse 2D
    covariance; depths: [C, N] camera-space z; opacities: [C, N]; radii: [C, N, 2] integer bounding-box
    half-sizes in pixels, 0 where culled; colors: [C, N, 3].
    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    opacities: Tensor
    radii: Tensor
    colors: Tensor


def project(gaussians: Gaussians, cameras: Cameras, settings: RasterSettings) -> Projected:
    """EWA projection of every Gaussian into every camera, with gsplat's culling rules."""
    C, W, H = cameras.count, cameras.width, cameras.height
    g = gaussians
    R_g = quaternion_to_matrix(g.quats)  # normalises, as gsplat does
    M = R_g * torch.exp(g.log_scales)[..., None, :]
    cov_world = M @ M.transpose(-1, -2)  # [(C,) N, 3, 3]
    means = g.means if g.means.dim() == 3 else g.means[None]

    R = cameras.world_to_camera[:, None, :3, :3]  # [C, 1, 3, 3]
    t = cameras.world_to_camera[:, None, :3, 3]  # [C, 1, 3]
    mean_c = (R @ means[..., None])[..., 0] + t  # [C, N, 3]
    cov_c = R @ cov_world @ R.transpose(-1, -2)  # [C, N, 3, 3]

    fx, fy = cameras.K[:, 0, 0, None], cameras.K[:, 1, 1, None]  # [C, 1]
    cx, cy = cameras.K[:, 0, 2, None], cameras.K[:, 1, 2, None]
    x, y, z = mean_c.unbind(-1)  # [C, N]
    tan_fovx, tan_fovy = 0.5 * W / fx, 0.5 * H / fy
    lim_x_pos, lim_x_neg = (W - cx) / fx + FOV_CLAMP * tan_fovx, cx / fx + FOV_CLAMP * tan_fovx
    lim_y_pos, lim_y_neg = (H - cy) / fy + FOV_CLAMP * tan_fovy, cy / fy + FOV_CLAMP * tan_fovy
    in_front = z >= settings.near_plane
    z_safe = torch.where(in_front, z, torch.ones_like(z))  # culled Gaussians must not poison gradients
    rz = 1.0 / z_safe
    tx = z_safe * torch.minimum(lim_x_pos, torch.maximum(-lim_x_neg, x * rz))
    ty = z_safe * torch.minimum(lim_y_pos, torch.maximum(-lim_y_neg, y * rz))
    zero = torch.zeros_like(z)
    J = torch.stack([fx * rz, zero, -fx * tx * rz * rz, zero, fy * rz, -fy * ty * rz * rz],
                    dim=-1).reshape(C, -1, 2, 3)
    cov2d = J @ cov_c @ J.transpose(-1, -2)  # [C, N, 2, 2]
    means2d = torch.stack([fx * x * rz + cx, fy * y * rz + cy], dim=-1)

    a = cov2d[..., 0, 0] + settings.eps2d
    b = cov2d[..., 0, 1]
    c = cov2d[..., 1, 1] + settings.eps2d
    det = a * c - b * b
    det_ok = det > 0
    det_safe = torch.where(det_ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)

    opacities = torch.sigmoid(g.opacity_logit).expand(C, -1)
    colors = g.rgb.expand(C, -1, -1)
    with torch.no_grad():
        op = opacities.detach()
        valid = in_front & (z <= settings.far_plane) & det_ok & (op >= ALPHA_THRESHOLD)
        extend = torch.clamp(torch.sqrt(2.0 * torch.log(op.clamp_min(ALPHA_THRESHOLD) / ALPHA_THRESHOLD)),
                             max=BBOX_SIGMAS)
        rx = torch.ceil(extend * torch.sqrt(a.detach().clamp_min(0)))
        ry = torch.ceil(extend * torch.sqrt(c.detach().clamp_min(0)))
        m = means2d.detach()
        inside = (m[..., 0] + rx > 0) & (m[..., 0] - rx < W) & (m[..., 1] + ry > 0) & (m[..., 1] - ry < H)
        valid &= inside & ((rx > 0) | (ry > 0))
        radii = torch.stack([rx, ry], dim=-1).where(valid[..., None], torch.zeros_like(m)).to(torch.int32)
    return Projected(means2d, conics, z, opacities, radii, colors)


def composite(p: Projected, camera: int, width: int, height: int, background: Tensor,
              block: int = 16) -> tuple[Tensor, Tensor, Tensor]:
    """Front-to-back alpha compositing of one camera's projected Gaussians.

    Blocks are composited in groups of similar Gaussian counts (few, large tensor operations rather than many small
    ones: each operation costs a thread synchronisation, which is slow on a busy machine).
    background: [3]. Returns rgb [H, W, 3], alpha [H, W, 1], depth [H, W, 1] (expected depth).
    """
    visible = (p.radii[camera] > 0).all(-1).nonzero()[:, 0]
    order = torch.sort(p.depths[camera, visible].detach(), stable=True).indices
    ids = visible[order]  # visible Gaussians, nearest first (ties keep index order, like gsplat's radix sort)
    front = _Front(p.means2d[camera, ids], p.conics[camera, ids], p.opacities[camera, ids], p.depths[camera, ids],
                   p.colors[camera, ids])
    cols, rows = -(-width // block), -(-height // block)
    touching, counts = _touching(front.means2d.detach(), p.radii[camera, ids], width, height, block)
    by_count = torch.argsort(counts, stable=True)
    starts = torch.cumsum(counts, 0) - counts  # where each block's Gaussians begin in ``touching``
    parts, n = [], counts[by_count].tolist()
    first = 0
    while first < len(n):
        last = first + 1  # sorted by count, so a group's widest block is its last
        while last < len(n) and (last + 1 - first) * block * block * n[last] <= _GROUP_ELEMENTS:
            last += 1
        group = by_count[first:last]
        parts.append(_composite_blocks(front, touching, starts[group], counts[group], group // cols, group % cols,
                                       block, background))
        first = last
    unsorted = torch.argsort(by_count)
    image = [torch.cat(field)[unsorted].reshape(rows, cols, block, block, -1).transpose(1, 2)
             .reshape(rows * block, cols * block, -1)[:height, :width] for field in zip(*parts)]
    return tuple(image)


@dataclass(frozen=True)
class _Front:
    """One camera's visible Gaussians [G, ...] in depth order."""

    means2d: Tensor
    conics: Tensor
    opac: Tensor
    depth: Tensor
    colors: Tensor


_GROUP_ELEMENTS = 1 << 19  # pixels × Gaussians composited in one step (2 MB per float32 tensor: cache-sized)


def _touching(means2d: Tensor, radii: Tensor, width: int, height: int, block: int) -> tuple[Tensor, Tensor]:
    """Which Gaussians' bounding boxes touch which blocks (gsplat's tile intersection).

    means2d: [G, 2]; radii: [G, 2]. Returns the touching Gaussians' indices [K], block after block (row-major), each
    block's in depth order, and the count per block [rows · cols].
    """
    lo, hi = means2d - radii.to(means2d.dtype), means2d + radii.to(means2d.dtype)
    x0 = torch.arange(0, width, block, device=means2d.device)
    x1 = torch.clamp_max(x0 + block, width)
    found, counts = [], []
    for y0 in range(0, height, block):
        y1 = min(y0 + block, height)
        touch = ((hi[None, :, 0] >= x0[:, None]) & (lo[None, :, 0] <= x1[:, None])
                 & (hi[None, :, 1] >= y0) & (lo[None, :, 1] <= y1))  # [cols, G]
        found.append(touch.nonzero()[:, 1])
        counts.append(touch.sum(1))
    return torch.cat(found), torch.cat(counts)


def _composite_blocks(front: _Front, touching: Tensor, starts: Tensor, counts: Tensor, rows: Tensor, cols: Tensor,
                      block: int, background: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """B blocks (at block row ``rows`` [B], column ``cols`` [B]), each against its ``counts`` [B] Gaussians found at
    ``starts`` [B] in ``touching``. Returns rgb [B, block, block, 3], alpha and depth [B, block, block, 1] (pixels
    past the image border are computed and cut by the caller)."""
    dtype, device = front.means2d.dtype, front.means2d.device
    B, most = counts.shape[0], int(counts.max()) if counts.numel() else 0
    slot = torch.arange(most, device=device)
    real = slot < counts[:, None]  # [B, most]
    ids = touching[torch.where(real, starts[:, None] + slot, 0).clamp_max(max(touching.shape[0] - 1, 0))] \
        if touching.numel() else torch.zeros(B, most, dtype=torch.long, device=device)
    means2d, conics, opac = front.means2d[ids], front.conics[ids], front.opac[ids]  # [B, most, ...]
    offsets = torch.arange(block, dtype=dtype, device=device) + 0.5
    py = (rows[:, None].to(dtype) * block + offsets)[:, :, None].expand(B, block, block).reshape(B, -1, 1)
    px = (cols[:, None].to(dtype) * block + offsets)[:, None, :].expand(B, block, block).reshape(B, -1, 1)
    dx, dy = means2d[:, None, :, 0] - px, means2d[:, None, :, 1] - py  # [B, P, most]
    a, b, c = (conics[:, None, :, k] for k in range(3))
    sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
    alpha = torch.clamp_max(opac[:, None] * torch.exp(-sigma.clamp_min(0)), MAX_ALPHA)
    keep = (sigma >= 0) & (alpha >= ALPHA_THRESHOLD) & real[:, None]
    alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
    with torch.no_grad():  # a pixel is done before the Gaussian that takes T to <= 1e-4 (T only falls)
        alive = torch.cumprod(1 - alpha.detach(), dim=-1) > MIN_TRANSMITTANCE
    alpha = torch.where(alive, alpha, torch.zeros_like(alpha))
    one_minus = 1 - alpha
    T_before = torch.cumprod(torch.cat([torch.ones_like(one_minus[..., :1]), one_minus[..., :-1]], dim=-1), dim=-1)
    weights = alpha * T_before  # [B, P, most]
    T_final = T_before[..., -1] * one_minus[..., -1] if most else torch.ones(B, block * block, dtype=dtype,
                                                                              device=device)
    rgb = weights @ front.colors[ids] + T_final[..., None] * background  # [B, P, 3]
    acc_alpha = 1 - T_final
    exp_depth = (weights @ front.depth[ids][..., None]) / acc_alpha[..., None].clamp_min(1e-10)
    return tuple(x.reshape(B, block, block, -1) for x in (rgb, acc_alpha[..., None], exp_depth))


def render(gaussians: Gaussians, cameras: Cameras, background: Tensor, settings: RasterSettings,
           block: int = 16) -> tuple[Tensor, Tensor, Tensor]:
    """rgb [C, H, W, 3], alpha [C, H, W, 1], depth [C, H, W, 1]; background: [C, 3]."""
    p = project(gaussians, cameras, settings)
    outs = [composite(p, c, cameras.width, cameras.height, background[c], block) for c in range(cameras.count)]
    rgb, alpha, depth = (torch.stack(parts) for parts in zip(*outs))
    return rgb, alpha, depth

