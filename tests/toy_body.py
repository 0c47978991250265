"""A tiny deterministic body for tests: an arm-like tube of three bones with UVs, generated in code."""

from __future__ import annotations

import math

import torch

from talkavatar.core.body.rig import Rig
from talkavatar.motion.names import JOINT_INDEX


def toy_rig(rings: int = 7, around: int = 6, dtype=torch.float64) -> Rig:
    """A tube along +X (x in 0..0.6 m, radius 0.05) skinned to 3 bones at x = 0, 0.2, 0.4, rooted at the pelvis.

    Bones: 0 root (canonical pelvis), 1 "shoulder" (left_shoulder), 2 "elbow" (left_elbow); the elbow bone is
    rested bent down by 30 degrees about Z, which ``rest_to_canonical`` undoes.
    """
    xs = torch.linspace(0.0, 0.6, rings, dtype=dtype)
    angles = torch.arange(around, dtype=dtype) * 2 * math.pi / around
    verts = torch.stack([xs[:, None].expand(-1, around), 0.05 * torch.cos(angles).expand(rings, -1),
                         0.05 * torch.sin(angles).expand(rings, -1)], -1).reshape(-1, 3)
    joints = torch.tensor([[0.0, 0, 0], [0.2, 0, 0], [0.4, 0, 0]], dtype=dtype)
    # Bend the rest pose at the elbow: points beyond x=0.4 rotate by -30 deg about Z around the elbow.
    bend = torch.tensor([[math.cos(-math.pi / 6), -math.sin(-math.pi / 6), 0],
                         [math.sin(-math.pi / 6), math.cos(-math.pi / 6), 0], [0, 0, 1]], dtype=dtype)
    beyond = verts[:, 0] > 0.4
    verts[beyond] = (verts[beyond] - joints[2]) @ bend.T + joints[2]
    faces, uvs = [], []
    for r in range(rings - 1):
        for a in range(around):
            i0, i1 = r * around + a, r * around + (a + 1) % around
            i2, i3 = i0 + around, i1 + around
            faces += [[i0, i1, i3], [i0, i3, i2]]
            u0, u1, v0, v1 = a / around, (a + 1) / around, r / (rings - 1), (r + 1) / (rings - 1)
            uvs += [[[u0, v0], [u1, v0], [u1, v1]], [[u0, v0], [u1, v1], [u0, v1]]]
    x = torch.stack([xs[:, None].expand(-1, around)]).reshape(-1)
    w_root = (1 - x / 0.2).clamp(0, 1)
    w_elbow = (x > 0.45).to(dtype)  # only rigidly bent rings, so that the zero pose straightens them exactly
    w_shoulder = 1 - w_root - w_elbow
    weights = torch.stack([w_root, w_shoulder, w_elbow], -1)
    a = torch.eye(3, dtype=dtype).repeat(3, 1, 1)
    a[2] = bend.T  # elbow: rest (bent) -> straight
    driver = torch.tensor([JOINT_INDEX["pelvis"], JOINT_INDEX["left_shoulder"], JOINT_INDEX["left_elbow"]])
    position = torch.zeros(55, dtype=torch.int64)
    position[JOINT_INDEX["left_shoulder"]], position[JOINT_INDEX["left_elbow"]] = 1, 2
    g = torch.Generator().manual_seed(0)
    return Rig(vertices=verts, faces=torch.tensor(faces), face_uvs=torch.tensor(uvs, dtype=dtype),
               skin_indices=torch.arange(3).expand(len(verts), 3).clone(), skin_weights=weights,
               parents=torch.tensor([-1, 0, 1]), joints=joints, rest_to_canonical=a, bone_driver=driver,
               bone_driver_fraction=torch.ones(3, dtype=dtype), canonical_joint_bone=position,
               expression_blendshapes=0.01 * torch.randn(52, len(verts), 3, generator=g, dtype=dtype),
               bone_names=("root", "shoulder", "elbow"), model="toy")
