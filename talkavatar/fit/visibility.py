"""How squarely the photo sees each Gaussian: the weights of the colour anchor (:meth:`Objective.colour_anchor`)
and of the solidity prior (:meth:`Objective.solidity`).

A Gaussian the photo sees face-on learns its colour from the photo; one it sees at a grazing angle, hides behind
another part, or leaves outside the picture or the person mask learns it from pseudo frames alone, through a
perceptual distance that hardly constrains hue (and Adam scales its tiny gradients to full steps): those keep the
completed texture's opacity in proportion to how little the photo sees them (the solidity prior), and its colour
where the photo sees them less squarely than ANCHOR_SEEN (the colour anchor, :func:`colour_anchor_weights`; weighted
by 1 - cosine everywhere, it cost the astronaut's input view 0.3-0.6 dB, was left off, and the unseen backs of the
real photos turned to rainbow noise on the GPU). The head is never anchored: the face
learns from the photo and its crops, and an anchored mouth interior and jaw cost the tiny demo's face detection
(independent FaceMesh: 86 % of frames with them anchored, 96 % without, 98.7 % with no anchor at all).
"""

from __future__ import annotations

import torch
from torch import Tensor

from talkavatar.core.avatar import Avatar
from talkavatar.core.body.parts import PART, texel_parts
from talkavatar.core.losses.mesh import face_normals
from talkavatar.core.splats import rasterize
from talkavatar.fit.data import Views

ANCHOR_SEEN = 0.25  # a Gaussian the photo sees at least this squarely (cosine) learns its colour from the photo alone
DEPTH_TOLERANCE = 0.02  # metres in front of the rendered depth at its pixel within which a Gaussian is not hidden


@torch.no_grad()
def photo_visibility(avatar: Avatar, photo: Views) -> Tensor:
    """[N] in 0..1: the cosine between each Gaussian's triangle normal and the ray from the photo's camera where its
    centre projects inside the picture and the person mask, unhidden (within DEPTH_TOLERANCE of the rendered depth
    there); 0 elsewhere. ``photo``: the input view (its first image, pose and camera)."""
    p, camera = photo.poses[:1], photo.cameras[0:1]
    frame = avatar.rig_frame(p.joint_rotations, p.root_translation, p.arkit_weights)
    g = avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights, frame=frame)
    depth = rasterize(g, camera, background=torch.zeros(3, dtype=g.means.dtype, device=g.means.device)).depth[0, ..., 0]
    means = g.means[0]
    pixels, z = camera.project(means)
    pixels, z = pixels[0], z[0]
    h, w = camera.height, camera.width
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h) & (z > 0)
    col, row = pixels[:, 0].long().clamp(0, w - 1), pixels[:, 1].long().clamp(0, h - 1)
    shown = inside & (photo.mask[0][row, col] > 0.5) & (z <= depth[row, col] + DEPTH_TOLERANCE)
    normals = face_normals(frame.vertices, avatar.rig.faces)[0][avatar.binding.face_index]
    ray = means - camera.centers[0]
    cosine = -(normals * ray).sum(-1) / ray.norm(dim=-1).clamp_min(1e-9)
    return cosine.clamp(0, 1) * shown


def solid_weights(avatar: Avatar, photo: Views) -> Tensor:
    """[N] the weight of the solidity prior for each Gaussian: 1 - :func:`photo_visibility`, 0 on the head."""
    return (1 - photo_visibility(avatar, photo)) * ~_head(avatar)


def colour_anchor_weights(avatar: Avatar, photo: Views, video: Views | None = None) -> Tensor:
    """[N] the colour anchor's weight: 1 where neither the photo nor a frame of the clip ``video`` sees a Gaussian,
    falling to 0 where one of them sees it at a cosine of ANCHOR_SEEN or more; 0 on the head."""
    weight = (1 - photo_visibility(avatar, photo) / ANCHOR_SEEN).clamp(0, 1)
    for i in range(0 if video is None else len(video.poses)):
        frame = video.select(torch.tensor([i], device=video.rgb.device))
        weight = torch.minimum(weight, (1 - photo_visibility(avatar, frame) / ANCHOR_SEEN).clamp(0, 1))
    return weight * ~_head(avatar)


def _head(avatar: Avatar) -> Tensor:
    """[N] bool: the head's Gaussians."""
    binding = avatar.binding
    parts = texel_parts(avatar.rig.to("cpu"), binding.face_index.cpu(), binding.barycentrics.cpu())
    return torch.from_numpy(parts == PART["head"]).to(binding.face_index.device)
