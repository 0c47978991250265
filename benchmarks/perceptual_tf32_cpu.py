"""How far cuDNN's TF32 moves the perceptual distance and its input gradient, emulated on the CPU (issue 23).

    OMP_NUM_THREADS=1 python benchmarks/perceptual_tf32_cpu.py

On Ampere and later GPUs PyTorch lets cuDNN convolve float32 tensors in TF32 by default
(``torch.backends.cudnn.allow_tf32``): the operands are rounded to 10-bit mantissas, the products summed in float32.
Here every convolution of EfficientNet-Lite0 does the same on the CPU (operands rounded to the nearest TF32 value,
forward and the input gradient's backward), and the distance and input gradient of tests/test_losses_perceptual.py's
GPU test (two random 64x48 images) are compared with plain float32; float64 against float32 gives the scale of
float32's own rounding, what a CUDA-vs-CPU comparison with TF32 off should see. Prints two lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.grad import conv2d_input  # noqa: E402


def tf32(t: torch.Tensor) -> torch.Tensor:
    """float32 values rounded to TF32's 10-bit mantissa (to nearest, ties away from zero)."""
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


class TF32Conv(torch.autograd.Function):
    """F.conv2d with TF32 operands; backward: the input gradient, from TF32 weights and TF32 output gradients
    (the network's weights are frozen)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.save_for_backward(weight)
        ctx.shape, ctx.args = x.shape, (stride, padding, dilation, groups)
        return PLAIN_CONV(tf32(x), tf32(weight), bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad):
        (weight,) = ctx.saved_tensors
        return (conv2d_input(ctx.shape, tf32(weight), tf32(grad), *ctx.args),) + (None,) * 6


PLAIN_CONV = F.conv2d


def main() -> None:
    from talkavatar.core.losses import perceptual_distance

    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(2, 64, 48, 3, generator=g), torch.rand(2, 64, 48, 3, generator=g)

    def distance_and_gradient(dist, dtype=torch.float32):
        image = x.to(dtype).requires_grad_(True)
        d = dist(image, y.to(dtype))
        return d.detach().double(), torch.autograd.grad(d.sum(), image)[0].double()

    dist = perceptual_distance("efficientnet")
    d32, g32 = distance_and_gradient(dist)
    F.conv2d = lambda x, w, b=None, stride=1, padding=0, dilation=1, groups=1: TF32Conv.apply(
        x, w, b, stride, padding, dilation, groups)
    try:
        runs = {"TF32 (emulated)": distance_and_gradient(dist)}
    finally:
        F.conv2d = PLAIN_CONV
    runs["float64"] = distance_and_gradient(perceptual_distance("efficientnet").double(), torch.float64)
    for name, (d, grad) in runs.items():
        print(f"{name} vs float32: distance relative {float(((d - d32).abs() / d32).max()):.2e}; input gradient: "
              f"largest gap / largest value {float((grad - g32).abs().max() / g32.abs().max()):.2e}, "
              f"relative L2 {float((grad - g32).norm() / g32.norm()):.2e}")


if __name__ == "__main__":
    main()
