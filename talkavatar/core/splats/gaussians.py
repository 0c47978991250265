"""3D Gaussians as the rasterizer takes them, with activations named in the fields (STYLE.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

_TRAILING = {"means": (3,), "quats": (4,), "log_scales": (3,), "opacity_logit": (), "rgb": (3,)}


@dataclass(frozen=True)
class Gaussians:
    """N 3D Gaussians in world space.

    means: [N, 3] or [C, N, 3] centres (metres).
    quats: [N, 4] or [C, N, 4] rotations, wxyz, normalised by the rasterizer (need not be unit).
    log_scales: [N, 3] or [C, N, 3] natural log of the standard deviations along the rotated axes.
    opacity_logit: [N] or [C, N]; opacity = sigmoid(opacity_logit).
    rgb: [N, 3] or [C, N, 3] linear colour, 0..1.

    Any field may carry a leading camera axis C ("posed per frame": camera c sees ``field[c]``); fields
    without it are shared by all cameras. All fields share one device and floating dtype.
    """

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logit: Tensor
    rgb: Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[-2] if self.means.dim() >= 2 else None
        if n is None:
            raise ValueError(f"means must be [N, 3] or [C, N, 3], got {list(self.means.shape)}")
        batch = set()
        for f in fields(self):
            t = getattr(self, f.name)
            if not torch.is_tensor(t):
                raise TypeError(f"Gaussians.{f.name} must be a tensor, got {type(t).__name__}")
            trailing = _TRAILING[f.name]
            lead = t.shape[: t.dim() - len(trailing)]
            if tuple(t.shape[t.dim() - len(trailing):]) != trailing or len(lead) not in (1, 2) or lead[-1] != n:
                want = " or ".join(str([*pre, "N", *trailing]) for pre in ((), ("C",)))
                raise ValueError(f"Gaussians.{f.name} must be {want} with N={n}, got {list(t.shape)}")
            if len(lead) == 2:
                batch.add(int(lead[0]))
            if not t.is_floating_point():
                raise TypeError(f"Gaussians.{f.name} must be floating point, got {t.dtype}")
            if t.dtype != self.means.dtype or t.device != self.means.device:
                raise ValueError(f"Gaussians.{f.name} is {t.dtype} on {t.device}, means is "
                                 f"{self.means.dtype} on {self.means.device}; use one dtype and device")
        if len(batch) > 1:
            raise ValueError(f"Gaussians fields carry different camera batch sizes {sorted(batch)}")

    @property
    def count(self) -> int:
        """Number of Gaussians N."""
        return int(self.means.shape[-2])

    @property
    def batch_size(self) -> int | None:
        """C when any field carries a camera axis, else None (one set for all cameras)."""
        for f in fields(self):
            t = getattr(self, f.name)
            if t.dim() == len(_TRAILING[f.name]) + 2:
                return int(t.shape[0])
        return None

    @property
    def device(self) -> torch.device:
        return self.means.device

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    def per_camera(self, cameras: int) -> "Gaussians":
        """All fields with the camera axis: [C, N, ...] (expanded views, no copies)."""
        if self.batch_size not in (None, cameras):
            raise ValueError(f"Gaussians are posed for {self.batch_size} cameras, not {cameras}")
        out = {}
        for f in fields(self):
            t = getattr(self, f.name)
            out[f.name] = t if t.dim() == len(_TRAILING[f.name]) + 2 else t.expand(cameras, *t.shape)
        return Gaussians(**out)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Gaussians":
        return Gaussians(**{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)})
