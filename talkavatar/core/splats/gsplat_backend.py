"""The gsplat (CUDA) backend: the only module of talkavatar that imports gsplat.

Conventions are converted here, once: our ``log_scales`` / ``opacity_logit`` become gsplat's activated ``scales``
/ ``opacities``; cameras need no change (gsplat is OpenCV with +0.5 pixel centres, like us); per-camera posed
Gaussians [C, N, ...] become gsplat batch dimensions (one camera per batch entry). gsplat renders "RGB+ED"; the
last channel is the expected depth. gsplat computes in float32 only. The background is composited here
(``rgb + (1 - alpha) · background``, what gsplat's kernel does with ``T = 1 - alpha``): gsplat 1.5.3 rejects
per-image backgrounds in packed mode. Without depth (``render(depth=False)``) gsplat renders "RGB".

:func:`render_capturable` computes ``render(..., background=None, depth=False)`` from gsplat's kernels without its
Python wrapper or autograd functions and with the tile lists in fixed shapes (``tiles.bin_tiles``): no host
synchronisation, so a whole frame (posing, projection, binning, raster) can be replayed from one CUDA graph
(render.frames). No gradients: the fit keeps :func:`render`.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.settings import RasterSettings
from talkavatar.core.splats.tiles import TILE_SIZE, bin_tiles, grid

GSPLAT_VERSION = "1.5.3"

# gsplat's ``packed`` mode only changes memory layout, not the image. Unpacked is faster when most Gaussians are
# visible (an avatar filling the frame); see benchmarks/RESULTS.md.
PACKED = False


@functools.lru_cache(maxsize=None)
def _extension_problem() -> str | None:
    """None when gsplat imports and its CUDA extension loads (JIT-built on first use), else why not."""
    if not torch.cuda.is_available():
        return "CUDA is not available"
    try:
        import gsplat
        from gsplat.cuda._backend import _C
    except Exception as exc:  # any import/build failure means "cannot run", reported to the caller
        return f"gsplat failed to import ({type(exc).__name__}: {exc})"
    if _C is None:
        return "gsplat's CUDA extension could not be built or loaded"
    if getattr(gsplat, "__version__", GSPLAT_VERSION) != GSPLAT_VERSION:
        return f"gsplat {gsplat.__version__} is installed; talkavatar is validated against {GSPLAT_VERSION}"
    return None


def unavailable_reason(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why gsplat cannot render tensors of this device and dtype, or None when it can."""
    if device.type != "cuda":
        return f"tensors are on {device.type}, gsplat needs CUDA"
    if dtype != torch.float32:
        return f"gsplat computes in float32, tensors are {dtype}"
    return _extension_problem()


def render(gaussians: Gaussians, cameras: Cameras, background: Tensor | None, settings: RasterSettings, *,
           packed: bool | None = None, depth: bool = True,
           tile_size: int = TILE_SIZE) -> tuple[Tensor, Tensor, Tensor | None]:
    """rgb [C, H, W, 3], alpha [C, H, W, 1], depth [C, H, W, 1] (None with ``depth`` False: gsplat's "RGB" mode,
    three channels rasterized instead of four); background: [C, 3], or None for black (nothing composited: the
    same numbers as a zero background without its operations, forward and backward); tile_size: gsplat's tile
    edge in pixels (see ``tiles.TILE_SIZE``: the same image for any size)."""
    from gsplat import rasterization

    packed = PACKED if packed is None else packed
    C = cameras.count
    g = gaussians
    if g.batch_size is None:
        viewmats, Ks = cameras.world_to_camera, cameras.K
        means, quats, log_scales, logits, colors = g.means, g.quats, g.log_scales, g.opacity_logit, g.rgb
    else:  # posed per camera: batch dimension B = C, one camera per batch entry
        g = g.per_camera(C)
        viewmats, Ks = cameras.world_to_camera[:, None], cameras.K[:, None]
        means, quats, log_scales, logits, colors = g.means, g.quats, g.log_scales, g.opacity_logit, g.rgb
    out, alphas, _ = rasterization(
        means, quats, torch.exp(log_scales), torch.sigmoid(logits), colors, viewmats, Ks,
        cameras.width, cameras.height,
        near_plane=settings.near_plane, far_plane=settings.far_plane, eps2d=settings.eps2d,
        packed=packed, render_mode="RGB+ED" if depth else "RGB", rasterize_mode="classic", tile_size=tile_size,
    )
    if g.batch_size is not None:  # a view (indexing [:, 0] would cost a copy in the backward)
        out, alphas = out.squeeze(1), alphas.squeeze(1)
    rgb = out[..., :3] if depth else out
    if background is not None:
        rgb = rgb + (1 - alphas) * background[:, None, None, :]
    return rgb, alphas, out[..., 3:] if depth else None


def render_capturable(gaussians: Gaussians, cameras: Cameras, settings: RasterSettings, capacity: int,
                      tile_size: int = TILE_SIZE) -> tuple[Tensor, Tensor, Tensor]:
    """rgb [C, H, W, 3] over black, alpha [C, H, W, 1] and the number of (Gaussian, tile) pairs (int64 [] on the
    device): the numbers of ``render(gaussians, cameras, None, settings, depth=False)`` whenever that count is <=
    ``capacity`` (else pairs are missing: render again with a larger capacity). The same gsplat kernels on the same
    layouts as :func:`render`'s unpacked path (projection, raster), the tile lists from ``tiles.bin_tiles``; no host
    synchronisation and fixed shapes (capturable in a CUDA graph); no autograd. Call under ``torch.no_grad()``.
    tile_size: as :func:`render`'s."""
    from gsplat.cuda._backend import _C
    from gsplat.cuda._wrapper import _make_lazy_cuda_obj

    C, width, height = cameras.count, cameras.width, cameras.height
    g = gaussians
    if g.batch_size is None:
        viewmats, Ks = cameras.world_to_camera, cameras.K
    else:  # posed per camera, as render(): batch dimension B = C, one camera per batch entry
        g = g.per_camera(C)
        viewmats, Ks = cameras.world_to_camera[:, None], cameras.K[:, None]
    opacities = torch.sigmoid(g.opacity_logit)
    radii, means2d, depths, conics, _ = _C.projection_ewa_3dgs_fused_fwd(
        g.means.contiguous(), None, g.quats.contiguous(), torch.exp(g.log_scales).contiguous(),
        opacities.contiguous(), viewmats.contiguous(), Ks.contiguous(), width, height, settings.eps2d,
        settings.near_plane, settings.far_plane, 0.0, False, _make_lazy_cuda_obj("CameraModelType.PINHOLE"))
    images = radii.shape[:-2]  # [C] or [C, 1]: gsplat's image dimensions (batch, camera)
    n = g.count
    bins = bin_tiles(means2d, radii, depths, width, height, capacity, tile_size)
    tile_width, tile_height = grid(width, height, tile_size)
    colors = torch.broadcast_to(g.rgb[..., None, :, :], (*images, n, 3)).contiguous()
    opacities = torch.broadcast_to(opacities[..., None, :], (*images, n)).contiguous()
    rgb, alpha, _ = _C.rasterize_to_pixels_3dgs_fwd(
        means2d, conics, colors, opacities, None, None, width, height, tile_size,
        bins.offsets.reshape(*images, tile_height + 1, tile_width), bins.flatten_ids)
    if g.batch_size is not None:
        rgb, alpha = rgb.squeeze(1), alpha.squeeze(1)
    return rgb, alpha, bins.count
