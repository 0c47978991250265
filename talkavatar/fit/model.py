"""The learnable avatar: the tensors the optimiser changes, and the :class:`~talkavatar.core.avatar.Avatar` they
make. Gaussian shapes (:data:`~talkavatar.fit.config.SHAPES`): ``flat`` discs lying in their triangle's plane, one
learned in-plane scale, :data:`FLAT_RATIO` as thick (an isotropic Gaussian seen edge-on at the silhouette spills ~3
sigma beyond the surface; a disc does not); ``oval`` ellipses in that plane, two learned in-plane scales and the angle
they are turned by about the normal, as thick as FLAT_RATIO times their geometric mean; ``round`` isotropic,
rotation fixed (One Shot One Talk §3.4); ``free`` three scales and a rotation, all learned.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from talkavatar.core.avatar import Avatar, texel_size
from talkavatar.core.binding import Binding, triangle_frames
from talkavatar.core.body.mouth import lip_region_faces
from talkavatar.core.body.rig import Rig
from talkavatar.core.color import srgb_to_linear
from talkavatar.core.expression_appearance import ExpressionAppearance
from talkavatar.core.rotations import matrix_to_quaternion, quaternion_multiply
from talkavatar.fit.config import SHAPES

# Adam learning rates per parameter (3DGS's for appearance; deformation fields after One Shot One Talk §3.4, scaled
# up for short schedules by :func:`learning_rates`).
BASE_LEARNING_RATES = {"offsets": 1e-4, "vertex_offsets": 1e-4, "rgb": 5e-3, "log_scales": 5e-3,
                       "opacity_logit": 2.5e-2, "quats": 1e-3, "turn": 5e-3, "expression_offsets": 1e-4,
                       "expression_rgb": 5e-3}


# Limits :meth:`AvatarParameters.project_` enforces after every step: Gaussian scales (log metres, and at most
# MAX_SCALE_IN_TEXELS (MOUTH_SCALE_IN_TEXELS by the lips) times the texel a Gaussian was born on) and how far a
# Gaussian may leave the deformed mesh surface (|dX - Bary(dT)|, metres; None: no limit; by the lips
# MOUTH_SURFACE_OFFSET). Large scales and Gaussians far from the mesh are what paint
# alpha beyond the silhouette in new views.
LOG_SCALE_RANGE = (-9.2, -3.0)
MAX_SCALE_IN_TEXELS = 3.0
# Around the lip line (core.body.mouth.lip_region_faces) Gaussians stay under 0.75 of their texel, from the start:
# an opening of the size speech makes (3-9 mm) is a few texels tall, and lip Gaussians of a texel or more (grown up
# to 1.5x on a photo whose mouth is closed) cover it with lip colour from both sides: the jaw opens and the mouth
# looks closed (benchmarks/mouth_closeup.py). At 0.75 the disc lattice still closes the surface.
MOUTH_SCALE_IN_TEXELS = 0.75
# ... and within MOUTH_SURFACE_OFFSET of the mesh: a fit to a closed mouth pulled inner-lip and mouth-interior
# Gaussians up to MAX_SURFACE_OFFSET forward into the lip line and coloured them like the lips; when the jaw opened
# they stayed, lip-coloured, in the opening.
MOUTH_SURFACE_OFFSET = 0.002
MAX_SURFACE_OFFSET: float | None = 0.01
FLAT_RATIO = 0.1  # a flat Gaussian's thickness along the face normal, relative to its in-plane scale
# Limits of the expression term per unit ARKit weight (talkavatar.core.expression_appearance): colour change, offset
# length (metres). What geometry cannot explain is a shade or a few millimetres, not a new face.
MAX_EXPRESSION_RGB = 0.3
MAX_EXPRESSION_OFFSET = 0.005


def learning_rates(iters: int, expression: float = 1.0) -> dict[str, float]:
    """Per-parameter learning rates: the base rates, raised by sqrt(2000 / iters) for schedules under 2000 steps;
    the expression term's scaled by ``expression``."""
    boost = max(1.0, (2000 / iters) ** 0.5)
    return {k: v * boost * (expression if k.startswith("expression_") else 1.0)
            for k, v in BASE_LEARNING_RATES.items()}


class AvatarParameters(nn.Module):
    """offsets dX [N, 3]; rgb [N, 3] linear (and initial_rgb [N, 3] anchor_weight [N] and solid_weight [N], the weights
    of the colour anchor and of the solidity prior, and off_photo [N] bool, the Gaussians the photo's losses leave
    out, buffers: as built, kept when a checkpoint is loaded);
    log_scales [N, 1] (flat: in-plane, round: all axes), [N, 2] (oval: in-plane) or [N, 3] (free); quats [N, 4]
    (learned only when free; flat and oval: the rest triangle frames, normal = local z); turn [N, 1] (oval only:
    radians about the normal); opacity_logit [N]; vertex_offsets dT [V, 3]; with ``expression``: the face Gaussians'
    expression term (:class:`~talkavatar.core.expression_appearance.ExpressionAppearance`) as ``expression_offsets``
    and ``expression_rgb`` [M, C, 3] (zero at the start), else None of it."""

    def __init__(self, avatar: Avatar, shape: str = "flat", expression: bool = False):
        super().__init__()
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
        self.rig, self.binding, self.shape = avatar.rig, avatar.binding, shape
        self.offsets = nn.Parameter(avatar.offsets.clone())
        self.rgb = nn.Parameter(avatar.rgb.clone())
        self.register_buffer("initial_rgb", avatar.rgb.detach().clone())  # the colour anchor's target (objective)
        # the anchor's weight per Gaussian: 1 where the photo does not see it, 0 on the head (fit.visibility)
        self.register_buffer("anchor_weight", torch.ones(avatar.rgb.shape[0], dtype=avatar.rgb.dtype,
                                                         device=avatar.rgb.device))
        # the solidity prior's weight per Gaussian: 1 - how squarely the photo sees it, 0 on the head (fit.visibility)
        self.register_buffer("solid_weight", torch.ones_like(self.anchor_weight))
        # the Gaussians the photo's losses leave out: unseen parts where the photo shows no person (fit.visibility)
        self.register_buffer("off_photo", torch.zeros_like(self.anchor_weight, dtype=torch.bool))
        texel = texel_size(self.rig, self.binding)
        lips = lip_region_faces(self.rig)[self.binding.face_index]
        largest = texel * torch.where(lips, MOUTH_SCALE_IN_TEXELS, MAX_SCALE_IN_TEXELS)
        self.register_buffer("max_log_scales", largest.log()[:, None])
        elsewhere = math.inf if MAX_SURFACE_OFFSET is None else MAX_SURFACE_OFFSET
        farthest = torch.where(lips, MOUTH_SURFACE_OFFSET, elsewhere)
        self.register_buffer("max_surface_offsets", farthest[:, None].to(texel))
        scales = avatar.log_scales if shape == "free" else avatar.log_scales[:, :2].mean(-1, keepdim=True)
        if shape == "oval":  # two in-plane scales
            scales = scales.expand(-1, 2)
        self.log_scales = nn.Parameter(torch.minimum(scales, self.max_log_scales).detach().clone())
        self.opacity_logit = nn.Parameter(avatar.opacity_logit.clone())
        self.vertex_offsets = nn.Parameter(avatar.vertex_offsets.clone())
        if shape == "free":
            self.quats = nn.Parameter(avatar.quats.clone())
        elif shape in ("flat", "oval"):
            frames = triangle_frames(self.rig.vertices[None], self.rig.faces)[0]  # rest frames, [F, 3, 3]
            self.register_buffer("quats", matrix_to_quaternion(frames)[self.binding.face_index])
            if shape == "oval":  # radians about the normal (local z)
                self.turn = nn.Parameter(torch.zeros_like(self.opacity_logit.detach())[:, None])
        else:
            self.register_buffer("quats", avatar.quats.clone())
        term = None
        if expression:
            term = avatar.expression or ExpressionAppearance.zeros(self.rig.expression_blendshapes, self.rig.faces,
                                                                   self.binding.face_index)
        self.register_buffer("expression_index", None if term is None else term.index)
        self.register_buffer("expression_channels", None if term is None else term.channels)
        if term is not None:
            self.expression_offsets = nn.Parameter(term.offsets.clone())
            self.expression_rgb = nn.Parameter(term.rgb.clone())

    @classmethod
    def initial(cls, rig: Rig, uv_res: int, texture_srgb: torch.Tensor | None, proxy_offsets: torch.Tensor | None,
                shape: str = "flat", expression: bool = False) -> "AvatarParameters":
        """Gaussians on the rig's UV map, coloured from ``texture_srgb`` [T, T, 3] (resampled to ``uv_res``) and
        moved onto the proxy surface ``proxy_offsets`` [V, 3] (dT = proxy, dX = Bary(dT)) when given; with
        ``expression``, a zero expression term on the face Gaussians."""
        texture = None
        if texture_srgb is not None:
            t = texture_srgb.permute(2, 0, 1)[None]
            if t.shape[-1] != uv_res:
                t = torch.nn.functional.interpolate(t, size=(uv_res, uv_res), mode="area" if t.shape[-1] > uv_res
                                                    else "bilinear")
            texture = srgb_to_linear(t[0].permute(1, 2, 0).clamp(0, 1))
        avatar = Avatar.on_surface(rig, uv_res, texture)
        if proxy_offsets is not None:
            dT = proxy_offsets.to(rig.vertices)
            dX = Binding.interpolate(avatar.binding, dT[None], rig.faces)[0]

            avatar = replace(avatar, offsets=dX, vertex_offsets=dT.clone())
        return cls(avatar, shape, expression)

    def expression(self, **stand_ins: torch.Tensor) -> ExpressionAppearance | None:
        """The current expression term (differentiable), or None when this avatar has none; ``stand_ins`` as
        :meth:`avatar`'s."""
        if self.expression_index is None:
            return None
        t = {k: stand_ins.get(k, getattr(self, k)) for k in ("expression_offsets", "expression_rgb")}
        return ExpressionAppearance(self.expression_index, self.expression_channels, t["expression_offsets"],
                                    t["expression_rgb"])

    def avatar(self, **stand_ins: torch.Tensor) -> Avatar:
        """The current avatar (differentiable in the parameters). ``stand_ins``: tensors to use in place of the
        named parameters (what a graphed posing computes from: :class:`talkavatar.fit.objective.Objective`)."""
        t = {k: stand_ins.get(k, getattr(self, k)) for k in ("offsets", "rgb", "log_scales", "quats",
                                                              "opacity_logit", "vertex_offsets")}
        n = self.binding.count
        quats = t["quats"]
        if self.shape in ("flat", "oval"):
            planar = t["log_scales"].expand(n, 2)
            log_scales = torch.cat([planar, planar.mean(-1, keepdim=True) + math.log(FLAT_RATIO)], -1)
        else:
            log_scales = t["log_scales"].expand(n, 3)
        if self.shape == "oval":
            half = stand_ins.get("turn", self.turn) / 2
            zero = torch.zeros_like(half)
            quats = quaternion_multiply(quats, torch.cat([half.cos(), zero, zero, half.sin()], -1))
        return Avatar(self.rig, self.binding, offsets=t["offsets"], rgb=t["rgb"].clamp(0, 1),
                      log_scales=log_scales, quats=quats, opacity_logit=t["opacity_logit"],
                      vertex_offsets=t["vertex_offsets"], expression=self.expression(**stand_ins))

    def geometry(self) -> dict[str, torch.Tensor]:
        """Copies of the learned shape and placement of the Gaussians: ``offsets`` [N, 3], ``log_scales`` [N, S], and
        ``turn`` [N, 1] (oval) or ``quats`` [N, 4] (free) where the shape learns them; what
        :meth:`restore_geometry_` puts back."""
        learned = dict(self.named_parameters(recurse=False))
        return {name: learned[name].detach().clone() for name in ("offsets", "log_scales", "turn", "quats")
                if name in learned}

    @torch.no_grad()
    def restore_geometry_(self, geometry: dict[str, torch.Tensor], where: torch.Tensor) -> None:
        """The Gaussians ``where`` [N] bool back to ``geometry`` (:meth:`geometry`, e.g. as the fit started)."""
        for name, value in geometry.items():
            getattr(self, name).data[where] = value[where]

    @torch.no_grad()
    def project_(self) -> None:
        """Keep values in range after a step: colours in 0..1, scales within :data:`LOG_SCALE_RANGE` and
        :data:`MAX_SCALE_IN_TEXELS`, Gaussians within :data:`MAX_SURFACE_OFFSET` of the deformed mesh (by the lips:
        the ``MOUTH_`` limits), the expression term within :data:`MAX_EXPRESSION_RGB` and
        :data:`MAX_EXPRESSION_OFFSET` per unit weight."""
        self.rgb.clamp_(0, 1)
        if self.expression_index is not None:
            self.expression_rgb.clamp_(-MAX_EXPRESSION_RGB, MAX_EXPRESSION_RGB)
            length = self.expression_offsets.norm(dim=-1, keepdim=True)
            self.expression_offsets.mul_(length.clamp(max=MAX_EXPRESSION_OFFSET) / length.clamp_min(1e-12))
        self.log_scales.clamp_(*LOG_SCALE_RANGE)
        torch.minimum(self.log_scales, self.max_log_scales, out=self.log_scales)
        anchor = Binding.interpolate(self.binding, self.vertex_offsets[None], self.rig.faces)[0]
        away = self.offsets - anchor
        length = away.norm(dim=-1, keepdim=True)
        self.offsets.copy_(anchor + away * (torch.minimum(length, self.max_surface_offsets) / length.clamp_min(1e-12)))
