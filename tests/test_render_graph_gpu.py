"""The graphed render frame (posing + gsplat's kernels with fixed-capacity tile lists in one CUDA graph) against
main's path (posing from its graph, gsplat's ``rasterization()`` wrapper): the same tile lists, the same images bit for
bit. Needs CUDA and gsplat: ``python -m pytest tests/test_render_graph_gpu.py -m gpu -q``."""

from __future__ import annotations

import pytest
import torch
from splat_scenes import random_gaussians, ring_cameras

from talkavatar.core.cuda_graphs import CudaGraphed
from talkavatar.core.splats import Gaussians, RasterSettings, gsplat_backend
from talkavatar.core.splats.tiles import bin_tiles, grid
from talkavatar.render import frames
from tests.test_render_parts import _producer

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    reason = gsplat_backend.unavailable_reason(torch.device("cuda"), torch.float32)
    if reason is not None:
        pytest.skip(reason)
    return torch.device("cuda")


def _scene(cuda, n=3000, cameras=3, width=70, height=45, seed=0):
    g = random_gaussians(n, seed, scale_range=(0.005, 0.08)).to(cuda)
    return g, ring_cameras(cameras, width=width, height=height).to(cuda)


def test_bins_are_gsplats_isect_lists(cuda):
    from gsplat.cuda._wrapper import fully_fused_projection, isect_offset_encode, isect_tiles

    g, cams = _scene(cuda)
    W, H = cams.width, cams.height
    radii, means2d, depths, _, _ = fully_fused_projection(
        g.means, None, g.quats, g.log_scales.exp(), cams.world_to_camera, cams.K, W, H,
        opacities=torch.sigmoid(g.opacity_logit))
    tw, th = grid(W, H)
    _, isect_ids, flatten_ids = isect_tiles(means2d, radii, depths, 16, tw, th, n_images=cams.count)
    offsets = isect_offset_encode(isect_ids, cams.count, tw, th)
    count = flatten_ids.shape[0]
    assert count > 1000
    for capacity in (count, 2 * count + 5):
        bins = bin_tiles(means2d, radii, depths, W, H, capacity)
        assert int(bins.count) == count
        assert torch.equal(bins.flatten_ids[:count], flatten_ids)
        assert torch.equal(bins.offsets[:, :th], offsets)


@pytest.mark.parametrize("per_camera", [False, True])
def test_capturable_render_is_render_bitwise(cuda, per_camera):
    """render_capturable = render(background None, depth False), eagerly and replayed from a CUDA graph."""
    g, cams = _scene(cuda, seed=1)
    if per_camera:  # posed per camera, as render's frames are
        gen = torch.Generator().manual_seed(5)
        shift = (0.02 * torch.randn(cams.count, 1, 3, generator=gen)).to(cuda)
        g = Gaussians(g.means + shift, g.quats.expand(cams.count, -1, -1), g.log_scales.expand(cams.count, -1, -1),
                      g.opacity_logit.expand(cams.count, -1), g.rgb.expand(cams.count, -1, -1))
    settings = RasterSettings()
    with torch.no_grad():
        rgb, alpha, _ = gsplat_backend.render(g, cams, None, settings, depth=False)
        rgb2, alpha2, pairs = gsplat_backend.render_capturable(g, cams, settings, capacity=400_000)
        assert 0 < int(pairs) <= 400_000
        assert torch.equal(rgb2, rgb) and torch.equal(alpha2, alpha)
        assert float(alpha.max()) > 0.5  # something is drawn

        capacity = 2 * int(pairs)  # read before the capture (a host sync is not capturable)

        def frame(means, world_to_camera):
            moved = Gaussians(means, g.quats, g.log_scales, g.opacity_logit, g.rgb)
            c = type(cams)(world_to_camera, cams.K, cams.width, cams.height)
            return gsplat_backend.render_capturable(moved, c, settings, capacity=capacity)

        graphed = CudaGraphed(frame, g.means, cams.world_to_camera)
        moved = g.means + 0.01
        want = gsplat_backend.render(Gaussians(moved, g.quats, g.log_scales, g.opacity_logit, g.rgb), cams, None,
                                     settings, depth=False)
        got = graphed(moved, cams.world_to_camera)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@pytest.mark.parametrize("tile", [4, 8, 12])
def test_any_tile_size_draws_the_same_image(cuda, tile):
    """gsplat's wrapper and render_capturable at other tile edges give the 16-pixel tiles' rgb and alpha bit for bit
    (a Gaussian left out of a pixel's tile is below the alpha threshold there: tiles.TILE_SIZE)."""
    g, cams = _scene(cuda, n=6000, width=96, height=61, seed=2)
    settings = RasterSettings()
    with torch.no_grad():
        rgb, alpha, _ = gsplat_backend.render(g, cams, None, settings, depth=False)
        rgb2, alpha2, _ = gsplat_backend.render(g, cams, None, settings, depth=False, tile_size=tile)
        rgb3, alpha3, _ = gsplat_backend.render_capturable(g, cams, settings, 500_000, tile)
    assert float(alpha.max()) > 0.5
    assert torch.equal(rgb2, rgb) and torch.equal(alpha2, alpha)
    assert torch.equal(rgb3, rgb) and torch.equal(alpha3, alpha)


def _pixels(producer):
    return torch.cat([b.pixels.cpu() for b in producer])


@pytest.mark.parametrize("fmt,batch,streams", [("rgb24", 4, 2), ("yuv420p", 1, 1), ("rgba", 3, 2)])
def test_graphed_frames_are_mains_frames(cuda, fmt, batch, streams):
    """The producer's frames with GRAPH_FRAMES (and its TILE_SIZE) are main's (posing graph + rasterize() on 16-pixel
    tiles) byte for byte: padded last batch (10 frames), one or two streams, every pixel format."""
    new, old = _producer(batch, fmt, frames=10, device="cuda"), _producer(batch, fmt, frames=10, device="cuda")
    old.graph_frames, old.tile_size = False, 16  # main: the posing graph, gsplat's wrapper on 16-pixel tiles
    new.streams = old.streams = streams
    assert new.graph_frames and old.graph_posing
    a, b = _pixels(new), _pixels(old)
    assert new.timings.backend == old.timings.backend == "gsplat"
    assert a.shape == b.shape and a.shape[0] == 10
    assert torch.equal(a, b), (a.float() - b.float()).abs().max()


def test_overflowing_tile_lists_grow_and_draw_the_same(cuda, monkeypatch):
    """A batch with more pairs than the lists hold is drawn again with larger lists (the graphs captured again)."""
    monkeypatch.setattr(frames, "PAIRS_SPARE", 0)
    new, old = _producer(2, frames=6, device="cuda"), _producer(2, frames=6, device="cuda")
    old.graph_frames = False
    new.grow_pairs(10)
    assert new.pairs_capacity == 12
    a, b = _pixels(new), _pixels(old)
    assert new.pairs_capacity > 12
    assert torch.equal(a, b)
