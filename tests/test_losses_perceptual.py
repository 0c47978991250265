"""Perceptual distance: the offline EfficientNet-Lite0 weights classify real photos, the distance behaves."""

import pytest
import torch
import torch.nn.functional as F
from skimage import data

from talkavatar.core.losses import perceptual_distance
from talkavatar.core.losses.efficientnet_lite0 import load_pretrained
from talkavatar.core.losses.perceptual import lpips_unavailable_reason
from talkavatar.errors import MissingDependency


def _photo(name, size=224):
    im = torch.tensor(getattr(data, name)(), dtype=torch.float32) / 255
    return F.interpolate(im.permute(2, 0, 1)[None], size=(size, size), mode="bilinear", antialias=True)


def test_efficientnet_weights_classify_photos():
    net = load_pretrained()
    with torch.no_grad():
        cat = net(_photo("chelsea")).argmax(-1).item()
        coffee = net(_photo("coffee")).argmax(-1).item()
    assert 281 <= cat <= 285  # ImageNet domestic cat classes
    assert coffee in (967, 968)  # espresso, cup


def test_efficientnet_distance_orders_degradations():
    dist = perceptual_distance("efficientnet")
    assert dist.kind == "efficientnet"
    x = _photo("astronaut", 96).permute(0, 2, 3, 1)
    g = torch.Generator().manual_seed(0)
    slightly = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    blurred = F.avg_pool2d(x.permute(0, 3, 1, 2), 5, 1, 2, count_include_pad=False).permute(0, 2, 3, 1)
    other = _photo("chelsea", 96).permute(0, 2, 3, 1)
    d = [float(dist(x, y)) for y in (x, slightly, blurred, other)]
    assert d[0] < 1e-6
    assert d[0] < d[1] < d[2] < d[3]


def test_distance_is_batched_and_differentiable():
    dist = perceptual_distance("efficientnet")
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 48, 40, 3, generator=g, requires_grad=True)
    y = torch.rand(2, 48, 40, 3, generator=g)
    d = dist(x, y)
    assert d.shape == (2,)
    assert torch.allclose(d[1:], dist(x[1:], y[1:]), atol=1e-5)
    d.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in dist.parameters())
    with pytest.raises(ValueError):
        dist(x[:, :16, :16], y[:, :16, :16])


def test_lpips_is_refused_when_it_cannot_run_offline():
    if lpips_unavailable_reason() is None:
        assert perceptual_distance("lpips").kind == "lpips"
        return
    with pytest.raises(MissingDependency):
        perceptual_distance("lpips")
    assert perceptual_distance("auto").kind == "efficientnet"
    with pytest.raises(ValueError):
        perceptual_distance("vgg")
