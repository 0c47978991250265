"""The BodyModel interface: what tracking optimises (shape and pose, differentiably) and what a rig is baked from.

An adapter supplies the model's fixed data (faces, UVs, skinning, bone tree, canonical-joint drivers, expression
blendshapes in ARKit order) and two shape-dependent functions: :meth:`BodyModel.rest` (shaped rest vertices and
joints) and :meth:`BodyModel.rest_to_canonical`. Posing is shared with :class:`~talkavatar.core.body.rig.Rig`
(:func:`~talkavatar.core.body.rig.pose_mesh`), so a baked rig poses exactly like the model it came from.
"""

from __future__ import annotations

import abc
import functools

import torch

from talkavatar.core.body.landmarks import LandmarkMap, landmark_map
from talkavatar.core.body.rig import ARKIT_COUNT, CANONICAL_JOINTS, PosedBody, Rig, pose_mesh
from talkavatar.core.skinning import KinematicTree, dense_weights


class BodyModel(abc.ABC):
    """A parametric body model in talkavatar's frame (metres, +Y up, facing +Z, the person's left at +X).

    Fixed data (tensors on :attr:`device`, float in :attr:`dtype`):
    ``faces`` [F, 3] int64, ``face_uvs`` [F, 3, 2], ``skin_indices``/``skin_weights`` [V, K], ``parents`` [J]
    int64, ``bone_names`` (J), ``bone_driver`` [J] int64, ``bone_driver_fraction`` [J], ``canonical_joint_bone``
    [55] int64, ``expression_blendshapes`` [52, V, 3] (ARKit order), ``shape_names`` (S names) and
    ``default_shape`` [S].
    """

    name: str
    faces: torch.Tensor
    face_uvs: torch.Tensor
    skin_indices: torch.Tensor
    skin_weights: torch.Tensor
    parents: torch.Tensor
    bone_names: tuple[str, ...]
    bone_driver: torch.Tensor
    bone_driver_fraction: torch.Tensor
    canonical_joint_bone: torch.Tensor
    expression_blendshapes: torch.Tensor
    shape_names: tuple[str, ...]
    default_shape: torch.Tensor

    # ---- what adapters implement ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def rest(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shaped rest mesh, neutral expression: ``shape`` [B, S] -> ``(vertices [B, V, 3], joints [B, J, 3])``."""

    @abc.abstractmethod
    def rest_to_canonical(self, joints: torch.Tensor) -> torch.Tensor:
        """Rotations taking each bone from the model's rest pose to the canonical T-pose: [B, J, 3] -> [B, J, 3, 3]."""

    # ---- shared ------------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.faces.device

    @property
    def dtype(self) -> torch.dtype:
        return self.skin_weights.dtype

    @functools.cached_property
    def tree(self) -> KinematicTree:
        return KinematicTree.from_parents(self.parents.tolist()).to(self.device)

    @functools.cached_property
    def dense_skin_weights(self) -> torch.Tensor:
        return dense_weights(self.skin_indices, self.skin_weights, len(self.bone_names))

    @functools.cached_property
    def landmarks(self) -> LandmarkMap:
        """The model's MediaPipe landmark map; evaluate as ``body.landmarks(posed.vertices, posed.joints)``."""
        return landmark_map(self.name, tuple(self.bone_names)).to(self.device)

    def expression_offsets(self, arkit_weights: torch.Tensor) -> torch.Tensor:
        """[B, 52] -> vertex offsets [B, V, 3]."""
        offsets = arkit_weights.to(self.dtype) @ self.expression_blendshapes.reshape(ARKIT_COUNT, -1)
        return offsets.reshape(arkit_weights.shape[0], -1, 3)

    def forward(self, shape: torch.Tensor, joint_rotations: torch.Tensor,
                root_translation: torch.Tensor | None = None,
                arkit_weights: torch.Tensor | None = None) -> PosedBody:
        """Differentiable posing in every input.

        ``shape``: [B or 1, S]; ``joint_rotations``: [B, 55, 3] canonical axis-angle (pelvis = global orientation);
        ``root_translation``: [B, 3]; ``arkit_weights``: [B, 52]. Hand poses are the finger entries of
        ``joint_rotations``.
        """
        if joint_rotations.dim() != 3 or joint_rotations.shape[1:] != (CANONICAL_JOINTS, 3):
            raise ValueError(f"joint_rotations must be [B, {CANONICAL_JOINTS}, 3], got {list(joint_rotations.shape)}")
        vertices, joints = self.rest(shape.to(self.dtype))
        if arkit_weights is not None:
            vertices = vertices + self.expression_offsets(arkit_weights)
        batch = joint_rotations.shape[0]
        joints = joints.expand(batch, -1, -1)
        return pose_mesh(self.tree, vertices, joints, self.rest_to_canonical(joints), self.dense_skin_weights,
                         self.bone_driver, self.bone_driver_fraction, self.canonical_joint_bone,
                         joint_rotations.to(self.dtype),
                         None if root_translation is None else root_translation.to(self.dtype))

    __call__ = forward

    @torch.no_grad()
    def bake_rig(self, shape: torch.Tensor | None = None) -> Rig:
        """The personal rig of one person: ``shape`` [S] (default: :attr:`default_shape`) -> :class:`Rig` (float32,
        on the CPU)."""
        shape = self.default_shape if shape is None else shape
        vertices, joints = self.rest(shape.reshape(1, -1).to(self.dtype))
        rig = Rig(vertices=vertices[0], faces=self.faces, face_uvs=self.face_uvs, skin_indices=self.skin_indices,
                  skin_weights=self.skin_weights, parents=self.parents, joints=joints[0],
                  rest_to_canonical=self.rest_to_canonical(joints)[0], bone_driver=self.bone_driver,
                  bone_driver_fraction=self.bone_driver_fraction, canonical_joint_bone=self.canonical_joint_bone,
                  expression_blendshapes=self.expression_blendshapes, bone_names=tuple(self.bone_names),
                  model=self.name)
        return rig.to("cpu", torch.float32)
