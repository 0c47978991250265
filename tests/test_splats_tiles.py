"""Fixed-capacity tile binning (``core.splats.tiles``) against a loop over gsplat 1.5.3's intersection kernels.

``_gsplat_bins_naive`` follows ``IntersectTile.cu`` line by line in float32 (first pass: tiles per Gaussian; second
pass: the (image, tile, depth bits) keys in flattened Gaussian order; a stable sort; ``intersect_offset_kernel``'s
offsets). The GPU half (the same lists as gsplat's own ``isect_tiles``, bitwise, and a captured frame) is in
``tests/test_render_graph_gpu.py``.
"""

import math

import numpy as np
import pytest
import torch

from talkavatar.core.splats.tiles import TileBins, bin_tiles, grid, tile_spans


def _gsplat_bins_naive(means2d, radii, depths, width, height, tile_size=16):
    """(offsets [I, th, tw], flatten_ids [n]) as gsplat computes them, one Gaussian at a time."""
    tw, th = math.ceil(width / tile_size), math.ceil(height / tile_size)
    m = means2d.reshape(-1, 2).numpy().astype(np.float32)
    r = radii.reshape(-1, 2).numpy()
    d = depths.reshape(-1).numpy().astype(np.float32)
    n = means2d.shape[-2]
    images = m.shape[0] // n
    ts = np.float32(tile_size)

    def to_u32(v):  # CUDA's float -> uint32 conversion saturates; NaN gives 0
        if np.isnan(v):
            return 0
        return int(min(max(v, 0.0), 2.0 ** 32 - 1))

    pairs = []
    for idx in range(m.shape[0]):
        rx, ry = np.float32(r[idx, 0]), np.float32(r[idx, 1])
        if rx <= 0 or ry <= 0:
            continue
        tx, ty = m[idx, 0] / ts, m[idx, 1] / ts
        trx, try_ = rx / ts, ry / ts
        x0 = min(max(0, to_u32(np.floor(np.float32(tx - trx)))), tw)
        y0 = min(max(0, to_u32(np.floor(np.float32(ty - try_)))), th)
        x1 = min(max(0, to_u32(np.ceil(np.float32(tx + trx)))), tw)
        y1 = min(max(0, to_u32(np.ceil(np.float32(ty + try_)))), th)
        depth_bits = int(d[idx:idx + 1].view(np.uint32)[0])
        for i in range(y0, y1):
            for j in range(x0, x1):
                pairs.append(((idx // n, i * tw + j, depth_bits), idx))
    pairs.sort(key=lambda p: p[0])  # Python's sort is stable, as gsplat's radix sort
    flatten_ids = [p[1] for p in pairs]
    ids = [p[0][0] * tw * th + p[0][1] for p in pairs]
    offsets = np.zeros(images * th * tw, dtype=np.int64)
    for t in range(images * th * tw):  # intersect_offset_kernel: the first pair of tile t (pairs before it)
        offsets[t] = sum(1 for v in ids if v < t)
    return offsets.reshape(images, th, tw), np.array(flatten_ids, dtype=np.int64)


def _scene(images=3, n=60, width=53, height=37, seed=0):
    """Projected Gaussians as gsplat's projection leaves them: some culled (radius 0, their 2D means and depths
    garbage, NaN among them), some off the image or straddling its edges, some large, shared depths (ties) in every
    image."""
    gen = torch.Generator().manual_seed(seed)
    means2d = torch.rand(images, n, 2, generator=gen) * torch.tensor([width * 1.4, height * 1.4]) - 0.2 * torch.tensor(
        [width, height])
    radii = torch.randint(0, 12, (images, n, 2), generator=gen, dtype=torch.int32)
    radii[:, :4, 1] = 0
    radii[:, 4] = 40  # covers most of the grid
    culled = (radii <= 0).any(-1)
    means2d[culled] = torch.where(torch.rand(int(culled.sum()), 2, generator=gen) < 0.5, float("nan"), 1e9)
    depths = torch.rand(images, n, generator=gen) * 3 + 0.5
    depths[:, 10:20] = 1.25  # ties
    depths[culled] = torch.where(torch.rand(int(culled.sum()), generator=gen) < 0.5, float("nan"), -2.0)  # garbage
    return means2d, radii, depths, width, height


@pytest.mark.parametrize("seed,images,width,height,tile", [(0, 3, 53, 37, 16), (1, 1, 64, 48, 16),
                                                            (2, 2, 17, 90, 16), (3, 2, 53, 37, 8)])
def test_bins_are_gsplats_pairs(seed, images, width, height, tile):
    means2d, radii, depths, w, h = _scene(images=images, width=width, height=height, seed=seed)
    offsets, ids = _gsplat_bins_naive(means2d, radii, depths, w, h, tile)
    count = len(ids)
    assert count > 0
    tw, th = grid(w, h, tile)
    for capacity in (count, count + 1, 3 * count + 7):
        bins = bin_tiles(means2d, radii, depths, w, h, capacity, tile)
        assert isinstance(bins, TileBins)
        assert bins.offsets.dtype == torch.int32 and bins.flatten_ids.dtype == torch.int32
        assert bins.offsets.shape == (images, th + 1, tw) and bins.flatten_ids.shape == (capacity,)
        assert int(bins.count) == count
        assert torch.equal(bins.flatten_ids[:count].long(), torch.from_numpy(ids))
        assert torch.equal(bins.offsets[:, :th].long(), torch.from_numpy(offsets))
        # the extra row: every offset is the next image's first pair (the count after the last image)
        firsts = [int(o) for o in offsets[1:, 0, 0]] + [count]
        for i, first in enumerate(firsts):
            assert (bins.offsets[i, th] == first).all()


def test_an_overflow_is_reported_in_the_count():
    means2d, radii, depths, w, h = _scene()
    _, ids = _gsplat_bins_naive(means2d, radii, depths, w, h)
    bins = bin_tiles(means2d, radii, depths, w, h, capacity=len(ids) // 2)
    assert int(bins.count) == len(ids) > bins.flatten_ids.shape[0]


def test_spans_clamp_like_gsplat():
    means2d = torch.tensor([[-40.0, 5.0], [8.0, 8.0], [31.9, 16.0], [float("nan"), 3.0], [1e30, -1e30]])
    radii = torch.tensor([[10, 10], [1, 1], [0, 5], [4, 4], [3, 3]], dtype=torch.int32)
    x0, y0, x1, y1 = tile_spans(means2d, radii, tile_width=2, tile_height=2)
    assert x0.tolist() == [0, 0, 0, 0, 2]
    assert x1.tolist() == [0, 1, 0, 0, 2]  # NaN saturates to 0 both ends
    assert y0.tolist() == [0, 0, 0, 0, 0]
    assert y1.tolist() == [1, 1, 0, 1, 0]


def test_bad_input():
    means2d, radii, depths, w, h = _scene()
    with pytest.raises(ValueError):
        bin_tiles(means2d, radii, depths, w, h, capacity=0)
    with pytest.raises(ValueError):
        bin_tiles(means2d[:, :0], radii[:, :0], depths[:, :0], w, h, capacity=8)
