"""The gsplat (CUDA) backend: the only module of talkavatar that imports gsplat.

Conventions are converted here, once: our ``log_scales`` / ``opacity_logit`` become gsplat's activated ``scales``
/ ``opacities``; cameras need no change (gsplat is OpenCV with +0.5 pixel centres, like us); per-camera posed
Gaussians [C, N, ...] become gsplat batch dimensions (one camera per batch entry). gsplat renders "RGB+ED"; the
last channel is the expected depth. gsplat computes in float32 only. The background is composited here
(``rgb + (1 - alpha) · background``, what gsplat's kernel does with ``T = 1 - alpha``): gsplat 1.5.3 rejects
per-image backgrounds in packed mode. Without depth (``render(depth=False)``) gsplat renders "RGB".
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats.gaussians import Gaussians
from talkavatar.core.splats.settings import RasterSettings

GSPLAT_VERSION = "1.5.3"

# gsplat's tile edge in pixels (its rasterization()'s default; the fit's). Any size draws the same image: a Gaussian
# left out of a pixel's tile has its box (gsplat's radii: the opacity-aware 1/255 contour's axis extents, rounded up)
# at least half a pixel from the pixel's centre, where its alpha is below the 1/255 the raster skips (its exponent
# past the threshold's by >= e / 2s + 1 / 8s², e the extent in standard deviations, s the standard deviation in
# pixels: far above float rounding); the Gaussians that count keep their depth order. Smaller tiles split a dense
# tile's list over more thread blocks (render's small frames, where a few tiles on the face hold most pairs:
# render.frames.TILE_SIZE).
TILE_SIZE = 16

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
    same numbers as a zero background without its operations, forward and backward); tile_size: gsplat's tile edge
    in pixels (:data:`TILE_SIZE`: the same image for any size)."""
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
