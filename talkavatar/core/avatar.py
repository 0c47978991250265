"""The avatar: Gaussians bound to a personal rig through its UV map (One Shot One Talk §3.1 with GUAVA's binding).

Each Gaussian sits at a fixed barycentric point of a rig triangle plus a learned canonical-space offset ``dX``; it
moves with the barycentric blend of its triangle's LBS transforms and turns with its triangle's frame. The mesh
carries its own learned vertex offsets ``dT`` (used by the mesh regularisers during fitting and by anything that
needs the clothed surface); the loss ``|dX - Bary(dT)|`` keeps the two together. Posing needs only this module,
the rig and the binding: no body-model package.

Stored as ``fit/avatar.safetensors`` (schema ``talkavatar.avatar``) beside the rig (``talkavatar.rig``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle.artifacts import read_avatar as read_tensors
from talkavatar.bundle.store import stage_command
from talkavatar.bundle.tensors import load_tensors, save_tensors
from talkavatar.core.binding import Binding, triangle_frames
from talkavatar.core.expression_appearance import ExpressionAppearance
from talkavatar.core.body.rig import Rig
from talkavatar.core.rotations import matrix_to_quaternion, quaternion_multiply
from talkavatar.core.skinning import matvec
from talkavatar.core.splats import Gaussians
from talkavatar.errors import InvalidInput

SCHEMA = "talkavatar.avatar"
AVATAR_FILE = "avatar.safetensors"
RIG_FILE = "rig.safetensors"
SURFACE_OPACITY = 0.95  # a new avatar's Gaussians (Avatar.on_surface)


@dataclass(frozen=True)
class RigFrame:
    """The rig's part of posing a batch of B frames (:meth:`Avatar.rig_frame`): posed vertices [B, V, 3], their
    blended LBS transforms [B, V, 3, 4], the turn of each Gaussian's triangle from rest, wxyz [B, N, 4], and each
    Gaussian's point on its posed triangle [B, N, 3] and its triangle's blended linear transform [B, N, 3, 3] (what
    carries its offset into the pose: :meth:`Binding.positions`'s parts, kept so that a fit does not gather them
    from the vertices at every step)."""

    vertices: torch.Tensor
    vertex_transforms: torch.Tensor
    turns: torch.Tensor
    points: torch.Tensor
    linear: torch.Tensor

    def select(self, index: torch.Tensor) -> "RigFrame":
        """The frames at ``index`` [K] (long)."""
        return RigFrame(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass(frozen=True)
class Avatar:
    """A rig plus ``N`` bound Gaussians. Float tensors share one device and dtype.

    offsets: [N, 3] canonical-space dX (metres); rgb: [N, 3] linear 0..1; log_scales: [N, 3];
    quats: [N, 4] wxyz rotation relative to the Gaussian's rest triangle frame; opacity_logit: [N];
    vertex_offsets: [V, 3] canonical-space dT of the rig's vertices (metres); expression: the face Gaussians'
    expression-dependent colour and offset (:mod:`talkavatar.core.expression_appearance`) or None.
    """

    rig: Rig
    binding: Binding
    offsets: torch.Tensor
    rgb: torch.Tensor
    log_scales: torch.Tensor
    quats: torch.Tensor
    opacity_logit: torch.Tensor
    vertex_offsets: torch.Tensor
    expression: ExpressionAppearance | None = None

    def __post_init__(self):
        n, v = self.binding.count, self.rig.vertices.shape[0]
        want = {"offsets": (n, 3), "rgb": (n, 3), "log_scales": (n, 3), "quats": (n, 4), "opacity_logit": (n,),
                "vertex_offsets": (v, 3)}
        for name, shape in want.items():
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"avatar {name} has shape {list(got)}, expected {list(shape)}")

    @property
    def count(self) -> int:
        return self.binding.count

    @classmethod
    def on_surface(cls, rig: Rig, uv_res: int, texture: torch.Tensor | None = None,
                   opacity: float = SURFACE_OPACITY) -> "Avatar":
        """Gaussians at texel centres of a ``uv_res``² UV map, isotropic, one texel wide.

        ``texture``: optional [uv_res, uv_res, 3] linear colours, row 0 at the top (v = 1); grey otherwise.
        """
        binding = Binding.from_uv(rig.face_uvs, uv_res).to(rig.device)
        n = binding.count
        if texture is not None:
            col, row = binding.texel[:, 0], binding.texel[:, 1]
            rgb = texture.to(rig.device, rig.dtype)[row, col]
        else:
            rgb = torch.full((n, 3), 0.5, dtype=rig.dtype, device=rig.device)
        scale = texel_size(rig, binding)
        quats = torch.zeros(n, 4, dtype=rig.dtype, device=rig.device)
        quats[:, 0] = 1
        return cls(rig, binding, offsets=torch.zeros(n, 3, dtype=rig.dtype, device=rig.device), rgb=rgb,
                   log_scales=scale.log()[:, None].expand(n, 3).clone(), quats=quats,
                   opacity_logit=torch.full((n,), math.log(opacity / (1 - opacity)), dtype=rig.dtype,
                                            device=rig.device),
                   vertex_offsets=torch.zeros_like(rig.vertices))

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Avatar":
        changes = {f.name: getattr(self, f.name).to(device=device, dtype=dtype)
                   for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)}
        expression = None if self.expression is None else self.expression.to(device, dtype)
        return replace(self, rig=self.rig.to(device, dtype), binding=self.binding.to(device, dtype),
                       expression=expression, **changes)

    def rig_frame(self, joint_rotations: torch.Tensor, root_translation: torch.Tensor | None = None,
                  arkit_weights: torch.Tensor | None = None) -> RigFrame:
        """What posing takes from the rig alone (no Gaussian parameter in it), for a batch of frames: a fit keeps it
        for a view whose pose does not change (:meth:`pose`'s ``frame``). Arguments as :meth:`pose`'s."""
        posed = self.rig.pose(joint_rotations, root_translation, arkit_weights)
        faces, index = self.rig.faces, self.binding.face_index
        if len(index) < len(faces):  # fewer Gaussians than triangles (tiny preset): only the triangles they are on
            faces, index = faces[index], slice(None)
        rest_frames = triangle_frames(self.rig.rest_vertices(arkit_weights), faces)  # [B or 1, F, 3, 3]
        face_turn = triangle_frames(posed.vertices, faces) @ rest_frames.transpose(-1, -2)  # [B, F, 3, 3]
        points, linear = self.binding.anchors(posed.vertices, self.rig.faces, posed.vertex_transforms)
        return RigFrame(posed.vertices, posed.vertex_transforms, matrix_to_quaternion(face_turn)[:, index], points,
                        linear)

    def pose(self, joint_rotations: torch.Tensor, root_translation: torch.Tensor | None = None,
             arkit_weights: torch.Tensor | None = None, frame: RigFrame | None = None) -> Gaussians:
        """Posed Gaussians for a batch of frames, fields [B, N, ...].

        ``joint_rotations``: [B, 55, 3] canonical axis-angle; ``root_translation``: [B, 3]; ``arkit_weights``: [B, 52];
        ``frame``: :meth:`rig_frame` of these arguments, made earlier (the same numbers, without the rig's work).
        """
        frame = self.rig_frame(joint_rotations, root_translation, arkit_weights) if frame is None else frame
        offsets, rgb = self.offsets, self.rgb
        if self.expression is not None and arkit_weights is not None:
            offsets, rgb = self.expression.apply(offsets, rgb, arkit_weights)
        # each Gaussian's point and linear transform are read from the rig frame (made once per frame; a fit keeps
        # the photo's and the pseudo frames'), not gathered from the posed vertices at every call: the same numbers
        means = frame.points + matvec(frame.linear, offsets.to(frame.points.dtype))
        quats = quaternion_multiply(frame.turns, self.quats)
        b = means.shape[0]
        return Gaussians(means=means, quats=quats, log_scales=self.log_scales.expand(b, -1, -1),
                         opacity_logit=self.opacity_logit.expand(b, -1), rgb=rgb.expand(b, -1, -1))

    # ---- storage -----------------------------------------------------------------------------------------------
    def to_tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Arrays and metadata of the ``talkavatar.avatar`` file (the rig is stored on its own)."""
        tensors = {"face_index": self.binding.face_index, "barycentrics": self.binding.barycentrics,
                   "texel": self.binding.texel}
        tensors.update({f.name: getattr(self, f.name) for f in fields(self)
                        if isinstance(getattr(self, f.name), torch.Tensor)})
        if self.expression is not None:
            tensors.update(self.expression.tensors())
        arrays = {}
        for name, t in tensors.items():
            t = t.detach().cpu()
            arrays[name] = (t.float() if t.is_floating_point() else t.long()).numpy()
        return arrays, {"uv_resolution": str(self.binding.uv_res)}  # the file's name for uv_res (bundle format)

    @classmethod
    def from_tensors(cls, rig: Rig, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> "Avatar":
        index = tensors["face_index"]
        if index.size and (index.min() < 0 or index.max() >= rig.faces.shape[0]):
            raise ValueError("avatar Gaussians refer to triangles the rig does not have")
        t = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}
        binding = Binding(t.pop("face_index"), t.pop("barycentrics"), t.pop("texel"), int(metadata["uv_resolution"]))
        expression = ExpressionAppearance.from_tensors(t, binding.count)
        return cls(rig.to(dtype=torch.float32), binding, **t, expression=expression)

    def save(self, directory: Path) -> None:
        """Write ``avatar.safetensors`` and ``rig.safetensors`` into ``directory`` (e.g. a stage writer's ``dir``)."""
        self.rig.save(Path(directory) / RIG_FILE)
        tensors, metadata = self.to_tensors()
        save_tensors(Path(directory) / AVATAR_FILE, tensors, SCHEMA, metadata)

    @classmethod
    def load(cls, directory: Path) -> "Avatar":
        """Read what :meth:`save` wrote (validated against both schemas)."""
        rig = Rig.load(Path(directory) / RIG_FILE)
        return cls.from_tensors(rig, *load_tensors(Path(directory) / AVATAR_FILE, SCHEMA))



def read_avatar(bundle, by: str) -> Avatar:
    """The bundle's fitted avatar (:func:`talkavatar.bundle.artifacts.read_avatar`: present, fresh, unchanged);
    ``by``: the command that needs it (for the message)."""
    rig, avatar = read_tensors(bundle, by)
    try:
        return Avatar.from_tensors(Rig.from_tensors(*rig), *avatar)
    except (ValueError, KeyError) as e:
        raise InvalidInput(f"{bundle.root}/fit: the avatar does not fit its rig ({e})",
                           tip=f"rerun {stage_command('fit', bundle.root, force=True)}") from None

def texel_size(rig: Rig, binding: Binding) -> torch.Tensor:
    """Metres covered by one texel around each Gaussian, [N]: sqrt(3D area / UV area) of its triangle / R."""
    corners = rig.vertices[rig.faces]  # [F, 3, 3]
    area3 = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]).norm(dim=-1) / 2
    uv = rig.face_uvs
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area_uv = (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).abs() / 2
    per_face = (area3 / area_uv.clamp_min(1e-12)).sqrt() / binding.uv_res
    return per_face[binding.face_index].clamp(1e-4, 0.05)
