"""Model landmarks matching MediaPipe's points (provisional map until ``core.body`` ships its own).

Body (BlazePose 33): Anny's own COCO-WholeBody vertex regressor (``anny/data/keypoints/coco.pth``: nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles, heels, big toes). Hands (21 each): the canonical finger joints
(bone heads) for wrist, CMC/MCP/PIP/DIP points; finger tips are not mapped. Face (478): nose tip and iris centres
from the same regressor. Points without a model counterpart are simply not fitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from talkavatar.motion.names import JOINT_INDEX

_BODY_FROM_COCO = {  # MediaPipe pose index -> COCO-WholeBody label of Anny's regressor
    0: "nose", 2: "left_eye", 5: "right_eye", 7: "left_ear", 8: "right_ear", 11: "left_shoulder",
    12: "right_shoulder", 13: "left_elbow", 14: "right_elbow", 15: "left_wrist", 16: "right_wrist", 23: "left_hip",
    24: "right_hip", 25: "left_knee", 26: "right_knee", 27: "left_ankle", 28: "right_ankle", 29: "left_heel",
    30: "right_heel", 31: "left_big_toe", 32: "right_big_toe",
}
_FACE_FROM_COCO = {1: "nose", 473: "left_eye", 468: "right_eye"}  # face mesh index -> COCO label
_HAND_FROM_JOINT = {0: "wrist", 1: "thumb1", 2: "thumb2", 3: "thumb3", 5: "index1", 6: "index2", 7: "index3",
                    9: "middle1", 10: "middle2", 11: "middle3", 13: "ring1", 14: "ring2", 15: "ring3",
                    17: "pinky1", 18: "pinky2", 19: "pinky3"}


@dataclass(frozen=True)
class LandmarkMap:
    """regressor: [R, V] vertex weights; groups[g] = (mediapipe_index [K] long, source [K] long), where source
    indexes the concatenation (regressor rows, then the 55 canonical joints)."""

    regressor: torch.Tensor
    groups: dict[str, tuple[torch.Tensor, torch.Tensor]]

    def __call__(self, vertices: torch.Tensor, canonical_joints: torch.Tensor) -> dict[str, torch.Tensor]:
        """vertices [B, V, 3], canonical_joints [B, 55, 3] → {group: [B, K, 3]}."""
        regressed = torch.einsum("rv,bvc->brc", self.regressor, vertices)
        pool = torch.cat([regressed, canonical_joints], 1)
        return {g: pool[:, source] for g, (_, source) in self.groups.items()}

    def mediapipe_index(self, group: str) -> np.ndarray:
        return self.groups[group][0].cpu().numpy()


def anny_landmark_map(body) -> LandmarkMap:
    from anny.paths import get_anny_root_dir

    model = body._model
    data = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True, map_location="cpu")
    labels = sorted(set(_BODY_FROM_COCO.values()) | set(_FACE_FROM_COCO.values()))
    rows = {label: i for i, label in enumerate(labels)}
    base = model.base_mesh_vertex_indices.cpu()
    regressor = torch.stack([data[label][base].to(torch.float64) for label in labels])
    regressor = regressor / regressor.sum(1, keepdim=True)
    joints_at = len(labels)

    def group(table: dict[int, str], joint: bool = False, side: str = ""):
        mp = torch.tensor(sorted(table), dtype=torch.long)
        if joint:
            src = torch.tensor([joints_at + JOINT_INDEX[f"{side}_{table[k]}"] for k in sorted(table)])
        else:
            src = torch.tensor([rows[table[k]] for k in sorted(table)])
        return mp.to(body.device), src.to(body.device)

    groups = {"body": group(_BODY_FROM_COCO), "face": group(_FACE_FROM_COCO),
              "left_hand": group(_HAND_FROM_JOINT, True, "left"), "right_hand": group(_HAND_FROM_JOINT, True, "right")}
    return LandmarkMap(regressor.to(body.device, body.dtype), groups)
