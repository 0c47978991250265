"""The body model's MediaPipe landmark map (``core.body.landmarks``), split into the groups tracking fits.

Groups: ``body`` (the 33 pose points), ``face`` (the mapped Face Mesh subset), ``left_hand`` and ``right_hand``
(21 each), each ordered by MediaPipe index.
"""

from __future__ import annotations

import numpy as np
import torch

GROUP_SETS = {"body": "pose", "face": "face", "left_hand": "left_hand", "right_hand": "right_hand"}


class GroupedLandmarks:
    """Evaluate a :class:`~talkavatar.core.body.landmarks.LandmarkMap` per group on a ``PosedBody``."""

    def __init__(self, landmark_map, device=None):
        self.map = landmark_map if device is None else landmark_map.to(device)
        self.rows = {g: self.map.select(s) for g, s in GROUP_SETS.items()}
        self._index = {g: self.map.indices[r].cpu().numpy() for g, r in self.rows.items()}
        self._support = {g: _compact(self.map.vertex_indices[r], self.map.vertex_weights[r])
                         for g, r in self.rows.items()}
        self._scatter = _scatter_order(self.map.vertex_indices, self.map.vertex_weights)
        self._order = torch.argsort(torch.cat(list(self.rows.values())))  # the map's rows from the groups' side by side

    def __call__(self, posed) -> dict[str, torch.Tensor]:
        """posed: a ``PosedBody`` of B frames → {group: [B, K_group, 3]}, bitwise what the map itself gives
        (``LandmarkMap.__call__``, forwards and backwards) at less than half its cost: each landmark is summed from
        its non-zero vertex weights only (the map pads every row to 413 vertices; the padding adds exact zeros) and
        the gradient reaches the vertices in the map's own order (:class:`_VertexRows`). On CUDA the same sums with
        autograd's own backward (a sort by vertex: deterministic, and no ``index_put_`` reading its indices back to
        the host, so a fit step can be replayed from a CUDA graph), equal up to rounding."""
        vertices, joints, rows = posed.vertices, posed.joints, self.rows  # rows: on the map's device (no copy)
        if vertices.is_cuda:
            points = torch.cat([_vertex_sum(vertices, *self._support[g]) for g in rows], 1)[:, self._order]
        else:
            points = _VertexRows.apply(vertices, self._support, rows, self._scatter)
        u = self.map.joint_weights.to(joints.dtype)
        points = points + (joints[:, self.map.joint_indices] * u[None, ..., None]).sum(2)
        return {g: points[:, r] for g, r in rows.items()}

    def vertex_support(self, group: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The vertices each landmark of ``group`` is a weighted sum of: (indices, weights) [K_group, S] (the map's
        padding dropped: S is the group's largest count of non-zero weights)."""
        return self._support[group]

    def mediapipe_index(self, group: str) -> np.ndarray:
        """[K_group] MediaPipe index of each model landmark of ``group``."""
        return self._index[group]

    def row(self, group: str, mediapipe_index: int) -> int | None:
        """Position of MediaPipe point ``mediapipe_index`` within ``group``, or None if the map lacks it."""
        hits = np.flatnonzero(self._index[group] == mediapipe_index)
        return int(hits[0]) if hits.size else None

    def to(self, device) -> "GroupedLandmarks":
        return GroupedLandmarks(self.map, device)


def _vertex_sum(vertices: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The vertex part of a group's landmarks: vertices [B, V, 3], its ``support`` (indices, weights) [K_g, S] ->
    [B, K_g, 3]."""
    return (vertices[:, indices] * weights.to(vertices.dtype)[None, ..., None]).sum(2)


class _VertexRows(torch.autograd.Function):
    """The vertex part of every landmark: vertices [B, V, 3] → [B, K, 3] (K: the map's rows), the groups' rows
    summed from their compact ``support`` ({group: (indices, weights) [K_g, S_g]}) at their ``rows`` ({group: [K_g]});
    backwards, each row's gradient times its weights is added into its vertices one by one in ``scatter``'s order
    (the map's rows and columns, as torch's padded gather accumulates them: same rounding)."""

    @staticmethod
    def forward(ctx, vertices, support, rows, scatter):
        out = vertices.new_zeros(vertices.shape[0], sum(len(r) for r in rows.values()), 3)
        for g, r in rows.items():
            out[:, r] = _vertex_sum(vertices, *support[g])
        ctx.scatter, ctx.shape = scatter, vertices.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        row, target, weight = ctx.scatter
        contributions = grad[:, row] * weight.to(grad.dtype)[None, :, None]           # [B, E, 3]
        out = grad.new_zeros(ctx.shape)
        for b in range(out.shape[0]):  # accumulated one element at a time, in order (deterministic on CUDA too)
            out[b].view(-1).index_put_((target,), contributions[b].reshape(-1), accumulate=True)
        return out, None, None, None


def _scatter_order(indices: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The map's non-zero entries in row-major order: (row [E], flat target [3E]: vertex * 3 + coordinate, weight
    [E])."""
    row, column = torch.nonzero(weights != 0, as_tuple=True)
    vertex = indices[row, column].long()
    target = (vertex[:, None] * 3 + torch.arange(3, device=vertex.device)).reshape(-1)
    return row, target, weights[row, column]


def _compact(indices: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[K, S] indices and weights with the padding columns dropped: each row's non-zero weights first, in their
    order, then zeros, cut to the largest count of non-zero weights of any row (at least 1). The map pads every row
    to its longest (a face point's 3 barycentric vertices padded to a body point's 413)."""
    nonzero = weights != 0
    width = max(1, int(nonzero.sum(1).max())) if weights.numel() else 1
    order = torch.argsort((~nonzero).to(torch.int8), dim=1, stable=True)[:, :width]
    return indices.gather(1, order), weights.gather(1, order)
