"""Body parts of a rig's surface, from its skinning: each vertex belongs to the part of its strongest bone (used by
pseudo's completion, render's framing and the benchmarks).

Parts (:data:`PARTS`): head (head, eyes, jaw), neck, torso (spine, pelvis, clavicles), upper_arm, forearm, hand
(wrist, metacarpals, fingers), thigh, shin, foot (feet, toes). Bone names of Anny (``upperarm01.L``, ``lowerleg02.R``,
...) and of SMPL-X (``left_shoulder``, ``right_knee``, ...) are both understood; a bone matching nothing is torso.
"""

from __future__ import annotations

import numpy as np
import torch


PARTS = ("torso", "neck", "head", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")
PART = {name: i for i, name in enumerate(PARTS)}
# (part, bone-name prefixes after removing SMPL-X's left_/right_), first match wins
BONE_PREFIXES = (
    ("hand", ("wrist", "finger", "metacarpal", "thumb", "index", "middle", "ring", "pinky", "hand")),
    ("head", ("head", "eye", "jaw")),
    ("neck", ("neck",)),
    ("upper_arm", ("upperarm", "shoulder")),
    ("forearm", ("lowerarm", "elbow")),
    ("thigh", ("upperleg", "hip")),
    ("shin", ("lowerleg", "knee")),
    ("foot", ("foot", "toe", "ankle")),
)
TORSO_BONES = ("shoulder01",)
VISIBLE = 0.5  # MediaPipe landmark visibility above which a landmark counts as seen
PART_LANDMARKS = {"thigh": (25, 26), "shin": (25, 26), "foot": (27, 28)}  # knees, ankles (MediaPipe body points)  # Anny's shoulder01 sits on the torso (SMPL-X's left_shoulder is the upper arm)


def bone_part(name: str) -> int:
    """The :data:`PARTS` index of a bone name."""
    n = name.lower()
    for side in ("left_", "right_"):
        n = n.removeprefix(side)
    if n.startswith(TORSO_BONES):
        return PART["torso"]
    for part, prefixes in BONE_PREFIXES:
        if n.startswith(prefixes):
            return PART[part]
    return PART["torso"]


def strongest_bone_names(rig) -> np.ndarray:
    """[V] the name of each vertex's strongest skinning bone."""
    bones = rig.skin_indices.cpu().numpy()[np.arange(rig.vertices.shape[0]), rig.skin_weights.cpu().numpy().argmax(1)]
    return np.array(rig.bone_names)[bones]


def vertex_parts(rig) -> np.ndarray:
    """[V] int64: each vertex's part (index into :data:`PARTS`)."""
    lookup = {name: bone_part(name) for name in rig.bone_names}
    return np.array([lookup[n] for n in strongest_bone_names(rig)], np.int64)


def texel_parts(rig, face_index: torch.Tensor, barycentrics: torch.Tensor) -> np.ndarray:
    """[N] int64: the part of each texel (the part of its triangle's corner nearest to it); ``face_index`` [N],
    ``barycentrics`` [N, 3] of a :class:`~talkavatar.core.binding.Binding`."""
    corners = rig.faces.cpu()[face_index.cpu()].numpy()  # [N, 3]
    nearest = barycentrics.cpu().numpy().argmax(1)
    return vertex_parts(rig)[corners[np.arange(len(corners)), nearest]]


def hidden_parts(landmarks: np.ndarray, visibility: np.ndarray, width: int, height: int) -> list[int]:
    """Parts (:data:`~talkavatar.core.body.parts.PARTS` indices) the photo did not show: those whose MediaPipe body
    landmarks (``landmarks`` [33, >=2] pixels, ``visibility`` [33]) are all invisible or outside the picture."""
    inside = (landmarks[:, 0] >= 0) & (landmarks[:, 0] < width) & (landmarks[:, 1] >= 0) & (landmarks[:, 1] < height)
    seen = inside & (visibility >= VISIBLE)
    return [PART[name] for name, points in PART_LANDMARKS.items() if not seen[list(points)].any()]
