"""Landmark maps: where MediaPipe Holistic's points sit on a body model (33 pose, 2 x 21 hand, a face subset).

A landmark is a linear function of the posed mesh and joints, so it is exact under any shape, pose and expression
and differentiable: ``point = sum_s w_s * vertices[i_s] + sum_t u_t * joints[j_t]`` (a barycentric point on a
triangle has three vertex weights; a joint centre has one joint weight). Maps are data files in ``data/`` made by
``scripts/derive_landmarks.py`` (which says how each point was derived); they are tied to a model's topology.

MediaPipe naming: "left" is the person's left. Face points use MediaPipe Face Mesh indices (0..477, 468 and 473
are the iris centres of the refined model).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import torch

POSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
HAND_NAMES: tuple[str, ...] = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip", "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip", "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
#: Semantic face points -> MediaPipe Face Mesh index. "left"/"right" are the person's.
FACE_POINTS: dict[str, int] = {
    **{f"right_eye_{k}": i for k, i in (("outer", 33), ("inner", 133), ("upper", 159), ("lower", 145),
                                        ("upper_outer", 160), ("upper_inner", 158), ("lower_outer", 144),
                                        ("lower_inner", 153))},
    **{f"left_eye_{k}": i for k, i in (("outer", 263), ("inner", 362), ("upper", 386), ("lower", 374),
                                       ("upper_outer", 387), ("upper_inner", 385), ("lower_outer", 373),
                                       ("lower_inner", 380))},
    "right_iris": 468, "left_iris": 473,
    **{f"right_brow_{k}": i for k, i in enumerate((70, 63, 105, 66, 107))},  # outer -> inner
    **{f"left_brow_{k}": i for k, i in enumerate((300, 293, 334, 296, 336))},
    **{f"nose_{k}": i for k, i in (("bridge_top", 168), ("bridge", 6), ("dorsum_upper", 197), ("dorsum", 195),
                                   ("dorsum_lower", 5), ("above_tip", 4), ("tip", 1), ("subnasale", 2),
                                   ("right_wing", 98), ("left_wing", 327), ("right_ala", 129), ("left_ala", 358))},
    # Lip contours, each loop from the person's right mouth corner over the upper lip and back under the lower lip.
    **{f"lip_outer_{k}": i for k, i in enumerate((61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405,
                                                   314, 17, 84, 181, 91, 146))},
    **{f"lip_inner_{k}": i for k, i in enumerate((78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402,
                                                   317, 14, 87, 178, 88, 95))},
    # Face oval from the person's right temple-level cheek, down the jaw to the chin and up to the left.
    **{f"jaw_{k}": i for k, i in enumerate((234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379,
                                            365, 397, 288, 361, 323, 454))},
}
#: MediaPipe Face Mesh's face-oval contour (forehead, round the jaw and back).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
SETS = ("pose", "left_hand", "right_hand", "face")


@dataclass(frozen=True)
class LandmarkMap:
    """K landmarks as linear functions of the posed vertices and joints.

    ``vertex_indices``/``vertex_weights``: [K, S] (padding: weight 0), ``joint_indices``/``joint_weights``: [K, T];
    ``sets`` [K] index into :data:`SETS`; ``indices`` [K]: the MediaPipe index within the set; ``names``: K names.
    """

    vertex_indices: torch.Tensor
    vertex_weights: torch.Tensor
    joint_indices: torch.Tensor
    joint_weights: torch.Tensor
    sets: torch.Tensor
    indices: torch.Tensor
    names: tuple[str, ...]
    model: str

    def __call__(self, vertices: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        """``vertices`` [B, V, 3], ``joints`` [B, J, 3] (a ``PosedBody``'s) -> landmarks [B, K, 3]."""
        w = self.vertex_weights.to(vertices.dtype)
        u = self.joint_weights.to(joints.dtype)
        return ((vertices[:, self.vertex_indices] * w[None, ..., None]).sum(2)
                + (joints[:, self.joint_indices] * u[None, ..., None]).sum(2))

    def select(self, set_name: str) -> torch.Tensor:
        """Rows of the landmarks of one set (``"pose"``, ``"left_hand"``, ``"right_hand"``, ``"face"``), ordered by
        MediaPipe index: [n] long."""
        rows = torch.nonzero(self.sets == SETS.index(set_name)).squeeze(1)
        return rows[torch.argsort(self.indices[rows])]

    def to(self, device) -> "LandmarkMap":
        return LandmarkMap(self.vertex_indices.to(device), self.vertex_weights.to(device),
                           self.joint_indices.to(device), self.joint_weights.to(device), self.sets.to(device),
                           self.indices.to(device), self.names, self.model)

    @classmethod
    def from_json(cls, doc: dict, bone_names: tuple[str, ...]) -> "LandmarkMap":
        """Build from the data-file document (see ``scripts/derive_landmarks.py``); joints are named by bone."""
        points = doc["landmarks"]
        s = max(1, max(len(p["vertices"]) for p in points))
        t = max(1, max(len(p["joints"]) for p in points))
        vi = torch.zeros(len(points), s, dtype=torch.int64)
        vw = torch.zeros(len(points), s)
        ji = torch.zeros(len(points), t, dtype=torch.int64)
        jw = torch.zeros(len(points), t)
        bone = {name: k for k, name in enumerate(bone_names)}
        for k, p in enumerate(points):
            for m, (index, weight) in enumerate(p["vertices"]):
                vi[k, m], vw[k, m] = index, weight
            for m, (name, weight) in enumerate(p["joints"]):
                ji[k, m], jw[k, m] = bone[name], weight
        sets = torch.tensor([SETS.index(p["set"]) for p in points])
        indices = torch.tensor([p["index"] for p in points])
        return cls(vi, vw, ji, jw, sets, indices, tuple(p["name"] for p in points), doc["model"])


def load_landmark_document(model: str) -> dict:
    """The packaged landmark data file of ``model`` (e.g. ``"anny"``)."""
    path = resources.files("talkavatar.core.body") / "data" / f"{model}_landmarks.json"
    if not path.is_file():
        raise KeyError(f"no landmark map for body model {model!r}")
    return json.loads(path.read_text())


@functools.cache
def landmark_map(model: str, bone_names: tuple[str, ...]) -> LandmarkMap:
    """The packaged map of ``model``, with joints resolved against ``bone_names``."""
    return LandmarkMap.from_json(load_landmark_document(model), bone_names)
