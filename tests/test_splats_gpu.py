"""gsplat (CUDA) against the reference rasterizer: images and gradients on random scenes.

The reference runs in float64 on the CPU (the oracle), gsplat in float32 on the GPU. Run through the device tool:
``python -m pytest tests/test_splats_gpu.py -m gpu -s`` (``-s`` prints the measured errors).
"""

import pytest
import torch
from splat_scenes import random_gaussians, ring_cameras

from talkavatar.core.splats import Gaussians, RasterSettings, rasterize
from talkavatar.core.splats import gsplat_backend

pytestmark = pytest.mark.gpu

FIELDS = ("means", "quats", "log_scales", "opacity_logit", "rgb")
IMAGE_TOL = 1e-3  # relative L2, float32 vs float64 oracle
GRAD_TOL = 1e-2


@pytest.fixture(scope="module")
def cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    reason = gsplat_backend.unavailable_reason(torch.device("cuda"), torch.float32)
    if reason is not None:
        pytest.skip(reason)
    return torch.device("cuda")


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _render(params, cams, backend, bg):
    out = rasterize(Gaussians(*params), cams, backend=backend, background=bg)
    assert out.backend == backend
    return out


def _compare(g: Gaussians, cams, cuda, label: str):
    gen = torch.Generator().manual_seed(123)
    bg = torch.rand(cams.count, 3, generator=gen)
    C, H, W = cams.count, cams.height, cams.width
    w_rgb, w_alpha, w_depth = (torch.randn(C, H, W, k, generator=gen) for k in (3, 1, 1))

    ref_params = [getattr(g, f).detach().double().requires_grad_(True) for f in FIELDS]
    gs_params = [getattr(g, f).detach().float().to(cuda).requires_grad_(True) for f in FIELDS]
    ref = _render(ref_params, cams.to(dtype=torch.float64), "reference", bg.double())
    gs = _render(gs_params, cams.to(cuda, torch.float32), "gsplat", bg.to(cuda))

    errors = {f"image {k}": rel_l2(getattr(gs, k), getattr(ref, k)) for k in ("rgb", "alpha", "depth")}
    # the loss weighs depth by (detached) alpha: expected depth is ill-conditioned where almost nothing is seen
    terms = {
        "rgb": lambda o, dev: (o.rgb * w_rgb.to(dev, o.rgb.dtype)).sum(),
        "alpha": lambda o, dev: (o.alpha * w_alpha.to(dev, o.rgb.dtype)).sum(),
        "depth": lambda o, dev: (o.depth * o.alpha.detach() * w_depth.to(dev, o.rgb.dtype)).sum(),
    }
    loss_ref = sum(t(ref, "cpu") for t in terms.values())
    loss_gs = sum(t(gs, cuda) for t in terms.values())
    grads_ref = torch.autograd.grad(loss_ref, ref_params)
    grads_gs = torch.autograd.grad(loss_gs, gs_params)
    for f, a, b in zip(FIELDS, grads_gs, grads_ref):
        errors[f"grad {f}"] = rel_l2(a, b)
    print(f"\n[{label}] " + ", ".join(f"{k}={v:.2e}" for k, v in errors.items()))
    for k, v in errors.items():
        tol = IMAGE_TOL if k.startswith("image") else GRAD_TOL
        assert v < tol, f"{label}: {k} relative L2 {v:.3e} >= {tol}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gsplat_matches_reference_shared_gaussians(cuda, seed):
    g = random_gaussians(1500, seed=seed, spread=0.5)
    _compare(g, ring_cameras(3, width=96, height=80), cuda, f"shared seed={seed}")


def test_gsplat_matches_reference_posed_per_camera(cuda):
    base = [random_gaussians(1000, seed=20 + c, spread=0.5) for c in range(2)]
    posed = Gaussians(torch.stack([b.means for b in base]), torch.stack([b.quats for b in base]),
                      base[0].log_scales, base[0].opacity_logit, torch.stack([b.rgb for b in base]))
    _compare(posed, ring_cameras(2, width=80, height=64), cuda, "posed per camera")


def test_packed_and_unpacked_gsplat_agree(cuda):
    g = random_gaussians(3000, seed=5, spread=0.5).to(cuda)
    cams = ring_cameras(2, width=128, height=96).to(cuda)
    bg = torch.zeros(2, 3, device=cuda)
    a = gsplat_backend.render(g, cams, bg, RasterSettings(), packed=True)
    b = gsplat_backend.render(g, cams, bg, RasterSettings(), packed=False)
    for x, y in zip(a, b):
        assert rel_l2(x, y) < 1e-5


def test_gsplat_without_depth_gives_the_rgb_alpha_and_gradients_of_rgb_and_depth(cuda):
    """gsplat's "RGB" mode (three channels rasterized) against "RGB+ED" (four): the same rgb and alpha, and the same
    gradients of a loss on them (to the atomics' order), posed per camera as the fit's pseudo frames."""
    base = [random_gaussians(4000, seed=40 + c, spread=0.5) for c in range(2)]
    posed = Gaussians(torch.stack([b.means for b in base]), torch.stack([b.quats for b in base]),
                      base[0].log_scales, base[0].opacity_logit, torch.stack([b.rgb for b in base])).to(cuda)
    cams = ring_cameras(2, width=128, height=96).to(cuda)
    weights = torch.randn(2, 96, 128, 4, generator=torch.Generator().manual_seed(9)).to(cuda)
    found = []
    for depth in (True, False):
        leaves = [getattr(posed, f).detach().clone().requires_grad_(True) for f in FIELDS]
        out = rasterize(Gaussians(*leaves), cams, background=(0.1, 0.5, 0.9), depth=depth)
        assert (out.depth is None) != depth
        loss = (out.rgb * weights[..., :3]).sum() + (out.alpha * weights[..., 3:]).sum()
        found.append((out.rgb, out.alpha, torch.autograd.grad(loss, leaves)))
    (rgb_a, alpha_a, grads_a), (rgb_b, alpha_b, grads_b) = found
    assert rel_l2(rgb_b, rgb_a) < 1e-6 and rel_l2(alpha_b, alpha_a) < 1e-6
    for f, a, b in zip(FIELDS, grads_b, grads_a):
        assert rel_l2(a, b) < 1e-5, f


def test_gsplat_over_black_composites_nothing_with_the_numbers_of_a_zero_background(cuda):
    g = random_gaussians(3000, seed=8, spread=0.5).to(cuda)
    cams = ring_cameras(2, width=128, height=96).to(cuda)
    found = []
    for background in (None, (0.0, 0.0, 0.0)):
        leaves = [getattr(g, f).detach().clone().requires_grad_(True) for f in FIELDS]
        out = rasterize(Gaussians(*leaves), cams, background=background, depth=False)
        loss = out.rgb.square().sum() + out.alpha.sum()
        found.append((out.rgb, out.alpha, torch.autograd.grad(loss, leaves)))
    assert torch.equal(found[0][0], found[1][0]) and torch.equal(found[0][1], found[1][1])
    for f, a, b in zip(FIELDS, found[0][2], found[1][2]):
        assert rel_l2(a, b) < 1e-5, f


@pytest.mark.parametrize("tile", [4, 8, 12])
def test_any_tile_size_draws_the_same_image(cuda, tile):
    """gsplat on other tile edges gives the 16-pixel tiles' rgb and alpha bit for bit (a Gaussian left out of a
    pixel's tile is below the alpha threshold there: gsplat_backend.TILE_SIZE), shared and posed per camera."""
    g = random_gaussians(6000, seed=2, spread=0.35, scale_range=(0.005, 0.08)).to(cuda)
    cams = ring_cameras(3, width=96, height=61).to(cuda)
    shift = (0.02 * torch.randn(3, 1, 3, generator=torch.Generator().manual_seed(5))).to(cuda)
    posed = Gaussians(g.means + shift, g.quats, g.log_scales, g.opacity_logit, g.rgb)
    with torch.no_grad():
        for scene in (g, posed):
            rgb, alpha, _ = gsplat_backend.render(scene, cams, None, RasterSettings(), depth=False)
            rgb2, alpha2, _ = gsplat_backend.render(scene, cams, None, RasterSettings(), depth=False, tile_size=tile)
            assert float(alpha.max()) > 0.5
            assert torch.equal(rgb2, rgb) and torch.equal(alpha2, alpha)


def test_auto_picks_gsplat_for_float32_cuda(cuda):
    g = random_gaussians(100, seed=6).to(cuda)
    assert rasterize(g, ring_cameras(1).to(cuda)).backend == "gsplat"
    assert rasterize(g.to(dtype=torch.float64), ring_cameras(1).to(cuda, torch.float64)).backend == "reference"

