"""The Anny body model (``anny==0.6.2``, Apache-2.0 code, CC0 assets) as a :class:`BodyModel`.

We use Anny's shape space (6 phenotypes and its "default" local changes), its rest mesh, bone heads, LBS weights,
UVs and 52 ARKit facial actions, and pose with talkavatar's own skinning (:mod:`talkavatar.core.skinning`), not
with Anny's bone frames. Anny's frame is +Z up, facing -Y; we rotate it into talkavatar's (+Y up, facing +Z).

Canonical SMPL-X joints -> Anny bones (:data:`CANONICAL_TO_ANNY`): one bone each, except
``spine2`` (spine03 + spine02, half each), ``neck`` (neck01 + neck02), ``head`` (neck03 + head) and
``left/right_foot`` (the first bone of each of the five toes). Gaps: Anny's default rig has no jaw bone, so the
canonical ``jaw`` rotation is ignored (mouth opening comes from the ARKit ``jawOpen`` blendshape, scaled by
:data:`JAW_GAIN`); spine05,
pelvis.L/R, shoulder01, the twist bones (upperarm02, lowerarm02, lowerleg02), the metacarpals and the toe
phalanges beyond the first are not driven.

Rest pose: Anny rests in an A-pose with bent elbows; the canonical rest is SMPL-X's T-pose. ``rest_to_canonical``
swings each upper arm and forearm onto +-X and turns each hand so its fingers point along +-X with the palm down
(thumb side +Z); the forearm twist bone takes half of the forearm-to-hand turn, fingers and metacarpals follow the
hand rigidly (their rest curl is Anny's), legs, spine, neck and head keep Anny's rest directions.

Data: :mod:`~talkavatar.core.body.anny_data` (talkavatar's cache of what this adapter uses; the anny package is
imported only to build it).
"""

from __future__ import annotations

import functools

import torch

from talkavatar.core.body.anny_data import anny_data
from talkavatar.core.body.base import BodyModel
from talkavatar.core.rotations import axis_angle_to_matrix, matrix_to_quaternion, rotation_between
from talkavatar.motion.names import ARKIT_INDEX, JOINT_NAMES

JAW_GAIN = 1.6
"""Anny's ``jawOpen`` (and ``mouthClose``, which cancels it on the lips) times this: at weight 1 Anny's lower lip
drops 25 mm, about half an adult's largest opening (40-50 mm), and the 3 mm its lips overlap at rest swallow the
first 0.12 of the weight: speech (jawOpen median 0.12, 90th percentile 0.4) then parted the lips by 0-7 mm, which
an independent face tracker did not see move on a fitted avatar (benchmarks/mouth_closeup.py); 1.6 makes weight 1
a 40 mm drop."""
_TOES = ("toe1-1", "toe2-1", "toe3-1", "toe4-1", "toe5-1")
_FINGERS = {"thumb": "finger1", "index": "finger2", "middle": "finger3", "ring": "finger4", "pinky": "finger5"}


def _canonical_map() -> dict[str, list[tuple[str, float]]]:
    table: dict[str, list[tuple[str, float]]] = {
        "pelvis": [("root", 1.0)], "spine1": [("spine04", 1.0)], "spine2": [("spine03", 0.5), ("spine02", 0.5)],
        "spine3": [("spine01", 1.0)], "neck": [("neck01", 0.5), ("neck02", 0.5)],
        "head": [("neck03", 0.5), ("head", 0.5)], "jaw": [],
        "left_eye_smplhf": [("eye.L", 1.0)], "right_eye_smplhf": [("eye.R", 1.0)],
    }
    for side, s in (("left", "L"), ("right", "R")):
        table.update({
            f"{side}_hip": [(f"upperleg01.{s}", 1.0)], f"{side}_knee": [(f"lowerleg01.{s}", 1.0)],
            f"{side}_ankle": [(f"foot.{s}", 1.0)], f"{side}_foot": [(f"{t}.{s}", 1.0) for t in _TOES],
            f"{side}_collar": [(f"clavicle.{s}", 1.0)], f"{side}_shoulder": [(f"upperarm01.{s}", 1.0)],
            f"{side}_elbow": [(f"lowerarm01.{s}", 1.0)], f"{side}_wrist": [(f"wrist.{s}", 1.0)],
        })
        for finger, bone in _FINGERS.items():
            for k in (1, 2, 3):
                table[f"{side}_{finger}{k}"] = [(f"{bone}-{k}.{s}", 1.0)]
    assert set(table) == set(JOINT_NAMES)
    return table


#: canonical joint -> [(Anny bone, fraction of the rotation)]
CANONICAL_TO_ANNY = _canonical_map()
#: the bone whose position stands for a canonical joint where that is not the first bone of its list
_POSITION_BONE = {"jaw": "head", "left_foot": "toe3-1.L", "right_foot": "toe3-1.R", "spine2": "spine03",
                  "neck": "neck01", "head": "head"}


def phenotype_weights(phenotypes: torch.Tensor, labels: list[str], variations: list[tuple[str, tuple[str, ...]]],
                      anchors: dict[str, torch.Tensor], mask: torch.Tensor, extrapolate: bool) -> torch.Tensor:
    """Anny's phenotype blendshape coefficients (``anny.models.phenotype.phenotype_blendshape_weights`` of anny
    0.6.2, Apache-2.0, written again so that posing needs no import of anny; tests compare the two).

    ``phenotypes`` [B, P] named by ``labels`` (others are 0.5); ``variations``: each phenotype's variations in
    Anny's order; ``anchors``: the interpolation anchors [a] of each phenotype but ``race``; ``mask`` [K, n]: the
    variations each blendshape multiplies. Each phenotype's value is interpolated linearly between its anchors
    (clamped unless ``extrapolate``); the race values are normalised to sum 1. -> [B, K]."""
    batch = phenotypes.shape[0]

    def value(label: str) -> torch.Tensor:
        return phenotypes[:, labels.index(label)] if label in labels else phenotypes.new_full((batch,), 0.5)

    columns = []
    for feature, names in variations:
        if feature == "race":
            race = torch.stack([value(k) for k in names], 1)
            columns.append(torch.nan_to_num(race / race.sum(1, keepdim=True), 1 / 3, 1 / 3, 1 / 3))
        else:
            columns.append(_interpolation_weights(value(feature), anchors[feature], extrapolate))
    variation_weights = torch.cat(columns, 1)  # [B, n]
    return torch.prod(variation_weights[:, None] * mask + (1 - mask), dim=-1)


def _interpolation_weights(value: torch.Tensor, anchors: torch.Tensor, extrapolate: bool) -> torch.Tensor:
    """Weights [B, a] of ``value`` [B] between its two enclosing ``anchors`` [a] (increasing), as Anny computes
    them (``torch.where`` clamps, so a value on the boundary keeps a one-sided gradient)."""
    if not extrapolate:
        value = torch.where(value < anchors[0], anchors[0], value)
        value = torch.where(value > anchors[-1], anchors[-1], value)
    count = len(anchors)
    upper = torch.searchsorted(anchors, value.contiguous(), side="left").clamp(1, count - 1)
    alpha = (value - anchors[upper - 1]) / (anchors[upper] - anchors[upper - 1])
    weights = torch.zeros(len(value), count, dtype=anchors.dtype, device=anchors.device)
    rows = torch.arange(len(value), device=value.device)
    weights[rows, upper - 1] = 1.0 - alpha
    weights[rows, upper] = alpha
    return weights


class AnnyBody(BodyModel):
    """Anny as a :class:`BodyModel`. Shape [S]: the 6 phenotypes (``gender, age, muscle, weight, height,
    proportions`` in 0..1, default 0.5), then, with ``local_changes=True``, Anny's 288 default local changes (-1..1,
    default 0). Without them the shape blendshape basis is ~10x smaller and the forward pass correspondingly
    cheaper. The data come from :func:`~talkavatar.core.body.anny_data.anny_data` (talkavatar's cache)."""

    name = "anny"

    def __init__(self, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 local_changes: bool = True):
        data = anny_data(dtype, local_changes)
        # copies (fresh, aligned memory: BLAS may round differently on the file's 8-byte aligned data)
        t = {k: v.to(device, copy=True) for k, v in data.tensors.items()}
        self.template, self.template_joints = t["template"], t["template_joints"]
        self.shape_blendshapes, self.joint_blendshapes = t["shape_blendshapes"], t["joint_blendshapes"]
        self.expression_blendshapes = t["expression_blendshapes"]
        self.expression_blendshapes[[ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]]] *= JAW_GAIN
        self.faces, self.face_uvs = t["faces"], t["face_uvs"]
        self.skin_indices, self.skin_weights, self.parents = t["skin_indices"], t["skin_weights"], t["parents"]
        self._local_changes = local_changes
        # What the phenotype -> blendshape-coefficient map needs (:func:`phenotype_weights`), on our device.
        labels = data.labels
        self._phenotype_labels = labels["phenotype_labels"]
        self._phenotype_count = len(self._phenotype_labels)
        self._variations = [(k, tuple(v)) for k, v in labels["variations"]]
        self._anchors = {k.removeprefix("anchor/"): v for k, v in t.items() if k.startswith("anchor/")}
        self._variation_mask, self._projection = t["variation_mask"], t.get("projection")
        self._extrapolate = labels["extrapolate"]
        self.bone_names = tuple(labels["bone_names"])
        local_names = tuple(labels["local_names"])
        self.shape_names = tuple(self._phenotype_labels) + local_names
        self.default_shape = torch.cat([torch.full((self._phenotype_count,), 0.5),
                                        torch.zeros(len(local_names))]).to(device=device, dtype=dtype)

        index = {name: i for i, name in enumerate(self.bone_names)}
        driver = torch.full((len(self.bone_names),), -1, dtype=torch.int64)
        fraction = torch.zeros(len(self.bone_names))
        position_bone = []
        for joint, name in enumerate(JOINT_NAMES):
            for bone, share in CANONICAL_TO_ANNY[name]:
                driver[index[bone]] = joint
                fraction[index[bone]] = share
            position_bone.append(index[_POSITION_BONE.get(name) or CANONICAL_TO_ANNY[name][0][0]])
        self.bone_driver = driver.to(device)
        self.bone_driver_fraction = fraction.to(device=device, dtype=dtype)
        self.canonical_joint_bone = torch.tensor(position_bone, device=device)
        self._index = index

    # ---- shape -------------------------------------------------------------------------------------------------
    def shape_coefficients(self, shape: torch.Tensor) -> torch.Tensor:
        """[B, S] -> coefficients of the shape blendshapes (compact phenotype basis, then the local changes as
        interleaved positive and negative parts), as Anny computes them."""
        phenotypes = shape[:, :self._phenotype_count]
        weights = phenotype_weights(phenotypes, self._phenotype_labels, self._variations, self._anchors,
                                    self._variation_mask, self._extrapolate)
        if self._projection is not None:
            weights = weights @ self._projection
        if not self._local_changes:
            return weights
        local = shape[:, self._phenotype_count:]
        # Anny's ReLU split, written so that the gradient at zero is 1 for the positive part.
        signed = torch.stack([local * (local >= 0).to(local.dtype), -local * (-local >= 0).to(local.dtype)], -1)
        return torch.cat([weights, signed.reshape(shape.shape[0], -1)], 1)

    def rest(self, shape: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        coefficients = self.shape_coefficients(shape)
        batch = shape.shape[0]
        vertices = self.template + (coefficients @ self.shape_blendshapes).reshape(batch, -1, 3)
        joints = self.template_joints + (coefficients @ self.joint_blendshapes).reshape(batch, -1, 3)
        return vertices, joints

    def rest_to_canonical(self, joints: torch.Tensor) -> torch.Tensor:
        batch, count = joints.shape[:2]
        eye = torch.eye(3, dtype=joints.dtype, device=joints.device)
        explicit: dict[int, torch.Tensor] = {}
        i = self._index
        for s, sign in (("L", 1.0), ("R", -1.0)):
            out = torch.tensor([sign, 0.0, 0.0], dtype=joints.dtype, device=joints.device)
            forward = torch.tensor([0.0, 0.0, 1.0], dtype=joints.dtype, device=joints.device)

            def head(bone):
                return joints[:, i[f"{bone}.{s}"]]

            upper = rotation_between(head("lowerarm01") - head("upperarm01"), out.expand(batch, 3))
            fore = rotation_between(head("wrist") - head("lowerarm01"), out.expand(batch, 3))
            hand = _frame_alignment(head("finger3-1") - head("wrist"), head("finger2-1") - head("finger5-1"),
                                    out.expand(batch, 3), forward.expand(batch, 3))
            explicit[i[f"upperarm01.{s}"]] = upper
            explicit[i[f"lowerarm01.{s}"]] = fore
            explicit[i[f"lowerarm02.{s}"]] = fore @ _half_twist(fore.transpose(-1, -2) @ hand,
                                                              head("wrist") - head("lowerarm01"))
            explicit[i[f"wrist.{s}"]] = hand
        rotations: list[torch.Tensor] = []
        parents = self.parents.tolist()
        for bone in range(count):  # parents come before children in Anny's bone order
            if bone in explicit:
                rotations.append(explicit[bone])
            elif parents[bone] < 0:
                rotations.append(eye.expand(batch, 3, 3))
            else:
                rotations.append(rotations[parents[bone]])
        return torch.stack(rotations, 1)


def _half_twist(rotation: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """Half of the twist of ``rotation`` [B, 3, 3] about ``axis`` [B, 3] (swing-twist decomposition)."""
    q = matrix_to_quaternion(rotation)
    a = axis / axis.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2((q[:, 1:] * a).sum(-1), q[:, 0])
    return axis_angle_to_matrix(a * (angle / 2)[:, None])


def _frame_alignment(direction: torch.Tensor, side: torch.Tensor, target_direction: torch.Tensor,
                     target_side: torch.Tensor) -> torch.Tensor:
    """The rotation taking the frame of (``direction``, ``side`` made orthogonal to it) onto the target one."""
    def frame(d, s):
        d = d / d.norm(dim=-1, keepdim=True)
        s = s - (s * d).sum(-1, keepdim=True) * d
        s = s / s.norm(dim=-1, keepdim=True)
        return torch.stack([d, s, torch.linalg.cross(d, s, dim=-1)], -1)

    return frame(target_direction, target_side) @ frame(direction, side).transpose(-1, -2)


@functools.cache
def anny_body(device: str = "cpu", dtype: torch.dtype = torch.float32, local_changes: bool = True) -> AnnyBody:
    """A shared :class:`AnnyBody` per device, dtype and shape space (construction copies ~110 MB of blendshapes)."""
    return AnnyBody(device, dtype, local_changes)
