"""The reference rasterizer against closed-form images, itself (batch vs loop) and finite differences."""

import math

import pytest
import torch
from splat_scenes import random_gaussians, ring_cameras

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats import Gaussians, RasterSettings, rasterize
from talkavatar.core.splats.reference import ALPHA_THRESHOLD

W = H = 33
F = 40.0


def axis_camera(dtype=torch.float64) -> Cameras:
    """Identity pose (camera at the origin looking down +Z), principal point on the centre of pixel (16, 16)."""
    K = torch.tensor([[F, 0, 16.5], [0, F, 16.5], [0, 0, 1]], dtype=dtype)
    return Cameras(torch.eye(4, dtype=dtype)[None], K[None], W, H)


def one_gaussian(center, sigma, opacity, rgb, dtype=torch.float64) -> Gaussians:
    t = lambda v: torch.tensor(v, dtype=dtype)  # noqa: E731
    return Gaussians(t([center]), t([[1.0, 0, 0, 0]]), torch.log(t([[sigma] * 3])), torch.logit(t([opacity])),
                     t([rgb]))


def test_single_gaussian_matches_closed_form():
    z, sigma, opacity = 2.0, 0.05, 0.8
    rgb, bg = [0.9, 0.2, 0.1], torch.tensor([0.0, 0.3, 1.0], dtype=torch.float64)
    out = rasterize(one_gaussian([0, 0, z], sigma, opacity, rgb), axis_camera(), background=bg)
    assert out.backend == "reference"
    assert out.rgb.shape == (1, H, W, 3) and out.alpha.shape == (1, H, W, 1) and out.depth.shape == (1, H, W, 1)

    var2d = (F * sigma / z) ** 2 + 0.3  # EWA on the optical axis: J = f/z I, plus the 0.3 px² dilation
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64),
                          indexing="ij")
    r2 = (u - 16) ** 2 + (v - 16) ** 2  # pixel centres relative to the projected centre
    alpha = opacity * torch.exp(-0.5 * r2 / var2d)
    alpha = torch.where(alpha >= ALPHA_THRESHOLD, alpha, torch.zeros_like(alpha))

    assert out.alpha[0, 16, 16, 0].item() == pytest.approx(opacity, abs=1e-12)  # peak alpha at the centre
    assert torch.allclose(out.alpha[0, ..., 0], alpha, atol=1e-12)
    footprint = (out.alpha[0, ..., 0] > 0).sum().item()
    radius = sigma * F / z  # ~1 px; footprint radius where opacity·exp(-r²/2v) = 1/255
    r_cut2 = 2 * var2d * math.log(opacity * 255)
    assert footprint == int((r2 <= r_cut2).sum()) and footprint > math.pi * radius**2
    want_rgb = alpha[..., None] * torch.tensor(rgb, dtype=torch.float64) + (1 - alpha[..., None]) * bg
    assert torch.allclose(out.rgb[0], want_rgb, atol=1e-12)
    seen = alpha > 0
    assert torch.allclose(out.depth[0, ..., 0][seen], torch.full_like(alpha[seen], z), atol=1e-12)
    assert torch.all(out.depth[0, ..., 0][~seen] == 0)


def test_off_axis_centre_and_anisotropic_footprint():
    # elongated along world x: the footprint is wider than tall, centred on the projected point
    g = one_gaussian([0.2, -0.1, 2.5], 0.02, 0.95, [1, 1, 1])
    g = Gaussians(g.means, g.quats, torch.log(torch.tensor([[0.12, 0.02, 0.02]], dtype=torch.float64)),
                  g.opacity_logit, g.rgb)
    out = rasterize(g, axis_camera())
    a = out.alpha[0, ..., 0]
    u, v = F * 0.2 / 2.5 + 16.5, F * -0.1 / 2.5 + 16.5  # projected centre in pixel coordinates
    peak = divmod(int(a.argmax()), W)
    assert peak == (int(v), int(u))
    cols = (a > 0).any(0).sum().item()
    rows = (a > 0).any(1).sum().item()
    assert cols > 2 * rows


def test_occlusion_order_follows_depth_not_input_order():
    near = one_gaussian([0, 0, 1.5], 0.2, 0.7, [1, 0, 0])
    far = one_gaussian([0, 0, 3.0], 0.4, 0.9, [0, 0, 1])
    both = Gaussians(*(torch.cat([getattr(far, k), getattr(near, k)]) for k in
                       ("means", "quats", "log_scales", "opacity_logit", "rgb")))
    out = rasterize(both, axis_camera())
    c = out.rgb[0, 16, 16]
    a1, a2 = 0.7, 0.9  # both centred on the pixel: peak alphas
    assert torch.allclose(c, torch.tensor([a1, 0, (1 - a1) * a2], dtype=torch.float64), atol=1e-12)
    assert out.alpha[0, 16, 16, 0].item() == pytest.approx(1 - (1 - a1) * (1 - a2), abs=1e-12)
    w1, w2 = a1, (1 - a1) * a2
    assert out.depth[0, 16, 16, 0].item() == pytest.approx((w1 * 1.5 + w2 * 3.0) / (w1 + w2), abs=1e-12)


def test_alpha_clamp_and_early_termination():
    # ten opaque Gaussians on the axis: each alpha clamps at 0.999, the second takes T to 1e-6 <= 1e-4, so the
    # pixel stops after the first one (gsplat's rule), leaving T = 0.001
    n = 10
    g = Gaussians(torch.tensor([[0.0, 0.0, 1.0 + 0.1 * i] for i in range(n)], dtype=torch.float64),
                  torch.tensor([[1.0, 0, 0, 0]] * n, dtype=torch.float64),
                  torch.log(torch.full((n, 3), 0.3, dtype=torch.float64)),
                  torch.full((n,), 12.0, dtype=torch.float64),
                  torch.tensor([[1.0, 0, 0]] + [[0, 1.0, 0]] * (n - 1), dtype=torch.float64))
    out = rasterize(g, axis_camera())
    assert out.alpha[0, 16, 16, 0].item() == pytest.approx(0.999, abs=1e-12)
    assert torch.allclose(out.rgb[0, 16, 16], torch.tensor([0.999, 0, 0], dtype=torch.float64), atol=1e-12)


def test_empty_scene_gives_background():
    g = Gaussians(torch.zeros(0, 3), torch.zeros(0, 4), torch.zeros(0, 3), torch.zeros(0), torch.zeros(0, 3))
    cams = ring_cameras(2)
    out = rasterize(g, cams, background=(0.2, 0.4, 0.6))
    assert torch.allclose(out.rgb, torch.tensor([0.2, 0.4, 0.6]).expand(2, 32, 40, 3))
    assert torch.all(out.alpha == 0) and torch.all(out.depth == 0)


def test_gaussians_behind_or_too_near_the_camera_are_culled():
    # a huge Gaussian behind the camera would project mirrored onto the image; one closer than near_plane too
    behind = one_gaussian([0, 0, -1.0], 0.5, 0.99, [1, 1, 1])
    too_near = one_gaussian([0, 0, 0.005], 0.001, 0.99, [1, 1, 1])
    for g in (behind, too_near):
        out = rasterize(g, axis_camera())
        assert torch.all(out.alpha == 0) and torch.all(out.rgb == 0)
    # the near plane is configurable: at near_plane=0.001 the second one is drawn
    out = rasterize(too_near, axis_camera(), settings=RasterSettings(near_plane=0.001))
    assert out.alpha.max() > 0.5


def test_batch_equals_loop_shared_and_posed_per_camera():
    cams = ring_cameras(3)
    g = random_gaussians(300, seed=1)
    backgrounds = torch.rand(3, 3, generator=torch.Generator().manual_seed(0))
    batch = rasterize(g, cams, background=backgrounds)
    for c in range(3):
        single = rasterize(g, cams[c], background=backgrounds[c])
        for name in ("rgb", "alpha", "depth"):
            assert torch.allclose(getattr(batch, name)[c], getattr(single, name)[0], atol=1e-6), name

    # posed per camera: camera c sees its own set; shared fields broadcast
    posed = [random_gaussians(200, seed=10 + c) for c in range(3)]
    stacked = Gaussians(torch.stack([p.means for p in posed]), torch.stack([p.quats for p in posed]),
                        posed[0].log_scales, posed[0].opacity_logit, torch.stack([p.rgb for p in posed]))
    assert stacked.batch_size == 3
    batch = rasterize(stacked, cams)
    for c in range(3):
        one = Gaussians(posed[c].means, posed[c].quats, posed[0].log_scales, posed[0].opacity_logit, posed[c].rgb)
        single = rasterize(one, cams[c])
        assert torch.allclose(batch.rgb[c], single.rgb[0], atol=1e-6)
        assert torch.allclose(batch.depth[c], single.depth[0], atol=1e-5)


def test_input_order_does_not_matter():
    cams = ring_cameras(1)
    g = random_gaussians(250, seed=3)
    perm = torch.randperm(250, generator=torch.Generator().manual_seed(5))
    shuffled = Gaussians(g.means[perm], g.quats[perm], g.log_scales[perm], g.opacity_logit[perm], g.rgb[perm])
    a, b = rasterize(g, cams), rasterize(shuffled, cams)
    assert torch.allclose(a.rgb, b.rgb, atol=1e-6) and torch.allclose(a.alpha, b.alpha, atol=1e-6)


def test_block_size_does_not_change_the_image():
    """Exact up to rounding: float64 (in float32, σ is rounded differently from one block origin to another)."""
    from talkavatar.core.splats import reference

    cams = ring_cameras(1, width=37, height=29, dtype=torch.float64)
    g = random_gaussians(200, seed=4, dtype=torch.float64)
    bg = torch.zeros(1, 3, dtype=torch.float64)
    a = reference.render(g, cams, bg, RasterSettings(), block=16)
    b = reference.render(g, cams, bg, RasterSettings(), block=7)
    assert a[1].max() > 0.5
    for x, y in zip(a, b):
        assert torch.allclose(x, y, atol=1e-10)


def test_grouping_blocks_does_not_change_the_image_or_its_gradients(monkeypatch):
    """Blocks composited one per step give the same image and gradients as blocks grouped by Gaussian count."""
    from talkavatar.core.splats import reference

    cams = ring_cameras(1, width=45, height=38, dtype=torch.float64)
    g = random_gaussians(300, seed=9, dtype=torch.float64)
    rgb = g.rgb.clone().requires_grad_(True)
    bg = torch.full((1, 3), 0.3, dtype=torch.float64)

    def image_and_gradient():
        out = reference.render(Gaussians(g.means, g.quats, g.log_scales, g.opacity_logit, rgb), cams, bg,
                               RasterSettings())
        (grad,) = torch.autograd.grad(sum(x.sum() * (i + 1) for i, x in enumerate(out)), rgb)
        return out, grad

    grouped, grouped_grad = image_and_gradient()
    monkeypatch.setattr(reference, "_GROUP_ELEMENTS", 1)  # every block alone
    alone, alone_grad = image_and_gradient()
    assert grouped[1].max() > 0.5 and grouped[1].min() < 0.01  # covered and empty blocks both present
    for x, y in zip(grouped, alone):
        assert torch.allclose(x, y, atol=1e-12)
    assert torch.allclose(grouped_grad, alone_grad, atol=1e-12)


def test_gradcheck_float64_tiny_scene():
    cams = ring_cameras(2, width=10, height=8, dtype=torch.float64)
    base = random_gaussians(4, seed=7, dtype=torch.float64, spread=0.1, scale_range=(0.08, 0.15))
    # keep every alpha well inside (1/255, 0.999) so finite differences do not cross a threshold
    logit = torch.tensor([0.2, -0.4, 0.6, 0.0], dtype=torch.float64)
    inputs = tuple(t.clone().requires_grad_(True) for t in
                   (base.means, base.quats, base.log_scales, logit, base.rgb))

    def f(means, quats, log_scales, opacity_logit, rgb):
        out = rasterize(Gaussians(means, quats, log_scales, opacity_logit, rgb), cams, background=(0.1, 0.2, 0.3))
        return out.rgb, out.alpha, out.depth

    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


def test_reference_render_speed_is_fit_for_cpu_tests():
    import time

    cams = ring_cameras(1, width=64, height=64)
    g = random_gaussians(3000, seed=8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a shared CI box, intra-op threads spin against other jobs and blur the figure
    try:
        rasterize(g, cams)
        t0 = time.process_time()
        out = rasterize(g, cams)
        elapsed = time.process_time() - t0
    finally:
        torch.set_num_threads(threads)
    assert out.alpha.max() > 0.5
    # ~0.1 s of CPU time on one core; the bound only catches order-of-magnitude regressions
    assert elapsed < 1.0, f"64x64 with 3000 Gaussians took {elapsed:.2f} s of CPU time"


def _naive_render(g: Gaussians, cams: Cameras, bg: torch.Tensor):
    """Every pixel against every visible Gaussian, gsplat's rules written out op by op and differentiated by
    autograd (no blocks, no analytic backward): the twin of the reference's compositing."""
    from talkavatar.core.splats.reference import MAX_ALPHA, MIN_TRANSMITTANCE, project

    p = project(g, cams, RasterSettings())
    v, u = torch.meshgrid(torch.arange(cams.height, dtype=bg.dtype) + 0.5,
                          torch.arange(cams.width, dtype=bg.dtype) + 0.5, indexing="ij")
    images = []
    for c in range(cams.count):
        seen = (p.radii[c] > 0).all(-1).nonzero()[:, 0]
        ids = seen[torch.sort(p.depths[c, seen].detach(), stable=True).indices]
        dx = p.means2d[c, ids, 0] - u.reshape(-1, 1)  # [H W, G]
        dy = p.means2d[c, ids, 1] - v.reshape(-1, 1)
        a, b, cc = p.conics[c, ids].unbind(-1)
        sigma = 0.5 * (a * dx * dx + cc * dy * dy) + b * dx * dy
        alpha = torch.clamp_max(p.opacities[c, ids] * torch.exp(-sigma), MAX_ALPHA)
        alpha = torch.where(alpha >= ALPHA_THRESHOLD, alpha, torch.zeros_like(alpha))
        alive = torch.cumprod(1 - alpha.detach(), dim=-1) > MIN_TRANSMITTANCE
        alpha = torch.where(alive, alpha, torch.zeros_like(alpha))
        T = torch.cumprod(torch.cat([torch.ones_like(alpha[:, :1]), 1 - alpha], dim=-1), dim=-1)
        weights = alpha * T[:, :-1]
        acc = 1 - T[:, -1]
        rgb = weights @ p.colors[c, ids] + T[:, -1:] * bg[c]
        depth = weights @ p.depths[c, ids] / acc.clamp_min(1e-10)
        images.append((rgb, acc, depth, int((~alive).sum()), int((alpha == MAX_ALPHA).sum())))
    return images


def test_compositing_and_its_analytic_gradients_equal_a_naive_autograd_twin():
    """A dense scene where pixels terminate early and alphas clamp: the blockwise compositing with its analytic
    backward gives the images and gradients (all five fields) of the op-by-op twin differentiated by autograd."""
    cams = ring_cameras(2, width=30, height=26, dtype=torch.float64)
    small = random_gaussians(120, seed=11, dtype=torch.float64, spread=0.12, scale_range=(0.02, 0.08))
    wide = random_gaussians(8, seed=12, dtype=torch.float64, spread=0.12, scale_range=(0.3, 0.4))
    g = Gaussians(*(torch.cat([getattr(small, f), getattr(wide, f)]) for f in
                    ("means", "quats", "log_scales", "opacity_logit", "rgb")))
    # near-opaque Gaussians; the wide ones reach alpha 0.999 (clamped) within a fraction of a pixel of their centres
    logit = torch.cat([small.opacity_logit * 3 + 3, torch.full((8,), 20.0, dtype=torch.float64)])
    bg = torch.tensor([[0.2, 0.5, 0.1], [0.9, 0.3, 0.6]], dtype=torch.float64)
    fields = [t.clone().requires_grad_(True) for t in (g.means, g.quats, g.log_scales, logit, g.rgb)]
    gen = torch.Generator().manual_seed(3)
    w = [torch.randn(2, 26 * 30, k, generator=gen, dtype=torch.float64) for k in (3, 1, 1)]

    out = rasterize(Gaussians(*fields), cams, background=bg, backend="reference")
    mine = [x.reshape(2, 26 * 30, -1) for x in (out.rgb, out.alpha, out.depth)]
    naive = _naive_render(Gaussians(*fields), cams, bg)
    assert sum(n[3] for n in naive) > 100 and sum(n[4] for n in naive) >= 1  # termination and clamping happen
    twin = [torch.stack([n[k] for n in naive]).reshape(2, 26 * 30, -1) for k in range(3)]
    for x, y in zip(mine, twin):
        assert torch.allclose(x, y, atol=1e-10)
    loss = lambda imgs: sum((x * wk * (imgs[1].detach() if k == 2 else 1)).sum()  # noqa: E731
                            for k, (x, wk) in enumerate(zip(imgs, w)))
    grads = torch.autograd.grad(loss(mine), fields)
    twin_grads = torch.autograd.grad(loss(twin), fields)
    for name, a, b in zip(("means", "quats", "log_scales", "opacity_logit", "rgb"), grads, twin_grads):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-7), (name, (a - b).abs().max())


def test_blocks_skip_the_gaussians_whose_ellipse_misses_them_and_nothing_changes(monkeypatch):
    """Thin, turned Gaussians: their bounding boxes touch many blocks their alpha never reaches. Dropping those
    pairs (the exact ellipse test) leaves images and gradients as they are with every bounding-box pair kept."""
    from talkavatar.core.splats import reference

    cams = ring_cameras(2, width=44, height=36, dtype=torch.float64)
    g = random_gaussians(150, seed=5, dtype=torch.float64, scale_range=(0.002, 0.12))
    fields = [t.clone().requires_grad_(True) for t in (g.means, g.quats, g.log_scales, g.opacity_logit, g.rgb)]
    bg = torch.tensor([[0.2, 0.5, 0.1], [0.9, 0.3, 0.6]], dtype=torch.float64)
    pairs, touching = [], reference._touching

    def counted(*args):
        out = touching(*args)
        pairs.append(out[0].numel())
        return out

    monkeypatch.setattr(reference, "_touching", counted)

    def image_and_gradients():
        out = rasterize(Gaussians(*fields), cams, background=bg, backend="reference")
        images = (out.rgb, out.alpha, out.depth)
        return images, torch.autograd.grad(sum(x.sum() * (i + 1) for i, x in enumerate(images)), fields)

    culled, culled_grads = image_and_gradients()
    monkeypatch.setattr(reference, "_SIGMA_MARGIN", math.inf)  # every bounding-box pair
    boxes, boxes_grads = image_and_gradients()
    assert sum(pairs[:2]) < 0.8 * sum(pairs[2:])  # the test bites: over a fifth of the pairs are dropped
    assert culled[1].max() > 0.5
    for x, y in zip(culled, boxes):
        assert torch.allclose(x, y, atol=1e-12)
    for a, b in zip(culled_grads, boxes_grads):
        assert torch.allclose(a, b, atol=1e-12)


def test_lowest_sigma_over_a_rectangle_equals_a_dense_search():
    from talkavatar.core.splats.reference import _lowest_sigma

    gen = torch.Generator().manual_seed(2)
    n = 400
    mean = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 30 - 10)
    L = torch.randn(n, 2, 2, generator=gen, dtype=torch.float64)
    conic = L @ L.transpose(1, 2) + 0.05 * torch.eye(2, dtype=torch.float64)
    conics = torch.stack([conic[:, 0, 0], conic[:, 0, 1], conic[:, 1, 1]], dim=-1)
    size = torch.tensor([[7.0, 5.0]], dtype=torch.float64).expand(n, 2)
    u, v = torch.meshgrid(torch.linspace(0, 7, 141, dtype=torch.float64),
                          torch.linspace(0, 5, 101, dtype=torch.float64), indexing="ij")
    dx, dy = mean[:, 0, None] - u.reshape(1, -1), mean[:, 1, None] - v.reshape(1, -1)
    a, b, c = (x[:, None] for x in conics.unbind(-1))
    dense = (0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy).amin(1)
    lowest = _lowest_sigma(mean, conics, size)
    assert (lowest <= dense + 1e-9).all()  # never above the least value on the grid (the cull stays exact)
    assert ((dense - lowest) <= 0.01 * (1 + dense)).all()  # and at most the grid's spacing below it


def test_blocks_found_in_slices_of_rows_equal_one_mask(monkeypatch):
    """A large frame's block-Gaussian mask is built a few block rows at a time: the same pairs as one mask."""
    from talkavatar.core.splats import reference

    cams = ring_cameras(1, width=70, height=50, dtype=torch.float64)
    g = random_gaussians(200, seed=6, dtype=torch.float64)
    bg = torch.zeros(1, 3, dtype=torch.float64)
    whole = reference.render(g, cams, bg, RasterSettings())
    monkeypatch.setattr(reference, "_TOUCH_ELEMENTS", 1)  # one block row per mask
    rows = reference.render(g, cams, bg, RasterSettings())
    assert whole[1].max() > 0.5
    for x, y in zip(whole, rows):
        assert torch.equal(x, y)
