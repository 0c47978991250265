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

    def __call__(self, posed) -> dict[str, torch.Tensor]:
        """posed: a ``PosedBody`` of B frames → {group: [B, K_group, 3]}."""
        points = self.map(posed.vertices, posed.joints)
        return {g: points[:, r] for g, r in self.rows.items()}

    def mediapipe_index(self, group: str) -> np.ndarray:
        """[K_group] MediaPipe index of each model landmark of ``group``."""
        return self._index[group]

    def row(self, group: str, mediapipe_index: int) -> int | None:
        """Position of MediaPipe point ``mediapipe_index`` within ``group``, or None if the map lacks it."""
        hits = np.flatnonzero(self._index[group] == mediapipe_index)
        return int(hits[0]) if hits.size else None

    def to(self, device) -> "GroupedLandmarks":
        return GroupedLandmarks(self.map, device)
