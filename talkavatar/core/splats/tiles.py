"""Tile binning of projected Gaussians in fixed shapes: gsplat 1.5.3's intersection lists, without a host sync.

gsplat's ``isect_tiles`` counts the (Gaussian, tile) pairs on the GPU and reads the count back to the host to size its
lists (a host synchronisation every frame, which also stops a frame from being captured as a CUDA graph). Here the
lists have a fixed ``capacity`` chosen ahead; the count stays on the device, and a caller checks it afterwards
(``TileBins.count <= capacity``, else render again with a larger capacity).

The result is gsplat's, element for element (``flatten_ids`` up to the count; ``offsets`` on the real tiles):

* a Gaussian with both radii > 0 covers tiles ``[floor(c - r / s), ceil(c + r / s))`` per axis, ``c`` its 2D mean / s,
  clamped to the grid (s = ``tile_size``; float32 arithmetic as gsplat's kernel, which saturates to 0 where negative);
* pairs sorted by (image, tile, the depth's float32 bits as unsigned), ties kept in flattened Gaussian order (gsplat
  writes them in that order and sorts one 64-bit key with a stable radix sort; here two stable 32-bit sorts);
* ``offsets[i, t]``: the first pair of image ``i``'s tile ``t`` (the number of pairs before it).

``offsets`` carries one extra row of tiles below each image ([I, tile_height + 1, tile_width]), whose offsets all
point past the image's pairs: gsplat's raster kernel reads a tile's end from the next tile's offset, except for the
grid's very last tile, which ends at the length of ``flatten_ids`` (the capacity here). That last tile is an extra
row's; its pixels lie below the image, so the kernel's threads stop before reading any pair. The extra rows cost
one empty block per tile column.

Pure torch: runs on the CPU too (tested there against a loop over gsplat's kernels, ``tests/test_splats_tiles.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

# gsplat's default tile edge in pixels (the rasterization() wrapper's). Any size draws the same image: a Gaussian
# left out of a pixel's tile has its box (gsplat's radii: the opacity-aware 1/255 contour's extent, rounded up)
# at least half a pixel from the pixel's centre, where its alpha is below the 1/255 that the raster skips, with a
# margin far above float rounding; the Gaussians kept keep their order. Smaller tiles split a dense tile's list
# over more thread blocks (render's small frames: a few tiles on the face hold most pairs).
TILE_SIZE = 16
_PAST = torch.iinfo(torch.int32).max  # the sort key of an unused slot: after every pair


@dataclass(frozen=True)
class TileBins:
    """offsets: int32 [I, tile_height + 1, tile_width] (see the module docstring); flatten_ids: int32 [capacity],
    the Gaussian (flattened over [I, N]) of each pair in order, unspecified past ``count``; count: int64 [] on the
    device, the number of pairs (may exceed the capacity: then the lists lack pairs)."""

    offsets: Tensor
    flatten_ids: Tensor
    count: Tensor


def grid(width: int, height: int, tile_size: int = TILE_SIZE) -> tuple[int, int]:
    """(tile_width, tile_height): tiles per row and per column covering a ``width`` x ``height`` image."""
    return math.ceil(width / tile_size), math.ceil(height / tile_size)


def tile_spans(means2d: Tensor, radii: Tensor, tile_width: int, tile_height: int,
               tile_size: int = TILE_SIZE) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each Gaussian's covered tiles, gsplat's rule: (x0, y0, x1, y1), int64 [...], x in [x0, x1), y in [y0, y1);
    empty (x0 = x1 = y0 = y1 = 0) where a radius is not positive. means2d: [..., 2] pixels; radii: int32 [..., 2]."""
    valid = (radii > 0).all(-1)
    centre = means2d / tile_size
    reach = radii.to(means2d.dtype) / tile_size
    low, high = torch.floor(centre - reach), torch.ceil(centre + reach)

    def clamp(v: Tensor, limit: int) -> Tensor:  # gsplat: (uint32) saturates (NaN -> 0), then min with the grid
        return torch.where(valid, torch.nan_to_num(v, nan=0.0).clamp(0, limit), 0).long()

    return (clamp(low[..., 0], tile_width), clamp(low[..., 1], tile_height),
            clamp(high[..., 0], tile_width), clamp(high[..., 1], tile_height))


def bin_tiles(means2d: Tensor, radii: Tensor, depths: Tensor, width: int, height: int, capacity: int,
              tile_size: int = TILE_SIZE) -> TileBins:
    """Sorted (Gaussian, tile) pairs of I images, in fixed shapes (capturable in a CUDA graph: no host sync).

    means2d: [..., N, 2]; radii: int32 [..., N, 2] (0 = culled); depths: [..., N] (gsplat's projection outputs, the
    leading dimensions flattened into I images; a kept Gaussian's depth is >= the near plane > 0, so its float32
    bits order as gsplat's unsigned key does); capacity: the length of the pair lists (> 0).

    Two 32-bit sorts instead of gsplat's one 64-bit key: the Gaussians by depth (stable: ties in flattened order),
    their pairs written in that order, then the pairs by (image, tile), stable (so front to back within a tile).
    """
    if capacity < 1 or means2d.shape[-2] == 0:
        raise ValueError(f"need capacity >= 1 and at least one Gaussian, got {capacity} and {list(means2d.shape)}")
    n = means2d.shape[-2]
    tw, th = grid(width, height, tile_size)
    x0, y0, x1, y1 = (s.reshape(-1) for s in tile_spans(means2d, radii, tw, th, tile_size))
    front = torch.sort(depths.reshape(-1).view(torch.int32), stable=True).indices  # [I * N] front to back
    span_x = x1 - x0
    counts = (span_x * (y1 - y0))[front]
    ends = counts.cumsum(0)  # one past each Gaussian's last pair, in depth order
    count = ends[-1]
    image = torch.div(front, n, rounding_mode="floor")
    # per Gaussian in depth order: its index, first pair, first tile (x, y), tiles per row, image's first key
    table = torch.stack([front, ends - counts, x0[front], y0[front], span_x[front].clamp(min=1),
                         image * ((th + 1) * tw)], -1)
    slot = torch.arange(capacity, device=means2d.device)
    rank = torch.searchsorted(ends, slot, right=True).clamp_(max=ends.shape[0] - 1)  # the Gaussian of each slot
    gaussian, first, tx, ty, step, base = table.index_select(0, rank).unbind(-1)
    k = slot - first  # the pair's rank among its Gaussian's tiles, row by row
    key = (base + (ty + k // step) * tw + tx + k % step).int()
    key = torch.where(slot < count, key, _PAST)
    key, order = torch.sort(key, stable=True)
    flatten_ids = gaussian.index_select(0, order).int()
    starts = torch.arange(ends.shape[0] // n * (th + 1) * tw, device=means2d.device, dtype=torch.int32)
    offsets = torch.searchsorted(key, starts, out_int32=True).reshape(-1, th + 1, tw)
    return TileBins(offsets, flatten_ids, count)
