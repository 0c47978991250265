"""The body restricted to the vertices its landmarks read: a landmarks-only fit step poses those alone.

Every MediaPipe landmark of the body model is a weighted sum of a few posed vertices (a body point of up to 413,
a face point of 3, a hand point of 1) and joints; Anny's landmarks read 3815 of its 13718 vertices. A fit step
without the silhouette (a close-up clip's warm-started frames: :mod:`talkavatar.track.video_fit`) needs no other
vertex, so posing only these (skinning, expression offsets, the linearised shape) costs ~28 % of the vertex work
with the same landmarks, up to float rounding (the skinning's sums over fewer vertices). The near-plane bound
(:func:`talkavatar.track.losses.near_plane_loss`) then holds these vertices only.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from talkavatar.core.body.landmark_groups import GroupedLandmarks
from talkavatar.core.body.landmarks import LandmarkMap
from talkavatar.track.fitting import ModelConsts
from talkavatar.track.shape_space import ShapeSpace


def landmark_vertices(landmarks: GroupedLandmarks) -> torch.Tensor:
    """[V'] sorted indices of the vertices some landmark reads (a non-zero weight)."""
    m = landmarks.map
    return torch.unique(m.vertex_indices[m.vertex_weights != 0])


def restricted(consts: ModelConsts, space: ShapeSpace, landmarks: GroupedLandmarks
               ) -> tuple[ModelConsts, ShapeSpace, GroupedLandmarks]:
    """``(consts, space, landmarks)`` on :func:`landmark_vertices` alone: the skinning weights [V', J], expression
    blendshapes [52, V', 3], rest vertices and shape basis of those vertices, and the landmark map re-indexed into
    them (joints, faces and everything else as they were; ``faces`` still index the full mesh: no silhouette)."""
    keep = landmark_vertices(landmarks)
    position = torch.full((space.vertices0.shape[0],), 0, dtype=torch.long, device=keep.device)
    position[keep] = torch.arange(len(keep), device=keep.device)
    m = landmarks.map
    remapped = LandmarkMap(position[m.vertex_indices], m.vertex_weights, m.joint_indices, m.joint_weights, m.sets,
                           m.indices, m.names, m.model)
    components, vertices = space.vertex_basis.shape[0], space.vertices0.shape[0]  # a fixed shape has 0 components
    basis, kink = (b.reshape(components, vertices, 3)[:, keep].reshape(components, 3 * len(keep))
                   for b in (space.vertex_basis, space.vertex_kink))
    sub_space = replace(space, vertices0=space.vertices0[keep], vertex_basis=basis, vertex_kink=kink)
    sub_consts = replace(consts, skin=consts.skin[keep], expression_blendshapes=consts.expression_blendshapes[:, keep])
    return sub_consts, sub_space, GroupedLandmarks(remapped)
