"""rasterize(): backend choice is explicit and recorded; bad inputs fail with clear exceptions."""

import pytest
import torch
from splat_scenes import random_gaussians, ring_cameras

from talkavatar.core.splats import Gaussians, RasterSettings, rasterize
from talkavatar.core.splats import gsplat_backend
from talkavatar.errors import MissingDependency


def test_auto_on_cpu_uses_the_reference_and_says_so():
    out = rasterize(random_gaussians(50, seed=0), ring_cameras(2))
    assert out.backend == "reference"
    assert out.rgb.shape == (2, 32, 40, 3) and out.rgb.dtype == torch.float32


def test_without_depth_the_same_rgb_and_alpha_and_no_depth():
    g, cams = random_gaussians(60, seed=3), ring_cameras(2)
    leaves = [getattr(g, k).clone().requires_grad_(True) for k in ("means", "quats", "log_scales", "opacity_logit",
                                                                     "rgb")]
    outs = [rasterize(Gaussians(*leaves), cams, background=(0.2, 0.3, 0.4), depth=d) for d in (True, False)]
    assert outs[0].depth.shape == (2, 32, 40, 1) and outs[1].depth is None
    assert torch.equal(outs[0].rgb, outs[1].rgb) and torch.equal(outs[0].alpha, outs[1].alpha)
    grads = [torch.autograd.grad(o.rgb.square().sum() + o.alpha.sum(), leaves) for o in outs]
    assert all(torch.equal(a, b) for a, b in zip(*grads))


def test_explicit_gsplat_without_cuda_is_a_missing_dependency():
    if gsplat_backend.unavailable_reason(torch.device("cpu"), torch.float32) is None:  # pragma: no cover
        pytest.skip("gsplat renders CPU tensors here")
    with pytest.raises(MissingDependency, match="gsplat rasterizer cannot run") as err:
        rasterize(random_gaussians(5, seed=0), ring_cameras(1), backend="gsplat")
    assert err.value.exit_code == 4 and err.value.tip


def test_gsplat_is_never_chosen_for_float64():
    reason = gsplat_backend.unavailable_reason(torch.device("cuda"), torch.float64)
    assert reason is not None and "float32" in reason


def test_gaussians_shape_errors():
    n = 4
    ok = dict(means=torch.zeros(n, 3), quats=torch.zeros(n, 4), log_scales=torch.zeros(n, 3),
              opacity_logit=torch.zeros(n), rgb=torch.zeros(n, 3))
    Gaussians(**ok)
    for name, bad in [("quats", torch.zeros(n, 3)), ("rgb", torch.zeros(n + 1, 3)),
                      ("opacity_logit", torch.zeros(n, 1)), ("log_scales", torch.zeros(2, 3, n, 3))]:
        with pytest.raises(ValueError, match=f"Gaussians.{name} must be"):
            Gaussians(**{**ok, name: bad})
    with pytest.raises(ValueError, match="means must be"):
        Gaussians(**{**ok, "means": torch.zeros(3)})
    with pytest.raises(ValueError, match="different camera batch sizes"):
        Gaussians(**{**ok, "means": torch.zeros(2, n, 3), "rgb": torch.zeros(3, n, 3)})
    with pytest.raises(ValueError, match="one dtype and device"):
        Gaussians(**{**ok, "rgb": torch.zeros(n, 3, dtype=torch.float64)})
    with pytest.raises(TypeError, match="floating point"):
        Gaussians(**{**ok, "means": torch.zeros(n, 3, dtype=torch.int64)})


def test_rasterize_input_errors():
    g = random_gaussians(6, seed=1)
    cams = ring_cameras(2)
    posed = Gaussians(g.means.expand(3, -1, -1), g.quats, g.log_scales, g.opacity_logit, g.rgb)
    with pytest.raises(ValueError, match="posed for 3 cameras but 2"):
        rasterize(posed, cams)
    with pytest.raises(ValueError, match="must share device and dtype"):
        rasterize(g, cams.to(dtype=torch.float64))
    with pytest.raises(ValueError, match="background must be"):
        rasterize(g, cams, background=torch.zeros(4))
    with pytest.raises(ValueError, match="unknown rasterizer backend"):
        rasterize(g, cams, backend="opengl")
    with pytest.raises(ValueError, match="near_plane"):
        RasterSettings(near_plane=0.0)


def test_only_the_backend_adapter_imports_gsplat():
    import re
    from pathlib import Path

    import talkavatar

    root = Path(talkavatar.__file__).parent
    importers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if re.search(r"^\s*(import gsplat|from gsplat)", p.read_text(), re.M))
    assert importers == ["core/splats/gsplat_backend.py"]
