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

    def __init__(self, landmark_map, device=None, compact: bool = False):
        self.map = landmark_map if device is None else landmark_map.to(device)
        self.compact = compact
        self.rows = {g: self.map.select(s) for g, s in GROUP_SETS.items()}
        self._index = {g: self.map.indices[r].cpu().numpy() for g, r in self.rows.items()}
        self._support = {g: _compact(self.map.vertex_indices[r], self.map.vertex_weights[r])
                         for g, r in self.rows.items()}

    def __call__(self, posed) -> dict[str, torch.Tensor]:
        """posed: a ``PosedBody`` of B frames → {group: [B, K_group, 3]}. ``compact``: from each landmark's non-zero
        vertex weights only (the same values up to rounding, ~2x cheaper: the map pads every row to 413 vertices);
        else from the padded map (bitwise what photo figures were measured with)."""
        if not self.compact:
            points = self.map(posed.vertices, posed.joints)
            return {g: points[:, r] for g, r in self.rows.items()}
        out = {}
        for g, r in self.rows.items():
            (vi, vw), ji, jw = self._support[g], self.map.joint_indices[r], self.map.joint_weights[r]
            out[g] = ((posed.vertices[:, vi] * vw.to(posed.vertices.dtype)[None, ..., None]).sum(2)
                      + (posed.joints[:, ji] * jw.to(posed.joints.dtype)[None, ..., None]).sum(2))
        return out

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
        return GroupedLandmarks(self.map, device, self.compact)

    def compacted(self) -> "GroupedLandmarks":
        """The same landmarks evaluated from their non-zero weights only (``compact``)."""
        return GroupedLandmarks(self.map, None, compact=True)


def _compact(indices: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[K, S] indices and weights with the padding columns dropped: each row's non-zero weights first, in their
    order, then zeros, cut to the largest count of non-zero weights of any row (at least 1). The map pads every row
    to its longest (a face point's 3 barycentric vertices padded to a body point's 413)."""
    nonzero = weights != 0
    width = max(1, int(nonzero.sum(1).max())) if weights.numel() else 1
    order = torch.argsort((~nonzero).to(torch.int8), dim=1, stable=True)[:, :width]
    return indices.gather(1, order), weights.gather(1, order)
