"""A synthetic bundle for fit tests: the toy tube rig, a ground-truth avatar rendered as the "photo" and as pseudo
frames under other poses and views, written through the real bundle API (track and pseudo stages)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle import Bundle
from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.color import linear_to_srgb
from talkavatar.core.splats import rasterize
from talkavatar.motion.names import ARKIT_NAMES, JOINT_INDEX, JOINT_NAMES
from tests.toy_body import toy_rig

SIZE = 96


def truth_avatar() -> Avatar:
    """The toy rig with a striped texture at UV 32."""
    rig = toy_rig(rings=9, around=12, dtype=torch.float32)
    u = (torch.arange(32) + 0.5) / 32
    stripes = torch.stack([0.2 + 0.6 * (torch.sin(u * 12) > 0).float()[None].expand(32, 32),
                           0.3 + 0.5 * u[:, None].expand(32, 32), 0.6 - 0.4 * u[None].expand(32, 32)], -1)
    return Avatar.on_surface(rig, 32, stripes.clamp(0, 1), opacity=0.99)


def camera(yaw: float = 0.0) -> Cameras:
    return Cameras.orbit(torch.tensor([0.3, 0.0, 0.0]), 1.0, yaw, 10.0, width=SIZE, height=SIZE, fov_y_degrees=40)


def poses(count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rot = torch.zeros(count, 55, 3)
    for i in range(count):
        rot[i, JOINT_INDEX["left_elbow"], 2] = 0.4 * math.sin(i + 1)
        rot[i, JOINT_INDEX["left_shoulder"], 1] = 0.2 * math.cos(i)
    return rot, torch.zeros(count, 3), torch.zeros(count, 52)


def _render(avatar, cams, rot, trans, arkit):
    g = avatar.pose(rot, trans, arkit)
    out = rasterize(g, cams, backend="reference")
    rgb = (linear_to_srgb(out.rgb).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    alpha = (out.alpha[..., 0].numpy() * 255 + 0.5).astype(np.uint8)
    return rgb, alpha


def make_bundle(root: Path, pseudo_frames: int = 4) -> Path:
    """Write source/, track/ and (when ``pseudo_frames``) pseudo/ of a synthetic person into ``root``."""
    avatar = truth_avatar()
    bundle = Bundle.create(root)
    rot, trans, arkit = poses(1 + pseudo_frames)
    rot[0] = 0
    cam0 = camera(0.0)
    photo, mask = _render(avatar, cam0, rot[:1], trans[:1], arkit[:1])
    with bundle.write_stage("source", {"kind": "image"}) as w:
        w.save_png("image.png", photo[0])
    names = {"fps": "0", "joint_names": json.dumps(list(JOINT_NAMES)), "arkit_names": json.dumps(list(ARKIT_NAMES))}
    with bundle.write_stage("track", {"synthetic": True}, inputs=["source/image.png"]) as w:
        w.save_tensors("params.safetensors", {
            "joint_rotations": rot[:1].numpy(), "root_translation": trans[:1].numpy(),
            "arkit_weights": arkit[:1].numpy(), "shape": np.zeros(1, np.float32),
            "intrinsics": cam0.K.numpy(), "world_to_camera": cam0.world_to_camera.numpy(),
            "image_size": np.array([SIZE, SIZE], np.int32), "frame_index": np.zeros(1, np.int32),
            "tracked": np.ones(1, np.uint8)}, "talkavatar.track",
            {**names, "shape_names": json.dumps(["none"]), "body_model": "toy"})
        w.save_png("mask.png", mask[0])
        avatar.rig.save(w.path("rig.safetensors"))
    if pseudo_frames:
        cams = Cameras.cat([camera(yaw) for yaw in np.linspace(-40, 40, pseudo_frames)])
        rgb, alpha = _render(avatar, cams, rot[1:], trans[1:], arkit[1:])
        with bundle.write_stage("pseudo", {"synthetic": True}, inputs=["track/params.safetensors"]) as w:
            for i in range(pseudo_frames):
                w.save_png(f"frames/{i:05d}.png", np.concatenate([rgb[i], alpha[i][..., None]], -1))
            w.save_tensors("params.safetensors", {
                "joint_rotations": rot[1:].numpy(), "root_translation": trans[1:].numpy(),
                "arkit_weights": arkit[1:].numpy(), "intrinsics": cams.K.numpy(),
                "world_to_camera": cams.world_to_camera.numpy(), "image_size": np.array([SIZE, SIZE], np.int32),
                "origin": np.zeros(pseudo_frames, np.uint8)}, "talkavatar.pseudo",
                {**names, "generator": "synthetic", "renderer": "splats:reference"})
    return root
