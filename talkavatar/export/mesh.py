"""The avatar's skinned mesh as real-time engines want it: one UV per vertex and at most 4 bone weights.

The rig stores UVs per triangle corner; a vertex that sits on a UV seam is split into one vertex per distinct UV
(the copies share position, skinning, normal and blendshape offsets). Positions are the rig's rest vertices plus
the fitted offsets ``dT``. Skinning keeps each vertex's 4 largest weights, renormalised to sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from talkavatar.core.avatar import Avatar

MAX_INFLUENCES = 4


@dataclass(frozen=True)
class SkinnedMesh:
    """``positions`` [V, 3], ``normals`` [V, 3], ``uvs`` [V, 2] (glTF: origin top-left, v down), ``joints``
    [V, 4] int, ``weights`` [V, 4] (rows sum to 1), ``triangles`` [F, 3], ``morph_offsets`` [52, V, 3],
    ``source`` [V] index of each vertex in the rig (where seams split them)."""

    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    triangles: np.ndarray
    morph_offsets: np.ndarray
    source: np.ndarray

    @classmethod
    def of(cls, avatar: Avatar) -> "SkinnedMesh":
        rig = avatar.rig.to("cpu", torch.float64)
        faces = rig.faces.numpy()
        corner_uv = rig.face_uvs.numpy().reshape(-1, 2)
        key = np.stack([faces.reshape(-1), *np.round(corner_uv * (1 << 24)).astype(np.int64).T], 1)
        unique, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        source = unique[:, 0]
        positions = (rig.vertices + avatar.vertex_offsets.detach().cpu().double()).numpy()
        joints, weights = top_influences(rig.skin_indices.numpy(), rig.skin_weights.numpy())
        uvs = corner_uv[first] * [1.0, -1.0] + [0.0, 1.0]
        return cls(positions[source].astype(np.float32), vertex_normals(positions, faces)[source].astype(np.float32),
                   uvs.astype(np.float32), joints[source], weights[source].astype(np.float32),
                   inverse.reshape(-1, 3).astype(np.uint32),
                   rig.expression_blendshapes.numpy()[:, source].astype(np.float32), source)


def top_influences(indices: np.ndarray, weights: np.ndarray, count: int = MAX_INFLUENCES
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` largest of each row's skinning weights (``indices``, ``weights``: [V, K]), renormalised;
    unused slots get joint 0 with weight 0. Returns (joints [V, count] int64, weights [V, count] float64)."""
    order = np.argsort(-weights, axis=1, kind="stable")[:, :count]
    top_w = np.take_along_axis(weights, order, 1).astype(np.float64)
    top_j = np.take_along_axis(indices, order, 1).astype(np.int64)
    if top_w.shape[1] < count:
        pad = count - top_w.shape[1]
        top_w = np.pad(top_w, ((0, 0), (0, pad)))
        top_j = np.pad(top_j, ((0, 0), (0, pad)))
    top_w = np.clip(top_w, 0, None)
    top_w /= np.clip(top_w.sum(1, keepdims=True), 1e-12, None)
    top_j[top_w == 0] = 0
    return top_j, top_w


def vertex_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals [V, 3] of a triangle mesh (``positions`` [V, 3], ``faces`` [F, 3])."""
    corners = positions[faces]
    face_normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.zeros_like(positions)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normal)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    fallback = np.array([0.0, 0.0, 1.0])
    return np.where(length > 1e-20, normals / np.clip(length, 1e-20, None), fallback)
