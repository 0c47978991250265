"""Perceptual distance: the offline EfficientNet-Lite0 weights classify real photos, the distance behaves."""

import pytest
import torch
import torch.nn.functional as F
from skimage import data

from talkavatar.core.losses import perceptual_distance, shared_distance
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


def _reduced_precision_agrees(device):
    """The bfloat16-autocast distance tracks the float32 one on real photo pairs (astronaut vs. noisy/blurred/other):
    values within 2 % (measured on the CPU: 0.7 %), gradients in the same direction (cosine 0.79-0.97 on the CPU:
    bfloat16 keeps 8 bits of mantissa)."""
    full = perceptual_distance("efficientnet", device)
    reduced = perceptual_distance("efficientnet", device, reduced_precision=True)
    x = _photo("astronaut", 96).permute(0, 2, 3, 1).to(device)
    g = torch.Generator().manual_seed(0)
    noisy = (x + 0.05 * torch.randn(x.shape, generator=g).to(device)).clamp(0, 1)
    blurred = F.avg_pool2d(x.permute(0, 3, 1, 2), 5, 1, 2, count_include_pad=False).permute(0, 2, 3, 1)
    y = torch.cat([noisy, blurred, _photo("chelsea", 96).permute(0, 2, 3, 1).to(device)])
    xs = x.expand_as(y).clone()
    grads = []
    for dist in (full, reduced):
        image = y.clone().requires_grad_(True)
        d = dist(image, xs)
        d.sum().backward()
        grads.append((d.detach(), image.grad))
    (d32, g32), (d16, g16) = grads
    assert d16.dtype == torch.float32
    assert torch.allclose(d16, d32, rtol=0.02), (d16, d32)
    assert F.cosine_similarity(g16.flatten(1), g32.flatten(1)).min() > 0.7


def test_reduced_precision_agrees_on_cpu():
    _reduced_precision_agrees(torch.device("cpu"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_reduced_precision_agrees_on_cuda():
    _reduced_precision_agrees(torch.device("cuda"))


def test_folded_batch_norms_give_the_features_and_gradients_of_the_plain_network():
    """The loaded network (batch norms folded into the convolutions, ReLU6 as one op) against the network as the
    weights file describes it, written out as convolution, batch norm and clamp: features and input gradients."""
    from talkavatar.core.losses.efficientnet_lite0 import EfficientNetLite0, weights_path

    plain = EfficientNetLite0()
    plain.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    plain.eval().requires_grad_(False)

    def plain_features(images, after):
        clamp = lambda x: torch.clamp(x, 0, 6)  # noqa: E731
        h, out = clamp(plain._bn0(plain._conv_stem(plain.normalise(images)))), []
        for i, b in enumerate(plain._blocks[: max(after) + 1]):
            x = h
            if b.has_expand:
                h = clamp(b._bn0(b._expand_conv(h)))
            h = b._bn2(b._project_conv(clamp(b._bn1(b._depthwise_conv(h)))))
            h = h + x if b.residual else h
            if i in after:
                out.append(h)
        return out

    folded = load_pretrained()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    images = _photo("astronaut", 96).requires_grad_(True)
    after = (1, 3, 5, 8)
    grads = []
    for features in (plain_features(images, after), folded.features(images, after)):
        grads.append(torch.autograd.grad(sum((f * f).mean() for f in features), images)[0])
        for f, ref in zip(features, plain_features(images.detach(), after)):
            assert torch.allclose(f, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
    assert torch.allclose(grads[1], grads[0], rtol=1e-3, atol=1e-3 * grads[0].abs().max().item())


def test_a_target_without_gradients_gives_the_same_distance_and_gradients():
    """A target that needs no gradient passes the network on its own under no_grad: the same distance
    and image gradients as the one-batch pass both images take when the target needs them too."""
    dist = perceptual_distance("efficientnet")
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 48, 40, 3, generator=g, requires_grad=True)
    y = torch.rand(2, 48, 40, 3, generator=g)
    alone = dist(x, y)
    (grad_alone,) = torch.autograd.grad(alone.sum(), x)
    together = dist(x, y.clone().requires_grad_(True))
    (grad_together,) = torch.autograd.grad(together.sum(), x)
    assert torch.allclose(alone, together, rtol=1e-5, atol=1e-7)
    assert torch.allclose(grad_alone, grad_together, rtol=1e-4, atol=1e-5 * grad_together.abs().max().item())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_channels_last_network_on_cuda_gives_the_cpu_distance_and_gradients(monkeypatch):
    """The CUDA network (channels-last) is the CPU's: compared in full float32, with cuDNN's TF32 off (float64 vs
    float32 on the CPU: gradients 1.4e-6 of their largest value apart). With TF32 on (PyTorch's default, what the
    fit runs) each convolution rounds its operands to 10-bit mantissas: the distance stays within 0.5 %, the input
    gradients do not compare elementwise (H200, tenth session: 6.5 % of their largest value apart, with and without
    channels-last; TF32 emulated on the CPU, benchmarks/perceptual_tf32_cpu.py: 12 %, 7.9 % in L2), so only the
    distance is checked there."""
    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(2, 64, 48, 3, generator=g), torch.rand(2, 64, 48, 3, generator=g)

    def distance_and_gradient(device):
        dist = perceptual_distance("efficientnet", torch.device(device))
        image = x.to(device).requires_grad_(True)
        d = dist(image, y.to(device))
        (grad,) = torch.autograd.grad(d.sum(), image)
        return d.detach().cpu(), grad.cpu()

    d_cpu, g_cpu = distance_and_gradient("cpu")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    d_gpu, g_gpu = distance_and_gradient("cuda")
    assert torch.allclose(d_cpu, d_gpu, rtol=1e-4), (d_cpu, d_gpu)
    assert (g_cpu - g_gpu).abs().max() <= 1e-3 * g_cpu.abs().max(), float((g_cpu - g_gpu).abs().max())
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    d_tf32, _ = distance_and_gradient("cuda")
    assert torch.allclose(d_cpu, d_tf32, rtol=5e-3), (d_cpu, d_tf32)


def test_shared_distance_is_built_once_per_kind_and_device():
    a = shared_distance("efficientnet", "cpu")
    assert shared_distance("efficientnet", torch.device("cpu")) is a
    x = torch.full((1, 32, 32, 3), 0.25)
    assert float(a(x, x)) == 0.0
