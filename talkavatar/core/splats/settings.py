"""The rasterizer's settings, shared by :func:`~talkavatar.core.splats.rasterize.rasterize` and its backends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RasterSettings:
    """Numbers that change the image (identical meaning in every backend).

    near_plane, far_plane: Gaussians whose centre has camera-space z outside this range are dropped (metres).
    eps2d: added to the diagonal of each projected 2D covariance (pixels²); gsplat's default 0.3.
    """

    near_plane: float = 0.01
    far_plane: float = 1e10
    eps2d: float = 0.3

    def __post_init__(self) -> None:
        if not 0 < self.near_plane < self.far_plane:
            raise ValueError(f"need 0 < near_plane < far_plane, got {self.near_plane}, {self.far_plane}")
        if self.eps2d < 0:
            raise ValueError(f"eps2d must be >= 0, got {self.eps2d}")
