"""The personal rig: a person's baked body model, all that fit/render/eval need to pose them (no body-model package).

A rig is a shaped template mesh in its own rest pose, a joint tree with LBS weights, ARKit expression blendshapes
and the map from the canonical SMPL-X skeleton (``talkavatar.motion.JOINT_NAMES``) onto its bones.

Canonical pose -> rig (the contract every adapter bakes): the canonical rest pose is the SMPL-X one (T-pose, arms
along +-X, palms down, +Y up, facing +Z, the person's left at +X). ``rest_to_canonical[j]`` is the world rotation
that takes bone ``j`` from the rig's rest pose to that canonical rest pose. Bone ``j`` is driven by canonical joint
``bone_driver[j]`` (-1: none) with ``bone_driver_fraction[j]`` of its axis-angle (a canonical joint spread over
several bones gives each a fraction). Its local rotation, in the world-aligned rest axes of :mod:`skinning`, is
``R_j = A_p^T Exp(f_j theta_d) A_j`` with ``A = rest_to_canonical`` (``A_p = I`` for the root), so a zero pose gives
the canonical rest pose and a canonical joint rotation acts in canonical axes. The root's driver is the canonical
pelvis, whose rotation is the global orientation (about the pelvis joint); ``root_translation`` is added last.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle.tensors import load_tensors, save_tensors
from talkavatar.core.body.landmarks import landmark_map
from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.core.skinning import (KinematicTree, SparseWeights, dense_weights, forward_kinematics,
                                      linear_blend_skinning, skinning_transforms)
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES

SCHEMA = "talkavatar.rig"
CANONICAL_JOINTS = len(JOINT_NAMES)
ARKIT_COUNT = len(ARKIT_NAMES)


@dataclass(frozen=True)
class PosedBody:
    """A posed batch: ``vertices`` [B, V, 3], ``joints`` [B, J, 3] (the rig's bones), ``canonical_joints``
    [B, 55, 3] (canonical SMPL-X joint positions as the rig places them), ``vertex_transforms`` [B, V, 3, 4] (the
    blended LBS transform of each vertex, root translation included; rest vertex with expressions -> posed vertex)."""

    vertices: torch.Tensor
    joints: torch.Tensor
    canonical_joints: torch.Tensor
    vertex_transforms: torch.Tensor


def local_rotations(joint_rotations: torch.Tensor, rest_to_canonical: torch.Tensor, parents: torch.Tensor,
                    bone_driver: torch.Tensor, bone_driver_fraction: torch.Tensor) -> torch.Tensor:
    """Canonical axis-angle [B, 55, 3] -> the rig's local rotations [B, J, 3, 3] (see the module docstring).

    ``rest_to_canonical``: [J, 3, 3] or [B, J, 3, 3]; ``parents``: [J] (root -1); ``bone_driver``: [J] long (-1:
    undriven); ``bone_driver_fraction``: [J].
    """
    batch = joint_rotations.shape[0]
    padded = torch.cat([joint_rotations, joint_rotations.new_zeros(batch, 1, 3)], 1)  # index -1 -> zeros
    driver = torch.where(bone_driver < 0, torch.full_like(bone_driver, padded.shape[1] - 1), bone_driver)
    theta = padded[:, driver] * bone_driver_fraction[:, None].to(padded.dtype)
    rotation = axis_angle_to_matrix(theta)  # [B, J, 3, 3]
    a = rest_to_canonical if rest_to_canonical.dim() == 4 else rest_to_canonical[None]
    parent_a = a[:, parents.clamp_min(0)].transpose(-1, -2)
    root = (parents < 0)[:, None, None]
    parent_a = torch.where(root, torch.eye(3, dtype=a.dtype, device=a.device), parent_a)
    return parent_a @ rotation @ a


def pose_mesh(tree: KinematicTree, vertices: torch.Tensor, joints: torch.Tensor, rest_to_canonical: torch.Tensor,
              weights: torch.Tensor | SparseWeights, bone_driver: torch.Tensor, bone_driver_fraction: torch.Tensor,
              canonical_joint_bone: torch.Tensor, joint_rotations: torch.Tensor,
              root_translation: torch.Tensor | None) -> PosedBody:
    """Pose a rest mesh (the shared path of :meth:`Rig.pose` and the differentiable body models).

    ``vertices``: [B or 1, V, 3] rest vertices, expressions already applied; ``joints``: [J, 3] or [B, J, 3];
    ``weights``: [V, J] dense or :class:`~talkavatar.core.skinning.SparseWeights`; ``canonical_joint_bone``: [55]
    rig bone placing each canonical joint;
    ``joint_rotations``: [B, 55, 3]; ``root_translation``: [B, 3] or None.
    """
    local = local_rotations(joint_rotations, rest_to_canonical, tree.parent_index, bone_driver, bone_driver_fraction)
    global_rotations, posed_joints = forward_kinematics(tree, local, joints)
    if root_translation is not None:
        posed_joints = posed_joints + root_translation[:, None]
    transforms = skinning_transforms(global_rotations, posed_joints, joints)
    posed, blended = linear_blend_skinning(vertices, weights, transforms)
    return PosedBody(posed, posed_joints, posed_joints[:, canonical_joint_bone], blended)


@dataclass(frozen=True)
class Rig:
    """A baked personal rig. Shapes (float32 unless noted; metres, +Y up, facing +Z):

    - ``vertices`` [V, 3]: shaped template in the rig's rest pose, neutral expression.
    - ``faces`` [F, 3] int64; ``face_uvs`` [F, 3, 2]: per-corner UVs in 0..1 (v up, OpenGL style).
    - ``skin_indices`` [V, K] int64, ``skin_weights`` [V, K]: top-K LBS weights (rows sum to 1).
    - ``parents`` [J] int64 (root: -1, at index 0); ``joints`` [J, 3]: rest joint (bone head) positions;
      ``bone_names``: J names.
    - ``rest_to_canonical`` [J, 3, 3]; ``bone_driver`` [J] int64; ``bone_driver_fraction`` [J];
      ``canonical_joint_bone`` [55] int64: see the module docstring.
    - ``expression_blendshapes`` [52, V, 3]: vertex offsets at weight 1 of each ARKit blendshape, in
      ``ARKIT_NAMES`` order (zeros where the model has none).
    - ``model``: the body model it was baked from (e.g. ``"anny"``), for provenance.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    face_uvs: torch.Tensor
    skin_indices: torch.Tensor
    skin_weights: torch.Tensor
    parents: torch.Tensor
    joints: torch.Tensor
    rest_to_canonical: torch.Tensor
    bone_driver: torch.Tensor
    bone_driver_fraction: torch.Tensor
    canonical_joint_bone: torch.Tensor
    expression_blendshapes: torch.Tensor
    bone_names: tuple[str, ...]
    model: str

    def __post_init__(self):
        v, j, f = self.vertices.shape[0], self.joints.shape[0], self.faces.shape[0]
        checks = {
            "vertices": (self.vertices.shape, (v, 3)), "faces": (self.faces.shape, (f, 3)),
            "face_uvs": (self.face_uvs.shape, (f, 3, 2)), "skin_weights": (self.skin_weights.shape[:1], (v,)),
            "skin_indices": (self.skin_indices.shape, self.skin_weights.shape), "parents": (self.parents.shape, (j,)),
            "rest_to_canonical": (self.rest_to_canonical.shape, (j, 3, 3)),
            "bone_driver": (self.bone_driver.shape, (j,)),
            "bone_driver_fraction": (self.bone_driver_fraction.shape, (j,)),
            "canonical_joint_bone": (self.canonical_joint_bone.shape, (CANONICAL_JOINTS,)),
            "expression_blendshapes": (self.expression_blendshapes.shape, (ARKIT_COUNT, v, 3)),
            "bone_names": ((len(self.bone_names),), (j,)),
        }
        for name, (got, want) in checks.items():
            if tuple(got) != tuple(want):
                raise ValueError(f"rig {name} has shape {list(got)}, expected {list(want)}")

    # ---- derived, cached per instance -------------------------------------------------------------------------
    @functools.cached_property
    def tree(self) -> KinematicTree:
        return KinematicTree.from_parents(self.parents.tolist()).to(self.vertices.device)

    @functools.cached_property
    def dense_skin_weights(self) -> torch.Tensor:
        """[V, J] dense LBS weights (what the matrix-product skinning uses)."""
        return dense_weights(self.skin_indices, self.skin_weights, self.joints.shape[0])

    @functools.cached_property
    def landmarks(self):
        """The MediaPipe :class:`~talkavatar.core.body.landmarks.LandmarkMap` of the model this rig was baked from
        (same topology); evaluate as ``rig.landmarks(posed.vertices, posed.joints)``."""
        return landmark_map(self.model, tuple(self.bone_names)).to(self.device)

    @property
    def device(self) -> torch.device:
        return self.vertices.device

    @property
    def dtype(self) -> torch.dtype:
        return self.vertices.dtype

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Rig":
        """A copy on ``device`` with floating tensors cast to ``dtype``."""
        changes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                changes[f.name] = value.to(device=device, dtype=dtype if value.is_floating_point() else None)
        return replace(self, **changes)

    # ---- posing ----------------------------------------------------------------------------------------------------
    def rest_vertices(self, arkit_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Rest vertices with expressions: [B, V, 3] for ``arkit_weights`` [B, 52], or [1, V, 3] for None."""
        if arkit_weights is None:
            return self.vertices[None]
        if arkit_weights.shape[-1] != ARKIT_COUNT:
            raise ValueError(f"arkit_weights must be [B, {ARKIT_COUNT}], got {list(arkit_weights.shape)}")
        offsets = arkit_weights.to(self.dtype) @ self.expression_blendshapes.reshape(ARKIT_COUNT, -1)
        return self.vertices[None] + offsets.reshape(arkit_weights.shape[0], -1, 3)

    def pose(self, joint_rotations: torch.Tensor, root_translation: torch.Tensor | None = None,
             arkit_weights: torch.Tensor | None = None) -> PosedBody:
        """Pose a batch of frames.

        ``joint_rotations``: [B, 55, 3] canonical local axis-angle (index 0, the pelvis, is the global orientation);
        ``root_translation``: [B, 3] metres or None; ``arkit_weights``: [B, 52] or None.
        """
        if joint_rotations.dim() != 3 or joint_rotations.shape[1:] != (CANONICAL_JOINTS, 3):
            raise ValueError(f"joint_rotations must be [B, {CANONICAL_JOINTS}, 3], got {list(joint_rotations.shape)}")
        joint_rotations = joint_rotations.to(self.dtype)
        if root_translation is not None:
            root_translation = root_translation.to(self.dtype)
        return pose_mesh(self.tree, self.rest_vertices(arkit_weights), self.joints, self.rest_to_canonical,
                         self.dense_skin_weights, self.bone_driver, self.bone_driver_fraction,
                         self.canonical_joint_bone, joint_rotations, root_translation)

    # ---- storage -----------------------------------------------------------------------------------------------------
    def to_tensors(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Arrays and metadata for a ``talkavatar.rig`` safetensors file (schema in ``bundle/schemas``)."""
        tensors = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                array = value.detach().cpu()
                array = array.float() if array.is_floating_point() else array.long()
                tensors[f.name] = array.numpy()
        metadata = {"bone_names": json.dumps(list(self.bone_names)), "model": self.model,
                    "joint_names": json.dumps(list(JOINT_NAMES)), "arkit_names": json.dumps(list(ARKIT_NAMES))}
        return tensors, metadata

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> "Rig":
        if json.loads(metadata["joint_names"]) != list(JOINT_NAMES) or \
                json.loads(metadata["arkit_names"]) != list(ARKIT_NAMES):
            raise ValueError("rig file uses another canonical joint or blendshape order")
        values = {name: torch.from_numpy(np.array(array)) for name, array in tensors.items()}
        return cls(**values, bone_names=tuple(json.loads(metadata["bone_names"])), model=metadata["model"])

    def save(self, path: Path) -> None:
        tensors, metadata = self.to_tensors()
        save_tensors(Path(path), tensors, SCHEMA, metadata)

    @classmethod
    def load(cls, path: Path) -> "Rig":
        return cls.from_tensors(*load_tensors(Path(path), SCHEMA))
