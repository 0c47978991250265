"""SMPL-X as a :class:`BodyModel`, from the user's own model files (licence-gated; never shipped or baked).

The model directory comes from the caller or ``$TALKAVATAR_SMPLX_DIR`` and holds ``SMPLX_{NEUTRAL,MALE,FEMALE}.npz``
(directly or under ``smplx/``), the files the ``smplx`` package reads. We read the arrays ourselves with
``numpy.load(allow_pickle=False)`` (the ``smplx`` loader allows pickles) and pose them with talkavatar's skinning;
the tests check the result against the ``smplx`` package's own forward pass.

Mapping: SMPL-X's 55 joints are the canonical skeleton, its rest pose is the canonical T-pose (``rest_to_canonical``
is the identity) and its frame is talkavatar's (+Y up, facing +Z). Hand poses are full axis-angle per finger joint
with a flat-hand zero (``flat_hand_mean=True``, no PCA).

Gaps (documented, not hidden):
- Pose-corrective blendshapes (``posedirs``) are not applied: rigs pose with plain LBS.
- ARKit -> SMPL-X expression: SMPL-X expression coefficients have no principled map from ARKit weights and stay
  zero; ``jawOpen`` becomes a blendshape equal to the first-order displacement of the jaw joint opening by
  :data:`JAW_OPEN_RADIANS`; the other 51 ARKit blendshapes are zeros. The canonical ``jaw`` rotation drives the jaw
  joint directly.
- UVs: from ``vt``/``ft`` when the file has them, else all zeros (UV-bound Gaussians then need the Anny model).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch
from smplx.vertex_ids import vertex_ids

from talkavatar.core.body.base import BodyModel
from talkavatar.core.body.landmarks import FACE_POINTS, HAND_NAMES, POSE_NAMES, LandmarkMap
from talkavatar.core.rotations import skew
from talkavatar.errors import InvalidInput, MissingDependency
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX, JOINT_NAMES, JOINT_PARENTS

#: jaw opening (radians about +X) that ARKit ``jawOpen = 1`` stands for on SMPL-X; an approximation of a wide-open
#: mouth (~23 degrees), not a measured calibration.
JAW_OPEN_RADIANS = 0.4
ENV = "TALKAVATAR_SMPLX_DIR"
_REQUIRED = ("v_template", "f", "J_regressor", "kintree_table", "weights", "shapedirs")
_OPTIONAL = ("vt", "ft", "lmk_faces_idx", "lmk_bary_coords")
#: iBUG-68 points 17..67 (the 51 static face landmarks SMPL-X files carry, in order) -> MediaPipe Face Mesh index.
IBUG51_TO_MEDIAPIPE = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300,  # brows, person's right then left
                       168, 197, 5, 4, 98, 97, 2, 326, 327,  # nose bridge to tip, nostrils right to left
                       33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes, right then left
                       61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lips from the right corner
                       78, 82, 13, 312, 308, 317, 14, 87)  # inner lips
#: SMPL-X surface points the smplx package names (``smplx.vertex_ids``), for the MediaPipe points they match.
_POSE_VERTEX = {"nose": "nose", "left_eye": "leye", "right_eye": "reye", "left_ear": "lear", "right_ear": "rear",
                "left_heel": "LHeel", "right_heel": "RHeel", "left_foot_index": "LBigToe",
                "right_foot_index": "RBigToe"}
_TIP_VERTEX = {"thumb_tip": "thumb", "index_tip": "index", "middle_tip": "middle", "ring_tip": "ring",
               "pinky_tip": "pinky"}


def find_model_file(model_dir: str | os.PathLike | None = None, gender: str = "neutral") -> Path:
    """The SMPL-X ``.npz`` file for ``gender`` in ``model_dir`` (default ``$TALKAVATAR_SMPLX_DIR``)."""
    root = model_dir if model_dir is not None else os.environ.get(ENV)
    if not root:
        raise MissingDependency("no SMPL-X model directory given",
                                tip=f"download SMPL-X from smpl-x.is.tue.mpg.de and pass --smplx-dir or set ${ENV}")
    name = f"SMPLX_{gender.upper()}.npz"
    for candidate in (Path(root) / name, Path(root) / "smplx" / name, Path(root)):
        if candidate.is_file():
            return candidate
    raise MissingDependency(f"{name} not found in {root}",
                            tip=f"point --smplx-dir or ${ENV} at the folder holding {name}")


class SMPLXBody(BodyModel):
    """SMPL-X as a :class:`BodyModel`. Shape [S]: the first ``num_betas`` shape coefficients (default 0)."""

    name = "smplx"

    def __init__(self, model_dir: str | os.PathLike | None = None, gender: str = "neutral", num_betas: int = 10,
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32):
        path = find_model_file(model_dir, gender)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k in _REQUIRED + _OPTIONAL}
        except (OSError, ValueError) as e:
            raise InvalidInput(f"{path}: not a readable SMPL-X model file ({e})",
                               tip="use the .npz files of the SMPL-X download") from None
        missing = [k for k in _REQUIRED if k not in arrays]
        if missing:
            raise InvalidInput(f"{path}: SMPL-X model file lacks {missing}")
        self.path = path
        to = dict(device=device, dtype=dtype)
        self.template = torch.as_tensor(arrays["v_template"]).to(**to)
        shapedirs = torch.as_tensor(arrays["shapedirs"])
        self.num_betas = min(num_betas, shapedirs.shape[-1])
        self.shape_blendshapes = shapedirs[..., :self.num_betas].permute(2, 0, 1).reshape(self.num_betas, -1).to(**to)
        self.joint_regressor = torch.as_tensor(arrays["J_regressor"]).to(**to)
        parents = torch.as_tensor(arrays["kintree_table"][0].astype(np.int64))
        parents[0] = -1
        if len(parents) < len(JOINT_NAMES) or tuple(parents[1:len(JOINT_NAMES)].tolist()) != \
                tuple(JOINT_PARENTS[1:]):
            raise InvalidInput(f"{path}: the joint tree is not SMPL-X's")
        self.parents = parents[:len(JOINT_NAMES)].to(device)
        weights = torch.as_tensor(arrays["weights"])[:, :len(JOINT_NAMES)].to(**to)
        k = min(8, weights.shape[1])
        top = weights.topk(k, dim=1)
        self.skin_indices = top.indices.to(device)
        self.skin_weights = top.values / top.values.sum(1, keepdim=True)
        self.faces = torch.as_tensor(arrays["f"].astype(np.int64)).to(device)
        if "vt" in arrays and "ft" in arrays:
            vt = torch.as_tensor(arrays["vt"]).to(**to)
            self.face_uvs = vt[torch.as_tensor(arrays["ft"].astype(np.int64))]
        else:
            self.face_uvs = torch.zeros(self.faces.shape[0], 3, 2, **to)
        self.bone_names = tuple(JOINT_NAMES)
        self.bone_driver = torch.arange(len(JOINT_NAMES), device=device)
        self.bone_driver_fraction = torch.ones(len(JOINT_NAMES), **to)
        self.canonical_joint_bone = torch.arange(len(JOINT_NAMES), device=device)
        self.shape_names = tuple(f"beta{i}" for i in range(self.num_betas))
        self.default_shape = torch.zeros(self.num_betas, **to)
        self._dense_full_weights = weights
        self._landmark_faces = arrays.get("lmk_faces_idx")
        self._landmark_bary = arrays.get("lmk_bary_coords")

    @functools.cached_property
    def landmarks(self) -> LandmarkMap:
        """MediaPipe landmarks on SMPL-X, built from the user's file (never shipped): joints for the body and hand
        joints, the ``smplx`` package's named vertices for nose/eyes/ears/heels/toes/fingertips, and the file's 51
        static face landmarks (iBUG order) for the face (51 points: SMPL-X files carry no more; the pose eye
        corners and mouth corners come from them too)."""
        named = vertex_ids["smplx"]
        points = []

        def add(set_name, index, name, vertices=(), joints=()):
            points.append({"set": set_name, "index": index, "name": name, "vertices": list(vertices),
                           "joints": list(joints)})

        face = {}
        if self._landmark_faces is not None and self._landmark_bary is not None:
            corners = self.faces.cpu()[torch.as_tensor(self._landmark_faces.astype(np.int64))]
            for k, index in enumerate(IBUG51_TO_MEDIAPIPE):
                face[index] = [(int(corners[k, m]), float(self._landmark_bary[k, m])) for m in range(3)]
        pose_from_face = {"left_eye_inner": 362, "left_eye_outer": 263, "right_eye_inner": 133,
                          "right_eye_outer": 33, "mouth_left": 291, "mouth_right": 61}
        knuckles = {"pinky": "pinky1", "index": "index1", "thumb": "thumb2"}
        for index, name in enumerate(POSE_NAMES):
            side = name.split("_")[0]
            if name in _POSE_VERTEX:
                add("pose", index, name, vertices=[(named[_POSE_VERTEX[name]], 1.0)])
            elif name in pose_from_face:
                if pose_from_face[name] in face:
                    add("pose", index, name, vertices=face[pose_from_face[name]])
            elif name.split("_", 1)[1] in knuckles:
                add("pose", index, name, joints=[(f"{side}_{knuckles[name.split('_', 1)[1]]}", 1.0)])
            else:
                add("pose", index, name, joints=[(name, 1.0)])
        hand_joints = {"wrist": "wrist", "thumb_cmc": "thumb1", "thumb_mcp": "thumb2", "thumb_ip": "thumb3",
                       **{f"{f}_{k}": f"{f}{i}" for f in ("index", "middle", "ring", "pinky")
                          for k, i in (("mcp", 1), ("pip", 2), ("dip", 3))}}
        for side in ("left", "right"):
            for index, name in enumerate(HAND_NAMES):
                if name in _TIP_VERTEX:
                    add(f"{side}_hand", index, f"{side}_{name}",
                        vertices=[(named[side[0] + _TIP_VERTEX[name]], 1.0)])
                else:
                    add(f"{side}_hand", index, f"{side}_{name}", joints=[(f"{side}_{hand_joints[name]}", 1.0)])
        names = {index: name for name, index in FACE_POINTS.items()}
        for index, vertices in face.items():
            add("face", index, names.get(index, f"mediapipe_{index}"), vertices=vertices)
        return LandmarkMap.from_json({"model": "smplx", "landmarks": points}, self.bone_names).to(self.device)

    @property
    def expression_blendshapes(self) -> torch.Tensor:
        """[52, V, 3] for the neutral shape (see the module docstring); :meth:`rest` recomputes nothing here, the
        jaw blendshape is taken at the default shape."""
        if not hasattr(self, "_expressions"):
            vertices, joints = self.rest(self.default_shape[None])
            self._expressions = self.jaw_open_blendshape(vertices[0], joints[0])
        return self._expressions

    def jaw_open_blendshape(self, vertices: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        """[52, V, 3]: zeros except ``jawOpen``, the first-order displacement of opening the jaw by
        :data:`JAW_OPEN_RADIANS` about +X. ``vertices`` [V, 3], ``joints`` [J, 3] at rest."""
        jaw = JOINT_INDEX["jaw"]
        omega = torch.tensor([JAW_OPEN_RADIANS, 0.0, 0.0], dtype=vertices.dtype, device=vertices.device)
        moved = (skew(omega) @ (vertices - joints[jaw])[..., None]).squeeze(-1)
        out = torch.zeros(52, *vertices.shape, dtype=vertices.dtype, device=vertices.device)
        out[ARKIT_INDEX["jawOpen"]] = self._dense_full_weights[:, jaw, None] * moved
        return out

    def rest(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch = shape.shape[0]
        vertices = self.template + (shape[:, :self.num_betas] @ self.shape_blendshapes).reshape(batch, -1, 3)
        joints = torch.einsum("jv,bvc->bjc", self.joint_regressor, vertices)[:, :len(JOINT_NAMES)]
        return vertices, joints

    def rest_to_canonical(self, joints: torch.Tensor) -> torch.Tensor:
        eye = torch.eye(3, dtype=joints.dtype, device=joints.device)
        return eye.expand(joints.shape[0], joints.shape[1], 3, 3)
