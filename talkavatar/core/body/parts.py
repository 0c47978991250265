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
TORSO_BONES = ("shoulder01",)  # Anny's shoulder01 sits on the torso (SMPL-X's left_shoulder is the upper arm)
VISIBLE = 0.5  # MediaPipe landmark visibility above which a landmark counts as seen
TORSO_POINTS = ((11, 12), (23, 24))  # shoulders, hips (MediaPipe body points)
LEGS = ((25, 27), (26, 28))  # (knee, ankle) of each leg
KNEE_BELOW = 0.25  # a seen knee lies at least this many torso lengths beyond the hips along the torso's axis


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


def nearest_corners(rig, face_index: torch.Tensor, barycentrics: torch.Tensor) -> np.ndarray:
    """[N] int64: the vertex of each texel's triangle nearest to it; ``face_index`` [N], ``barycentrics`` [N, 3] of a
    :class:`~talkavatar.core.binding.Binding`."""
    corners = rig.faces.cpu()[face_index.cpu()].numpy()  # [N, 3]
    return corners[np.arange(len(corners)), barycentrics.cpu().numpy().argmax(1)]


def texel_parts(rig, face_index: torch.Tensor, barycentrics: torch.Tensor) -> np.ndarray:
    """[N] int64: the part of each texel (the part of its :func:`nearest_corners`)."""
    return vertex_parts(rig)[nearest_corners(rig, face_index, barycentrics)]


def knee_below_hips(landmarks: np.ndarray, knee: int) -> float:
    """How far the MediaPipe body point ``knee`` (of ``landmarks`` [33, >=2] pixels) lies beyond the hips' centre
    along the torso's axis (shoulders' centre to hips' centre), in torso lengths: a standing leg's knee ~0.8, a
    cropped body's knee that MediaPipe puts on the belly <= 0 (compare with :data:`KNEE_BELOW`)."""
    shoulders, hips = (landmarks[list(pair), :2].mean(0) for pair in TORSO_POINTS)
    axis = hips - shoulders
    return float((landmarks[knee, :2] - hips) @ axis) / max(float(axis @ axis), 1e-12)


def hidden_parts(landmarks: np.ndarray, visibility: np.ndarray, width: int, height: int) -> list[int]:
    """Parts (:data:`~talkavatar.core.body.parts.PARTS` indices) the photo did not show, from its MediaPipe body
    landmarks (``landmarks`` [33, >=2] pixels, ``visibility`` [33]). A leg shows its thigh when its knee is seen
    (visible, inside the picture) and lies beyond the hips along the torso's axis (shoulders to hips; MediaPipe
    puts a cropped body's knees on its belly with a high visibility, and the fit then folds the legs into the
    picture), its shin and foot when the thigh is shown and its ankle is seen too. Thighs, shins and feet shown by
    neither leg are hidden."""
    inside = (landmarks[:, 0] >= 0) & (landmarks[:, 0] < width) & (landmarks[:, 1] >= 0) & (landmarks[:, 1] < height)
    seen = inside & (visibility >= VISIBLE)
    shown = {"thigh": False, "shin": False, "foot": False}
    for knee, ankle in LEGS:
        thigh = bool(seen[knee]) and knee_below_hips(landmarks, knee) >= KNEE_BELOW
        shown["thigh"] |= thigh
        shown["shin"] |= thigh and bool(seen[ankle])
    shown["foot"] = shown["shin"]
    return [PART[name] for name, visible in shown.items() if not visible]
