"""Tile binning of projected Gaussians in fixed shapes: gsplat 1.5.3's intersection lists, without a host sync.

gsplat's ``isect_tiles`` counts the (Gaussian, tile) pairs on the GPU and reads the count back to the host to size its
lists (a host synchronisation every frame, which also stops a frame from being captured as a CUDA graph). Here the
lists have a fixed ``capacity`` chosen ahead; the count stays on the device, and a caller checks it afterwards
(``TileBins.count <= capacity``, else render again with a larger capacity).

The result is gsplat's, element for element (``flatten_ids`` up to the count; ``offsets`` on the real tiles):

* a Gaussian with both radii > 0 covers tiles ``[floor(c - r / s), ceil(c + r / s))`` per axis, ``c`` its 2D mean / s,
  clamped to the grid (s = ``tile_size``; float32 arithmetic as gsplat's kernel, which saturates to 0 where negative);
* pairs sorted by (image, tile, the depth's float32 bits as unsigned), ties kept in flattened Gaussian order (gsplat
  writes them in that order and sorts with a stable radix sort);
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

TILE_SIZE = 16  # gsplat's default tile edge in pixels (the rasterization() wrapper's)
_PAST = torch.iinfo(torch.int64).max  # the sort key of an unused slot: after every pair


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
    leading dimensions flattened into I images); capacity: the length of the pair lists (> 0).
    """
    if capacity < 1 or means2d.shape[-2] == 0:
        raise ValueError(f"need capacity >= 1 and at least one Gaussian, got {capacity} and {list(means2d.shape)}")
    n = means2d.shape[-2]
    tw, th = grid(width, height, tile_size)
    x0, y0, x1, y1 = (s.reshape(-1) for s in tile_spans(means2d, radii, tw, th, tile_size))
    span_x = x1 - x0
    counts = span_x * (y1 - y0)
    ends = counts.cumsum(0)  # [I * N]: one past each Gaussian's last pair
    count = ends[-1]
    slot = torch.arange(capacity, device=means2d.device)
    owner = torch.searchsorted(ends, slot, right=True).clamp_(max=ends.shape[0] - 1)  # the Gaussian of each slot
    k = slot - (ends[owner] - counts[owner])  # the pair's rank among its Gaussian's tiles, row by row
    step = span_x[owner].clamp(min=1)
    tile = (y0[owner] + k // step) * tw + x0[owner] + k % step
    image = owner // n
    depth_bits = depths.reshape(-1).view(torch.int32).long() & 0xFFFFFFFF
    key = ((image * ((th + 1) * tw) + tile) << 32) | depth_bits[owner]
    key = torch.where(slot < count, key, _PAST)
    key, order = torch.sort(key, stable=True)
    flatten_ids = owner[order].int()
    starts = torch.arange(ends.shape[0] // n * (th + 1) * tw, device=means2d.device)
    offsets = torch.searchsorted(key >> 32, starts, out_int32=True).reshape(-1, th + 1, tw)
    return TileBins(offsets, flatten_ids, count)
