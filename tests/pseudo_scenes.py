"""Tiny deterministic scenes for the pseudo-stage tests: textured planes seen by the tracking camera, and a small
bundle with source/ and track/ stages written through the real schemas."""

from __future__ import annotations

import json

import numpy as np
import torch

from talkavatar.core.body.rig import Rig
from talkavatar.core.cameras import Cameras
from talkavatar.motion.names import ARKIT_NAMES, JOINT_INDEX, JOINT_NAMES

W2C = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0]))  # the tracking camera: at the origin, looking down -Z


def pattern(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The synthetic texture, [..., 3] in 0..1."""
    return np.stack([u, v, 0.5 + 0.4 * np.sin(9 * u) * np.cos(7 * v)], -1)


def grid(x0, x1, y0, y1, z, n, uv_box, mirror_diagonals=False):
    """A plane facing +Z: vertices [n*n, 3], faces [F, 3] (counter-clockwise from +Z), face_uvs [F, 3, 2]."""
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    verts = np.stack([X, Y, np.full_like(X, z)], -1).reshape(-1, 3)
    uv = np.stack([uv_box[0] + (X - x0) / (x1 - x0) * (uv_box[2] - uv_box[0]),
                   uv_box[1] + (Y - y0) / (y1 - y0) * (uv_box[3] - uv_box[1])], -1).reshape(-1, 2)
    idx = np.arange(n * n).reshape(n, n)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = idx[i, j], idx[i + 1, j], idx[i + 1, j + 1], idx[i, j + 1]
            flip = mirror_diagonals and (xs[i] + xs[i + 1]) / 2 < 0
            faces += [[a, b, d], [b, c, d]] if flip else [[a, b, c], [a, c, d]]
    faces = np.array(faces)
    return verts, faces, uv[faces]


def rig_from_mesh(verts, faces, face_uvs, head=False) -> Rig:
    n = len(verts)
    driver = torch.tensor([JOINT_INDEX["pelvis"]])
    return Rig(vertices=torch.tensor(verts, dtype=torch.float32), faces=torch.tensor(faces, dtype=torch.int64),
               face_uvs=torch.tensor(face_uvs, dtype=torch.float32),
               skin_indices=torch.zeros(n, 1, dtype=torch.int64), skin_weights=torch.ones(n, 1),
               parents=torch.tensor([-1]), joints=torch.tensor([[0.0, 0.0, float(verts[:, 2].mean())]]),
               rest_to_canonical=torch.eye(3)[None], bone_driver=driver, bone_driver_fraction=torch.ones(1),
               canonical_joint_bone=torch.zeros(55, dtype=torch.int64),
               expression_blendshapes=torch.zeros(52, n, 3), bone_names=("root",), model="toy")


def camera(size: int, focal: float) -> Cameras:
    K = torch.tensor([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1.0]])
    return Cameras(W2C[None], K[None], size, size)


def write_tracked_bundle(root, size: int = 64, n: int = 9):
    """A bundle whose 'person' is a symmetric textured plane 1 m in front of the camera (mask = the plane)."""
    from talkavatar.bundle import Bundle

    verts, faces, uvs = grid(-0.25, 0.25, -0.25, 0.25, -1.0, n, (0.05, 0.05, 0.95, 0.95), mirror_diagonals=True)
    rig = rig_from_mesh(verts, faces, uvs)
    focal = size * 1.2
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    x, y = (xs - size / 2) / focal, -(ys - size / 2) / focal
    inside = (np.abs(x) <= 0.25) & (np.abs(y) <= 0.25)
    image = np.where(inside[..., None], pattern((x + 0.25) / 0.5, (y + 0.25) / 0.5), 0.2)
    image = (image * 255 + 0.5).astype(np.uint8)
    bundle = Bundle.create(root)
    with bundle.write_stage("source", {"kind": "image"}) as w:
        w.save_png("image.png", image)
    with bundle.write_stage("track", {"steps": 4}, inputs=["source/image.png"]) as w:
        w.save_tensors("params.safetensors", {
            "joint_rotations": np.zeros((1, 55, 3), np.float32), "root_translation": np.zeros((1, 3), np.float32),
            "arkit_weights": np.zeros((1, 52), np.float32), "shape": np.zeros(6, np.float32),
            "intrinsics": camera(size, focal).K.numpy(), "world_to_camera": W2C[None].numpy(),
            "image_size": np.array([size, size], np.int32), "frame_index": np.zeros(1, np.int32),
            "tracked": np.ones(1, np.uint8)},
            "talkavatar.track", {"fps": "0", "joint_names": json.dumps(list(JOINT_NAMES)),
                                 "arkit_names": json.dumps(list(ARKIT_NAMES)), "shape_names": json.dumps(["a"] * 6),
                                 "body_model": "toy"})
        w.save_png("mask.png", (inside * 255).astype(np.uint8))
        rig.save(w.path("rig.safetensors"))
    return bundle
