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
HAND_X = (0.04, 0.26)  # the toy's stretch (rest x, metres) a raised hand covers in the photo (:func:`hand_over`)
HAND_SRGB = np.array([0.95, 0.55, 0.2])  # its colour, fingers a third darker


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


def hand_over(avatar: Avatar, cam: Cameras) -> tuple[np.ndarray, np.ndarray]:
    """A hand in front of the toy that the toy has no hand for (laughing's on his forehead, his tracked hand inside
    the head): its box (x0, y0, x1, y1) in pixels of ``cam``, that of the toy's :data:`HAND_X` stretch at rest, and
    its 21 MediaPipe points [21, 2] in it (wrist at the left, fingers to the right: the hull grown by half a
    finger's width is the box)."""
    pixels = cam.project(binding_points(avatar))[0][0].numpy()
    rest_x = binding_points(avatar)[:, 0].numpy()
    stretch = pixels[(rest_x >= HAND_X[0]) & (rest_x <= HAND_X[1])]
    box = np.concatenate([stretch.min(0), stretch.max(0)])
    grown = 0.25 * 0.6 * (box[2] - box[0])  # hand_cover.margin of these points (wrist 0 to middle knuckle 9)
    inner = box + np.array([grown, grown, -grown, -grown])
    t = np.linspace(0, 1, 21)
    points = np.stack([inner[0] + (inner[2] - inner[0]) * t, inner[1] + (inner[3] - inner[1]) * (t * 7 % 1)], -1)
    points[9] = [inner[0] + 0.6 * (inner[2] - inner[0]), (inner[1] + inner[3]) / 2]
    points[0] = [inner[0], (inner[1] + inner[3]) / 2]
    return box, points


def binding_points(avatar: Avatar) -> torch.Tensor:
    """[N, 3] the rest surface points of ``avatar``'s Gaussians."""
    return avatar.binding.surface_points(avatar.rig.vertices[None], avatar.rig.faces)[0]


def make_bundle(root: Path, pseudo_frames: int = 4, hand: bool = False) -> Path:
    """Write source/, track/ and (when ``pseudo_frames``) pseudo/ of a synthetic person into ``root``; with ``hand``,
    the photo shows a hand the toy has none for (:func:`hand_over`), track/ its detection, and pseudo/ (then made
    even with no frames) the completed texture: the truth's, which shows what the hand hides."""
    avatar = truth_avatar()
    bundle = Bundle.create(root)
    rot, trans, arkit = poses(1 + pseudo_frames)
    rot[0] = 0
    cam0 = camera(0.0)
    photo, mask = _render(avatar, cam0, rot[:1], trans[:1], arkit[:1])
    if hand:
        (x0, y0, x1, y1), points = hand_over(avatar, cam0)
        yy, xx = np.mgrid[:SIZE, :SIZE] + 0.5
        over = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1) & (mask[0] > 127)
        fingers = 1 - (np.floor((yy - y0) / max(y1 - y0, 1) * 4) % 2) / 3  # four fingers, every other in shade
        photo[0][over] = (255 * HAND_SRGB * fingers[over, None] + 0.5).astype(np.uint8)
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
        if hand:
            w.save_tensors("detections.safetensors", _detections(points), "talkavatar.detections",
                           {"detector": "synthetic"})
    if hand:
        with bundle.write_stage("pseudo", {"synthetic": True}, inputs=["track/params.safetensors"]) as w:
            w.save_png("texture.png", (linear_to_srgb(texture(avatar)).numpy() * 255 + 0.5).astype(np.uint8))
    elif pseudo_frames:
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


def texture(avatar: Avatar) -> torch.Tensor:
    """[R, R, 3] linear: the UV map of ``avatar``'s colours (row 0 at v = 1)."""
    uv = avatar.binding
    out = torch.zeros(uv.uv_res, uv.uv_res, 3)
    out[uv.texel[:, 1], uv.texel[:, 0]] = avatar.rgb
    return out


def _detections(hand: np.ndarray) -> dict[str, np.ndarray]:
    """track/detections.safetensors of one photo whose MediaPipe found a left hand at ``hand`` [21, 2] alone."""
    left = np.zeros((1, 21, 3), np.float32)
    left[0, :, :2] = hand
    return {"body": np.zeros((1, 33, 3), np.float32), "body_visibility": np.zeros((1, 33), np.float32),
            "face": np.zeros((1, 478, 3), np.float32), "left_hand": left, "right_hand": np.zeros_like(left),
            "detected": np.ones(1, np.uint8), "face_present": np.zeros(1, np.uint8),
            "left_hand_present": np.ones(1, np.uint8), "right_hand_present": np.zeros(1, np.uint8),
            "people": np.ones(1, np.int32)}
