"""Rendering the completed avatar into pseudo-label frames.

Two renderers draw the same surface (the rig plus the proxy offsets, coloured by the completed texture):

- ``splats``: the avatar of the later stages, :meth:`Avatar.on_surface` Gaussians at every texel with the proxy
  offsets as ``dX``, made flat discs in their triangle's plane sized to the texel spacing on the proxy surface
  (:data:`DISC_WIDTH`, :data:`DISC_THICKNESS`), posed and drawn by :func:`talkavatar.core.splats.rasterize`
  (``backend="auto"``: gsplat on CUDA, the torch reference elsewhere, about a minute a frame on a laptop CPU) with
  a smaller screen-space low-pass than gsplat's default (:data:`EPS2D`): the discs already fill the texel grid,
  and the default's extra blur costs ~2 dB of input-view PSNR;
- ``mesh``: the posed proxy mesh through the z-buffer rasterizer of :mod:`raster`, texture sampled bilinearly at
  each pixel's UV (the fast path on a CPU).

``auto`` picks splats on CUDA and the mesh elsewhere; the renderer used is recorded with the frames.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from talkavatar.core.avatar import Avatar, texel_size
from talkavatar.core.binding import triangle_frames
from talkavatar.core.cameras import Cameras
from talkavatar.core.color import linear_to_srgb, srgb_to_linear
from talkavatar.core.rotations import matrix_to_quaternion
from talkavatar.core.splats import RasterSettings, rasterize
from talkavatar.pseudo.raster import rasterize_mesh


DISC_WIDTH = 0.5      # Gaussian std-dev along the surface, in texel spacings (of the proxy surface)
DISC_THICKNESS = 0.1  # and across it
EPS2D = 0.1           # pixels² added to each projected covariance (gsplat's default 0.3)


def choose_renderer(name: str, device: torch.device) -> str:
    if name != "auto":
        return name
    return "splats" if device.type == "cuda" else "mesh"


def sample_texture(texture: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup: texture [R, R, C] (row 0 at v = 1), uv [..., 2] -> [..., C]."""
    grid = torch.stack([uv[..., 0] * 2 - 1, (1 - uv[..., 1]) * 2 - 1], -1).reshape(1, 1, -1, 2)
    out = F.grid_sample(texture.permute(2, 0, 1)[None].to(uv.dtype), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out[0, :, 0].T.reshape(*uv.shape[:-1], texture.shape[-1])


def render_mesh(vertices: torch.Tensor, faces: torch.Tensor, face_uvs: torch.Tensor, texture: torch.Tensor,
                cameras: Cameras) -> tuple[torch.Tensor, torch.Tensor]:
    """vertices: [C, V, 3] posed; texture: [R, R, 3] sRGB 0..1 -> (rgb [C, H, W, 3] sRGB, alpha [C, H, W])."""
    rgbs, alphas = [], []
    for c in range(cameras.count):
        pixels, depth = cameras[c].project(vertices[c])
        frags = rasterize_mesh(pixels[0], depth[0], faces, cameras.width, cameras.height, cull_back=True)
        inside = frags.mask
        uv = (face_uvs[frags.face[inside]] * frags.barycentrics[inside][..., None]).sum(1)
        rgb = torch.zeros(cameras.height, cameras.width, 3)
        rgb[inside] = sample_texture(texture, uv.float())
        rgbs.append(rgb)
        alphas.append(inside.float())
    return torch.stack(rgbs), torch.stack(alphas)


class FrameRenderer:
    """Renders the completed avatar: ``rig`` (with its mouth interior), ``offsets`` [V, 3] proxy offsets (rest
    space), ``texture`` [R, R, 3] sRGB 0..1, on ``device`` with ``renderer`` ("splats" or "mesh")."""

    def __init__(self, rig, offsets: torch.Tensor, texture: torch.Tensor, renderer: str, device: torch.device,
                 uv_res: int):
        self.renderer = renderer
        self.device = device
        self.rig = rig.to(device)
        self.offsets = offsets.to(device)
        self.texture = texture.to(device)
        self.backend = "mesh"
        self.proxy = replace(self.rig, vertices=self.rig.vertices + self.offsets)
        if renderer == "splats":
            avatar = Avatar.on_surface(self.rig, uv_res, srgb_to_linear(self.texture), opacity=0.99)
            dx = avatar.binding.interpolate(self.offsets[None], self.rig.faces)[0]
            # flat discs on the proxy surface, half the texel spacing wide: sharp frames, no gaps
            frames = triangle_frames(self.proxy.vertices[None], self.rig.faces[avatar.binding.face_index])[0]
            texel = texel_size(self.proxy, avatar.binding).log()
            log_scales = torch.stack([texel + math.log(DISC_WIDTH), texel + math.log(DISC_WIDTH),
                                      texel + math.log(DISC_THICKNESS)], -1)
            self.avatar = replace(avatar, offsets=dx, vertex_offsets=self.offsets.clone(),
                                  quats=matrix_to_quaternion(frames), log_scales=log_scales)

    def __call__(self, joint_rotations: torch.Tensor, root_translation: torch.Tensor, arkit_weights: torch.Tensor,
                 cameras: Cameras) -> tuple[np.ndarray, str]:
        """A batch of B frames -> RGBA uint8 [B, H, W, 4] (sRGB, alpha = coverage) and the backend used."""
        dev = self.device
        jr, rt, aw = joint_rotations.to(dev), root_translation.to(dev), arkit_weights.to(dev)
        cameras = cameras.to(dev, torch.float32)
        with torch.no_grad():
            if self.renderer == "splats":
                gaussians = self.avatar.pose(jr, rt, aw)
                out = rasterize(gaussians, cameras, backend="auto", settings=RasterSettings(eps2d=EPS2D))
                alpha = out.alpha[..., 0]
                rgb = linear_to_srgb(out.rgb / alpha.clamp_min(1e-6)[..., None])  # un-premultiply (black background)
                backend = f"splats:{out.backend}"
            else:
                posed = self.proxy.pose(jr, rt, aw)
                rgb, alpha = render_mesh(posed.vertices.cpu(), self.proxy.faces.cpu(), self.proxy.face_uvs.cpu(),
                                         self.texture.cpu(), cameras.to("cpu"))
                backend = "mesh:torch"
        rgba = torch.cat([rgb, alpha[..., None]], -1)
        return (rgba.clamp(0, 1) * 255 + 0.5).byte().cpu().numpy(), backend
