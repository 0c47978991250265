"""Quality figures of a fitted avatar and its preview (input view, two novel views, two novel poses; below each,
its coverage map: the render in grey, holes red, floaters blue).

- input view: PSNR and SSIM inside the person mask against the photo (sRGB, at the fitted image size);
- novel views (the input camera orbited by yaw +-30 degrees about the vertical axis through the centre of what
  the photo shows: the head for a portrait, the whole body for a full-body photo) and novel poses: the hole
  fraction (alpha < 0.98 over the posed deformed mesh's silhouette, eroded by 1 px so that pixels only partly
  covered at its border do not count) and the floater fraction (pixels with alpha >= 0.02 farther than 3 px
  outside that silhouette, per silhouette pixel). The silhouette leaves out triangles with a corner nearer than
  ``NEAR`` to the camera (the rasterizer culls those Gaussians too; projected, they would cover the whole frame).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from PIL import Image

from talkavatar.core.avatar import Avatar
from talkavatar.core.body.rig import pose_mesh
from talkavatar.core.cameras import Cameras
from talkavatar.core.color import linear_to_srgb
from talkavatar.core.losses import psnr, ssim
from talkavatar.core.silhouette import hard_silhouette
from talkavatar.core.splats import rasterize
from talkavatar.fit.data import Poses, Views
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX

HOLE_ALPHA = 0.98
FLOATER_ALPHA = 0.02
FLOATER_MARGIN_PX = 3
HOLE_ERODE_PX = 1
NOVEL_YAWS = (-30.0, 30.0)
NEAR = 0.05  # metres


def render(avatar: Avatar, cameras: Cameras, poses: Poses, background=(0.0, 0.0, 0.0), backend: str = "auto"):
    """sRGB [C, H, W, 3] and alpha [C, H, W] of ``avatar`` under ``poses`` (one per camera, or one for all)."""
    g = avatar.pose(poses.joint_rotations, poses.root_translation, poses.arkit_weights)
    if len(poses) == 1 and cameras.count > 1:
        g = type(g)(**{k: getattr(g, k)[0] for k in ("means", "quats", "log_scales", "opacity_logit", "rgb")})
    out = rasterize(g, cameras, background=torch.tensor(background, dtype=cameras.dtype, device=cameras.device),
                    backend=backend)
    return linear_to_srgb(out.rgb).clamp(0, 1), out.alpha[..., 0]


def deformed_vertices(avatar: Avatar, poses: Poses) -> torch.Tensor:
    """The posed mesh with its learned offsets dT, [B, V, 3]."""
    rig = avatar.rig
    rest = rig.rest_vertices(poses.arkit_weights) + avatar.vertex_offsets
    return pose_mesh(rig.tree, rest, rig.joints, rig.rest_to_canonical, rig.dense_skin_weights, rig.bone_driver,
                     rig.bone_driver_fraction, rig.canonical_joint_bone, poses.joint_rotations,
                     poses.root_translation).vertices


def orbit_cameras(camera: Cameras, centre: torch.Tensor, yaws_deg: tuple[float, ...]) -> Cameras:
    """The one camera ``camera`` turned about the vertical (+Y) axis through ``centre`` [3] by each yaw."""
    mats = []
    for yaw in yaws_deg:
        a = math.radians(yaw)
        r = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]],
                         dtype=camera.dtype, device=camera.device)
        m = torch.eye(4, dtype=camera.dtype, device=camera.device)
        m[:3, :3] = r
        m[:3, 3] = centre - r @ centre  # rotate the world about the axis through centre
        mats.append(camera.world_to_camera[0] @ m)
    n = len(yaws_deg)
    return Cameras(torch.stack(mats), camera.K.expand(n, 3, 3).clone(), camera.width, camera.height)


def mesh_silhouette(vertices: torch.Tensor, faces: torch.Tensor, camera: Cameras) -> np.ndarray:
    """[H, W] bool: pixels of one ``camera`` covered by the mesh (``vertices`` [V, 3], ``faces`` [F, 3]) without
    the triangles that have a corner nearer than ``NEAR`` to the camera or behind it."""
    px, depth = camera.project(vertices)
    faces = faces[(depth[0][faces] > NEAR).all(1)]
    return hard_silhouette(px[0].cpu().numpy(), faces.cpu().numpy(), camera.width, camera.height)


def shown_centre(vertices: torch.Tensor, camera: Cameras) -> torch.Tensor:
    """The centre [3] of the ``vertices`` [V, 3] inside the picture of ``camera`` (one camera; all of them when
    none is)."""
    px, depth = camera.project(vertices)
    px, depth = px[0], depth[0]
    inside = (px[:, 0] >= 0) & (px[:, 0] < camera.width) & (px[:, 1] >= 0) & (px[:, 1] < camera.height) & (depth > 0)
    shown = vertices[inside] if bool(inside.any()) else vertices
    return (shown.min(0).values + shown.max(0).values) / 2


def fixed_novel_poses(base: Poses) -> Poses:
    """Two poses away from the input pose: arms moved, head turned, mouth open / smiling."""
    a, b = base.joint_rotations.clone(), base.joint_rotations.clone()
    a[0, JOINT_INDEX["left_shoulder"]] += torch.tensor([0.0, 0.0, -0.5])
    a[0, JOINT_INDEX["right_elbow"]] += torch.tensor([0.0, 0.8, 0.0])
    a[0, JOINT_INDEX["head"]] += torch.tensor([0.15, 0.35, 0.0])
    b[0, JOINT_INDEX["right_shoulder"]] += torch.tensor([0.0, 0.0, 0.5])
    b[0, JOINT_INDEX["left_elbow"]] += torch.tensor([0.0, -0.8, 0.0])
    b[0, JOINT_INDEX["neck"]] += torch.tensor([-0.1, -0.3, 0.0])
    ka, kb = base.arkit_weights.clone(), base.arkit_weights.clone()
    ka[0, ARKIT_INDEX["jawOpen"]] = 0.6
    kb[0, ARKIT_INDEX["mouthSmileLeft"]] = kb[0, ARKIT_INDEX["mouthSmileRight"]] = 0.7
    return Poses(torch.cat([a, b]), base.root_translation.expand(2, 3).clone(), torch.cat([ka, kb]))


def coverage_errors(alpha: np.ndarray, silhouette: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(hole fraction, floater fraction, hole pixels, floater pixels) of one view: alpha [H, W] in 0..1,
    silhouette [H, W] bool; the pixel maps are [H, W] bool."""
    sil = silhouette.astype(np.uint8)
    area = max(int(sil.sum()), 1)
    inner = cv2.erode(sil, np.ones((2 * HOLE_ERODE_PX + 1,) * 2, np.uint8)).astype(bool)
    k = 2 * FLOATER_MARGIN_PX + 1
    near = cv2.dilate(sil, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
    hole_map, floater_map = inner & (alpha < HOLE_ALPHA), ~near & (alpha >= FLOATER_ALPHA)
    holes = float(hole_map.sum()) / max(int(inner.sum()), 1)
    floaters = float(floater_map.sum()) / area
    return holes, floaters, hole_map, floater_map


def coverage_map(rgb: np.ndarray, alpha: np.ndarray, holes: np.ndarray, floaters: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3]: the render's luminance on white, hole pixels red, floater pixels blue."""
    grey = (rgb.mean(-1) * alpha + (1 - alpha)) * 0.6 + 0.4
    out = np.repeat(grey[..., None], 3, -1)
    out[holes] = (1.0, 0.0, 0.0)
    out[floaters] = (0.0, 0.2, 1.0)
    return (out.clip(0, 1) * 255 + 0.5).astype(np.uint8)


@torch.no_grad()
def evaluate(avatar: Avatar, photo: Views, novel_poses: Views | Poses, backend: str = "auto") -> dict:
    """Figures for ``fit.json`` and the preview (uint8 [2H, 5W, 3] under ``"preview"``: renders, coverage maps).

    ``novel_poses``: two views (pose + camera) from the pseudo-labels, or two poses seen by the input camera.
    """
    cam = photo.cameras
    rgb, alpha = render(avatar, cam, photo.poses, backend=backend)
    target = photo.rgb * photo.mask[..., None]
    masked_psnr = float(psnr(rgb * photo.mask[..., None], target, photo.mask)[0])
    masked_ssim = float(ssim(rgb * photo.mask[..., None], target, photo.mask)[0])

    centre = shown_centre(deformed_vertices(avatar, photo.poses)[0], cam)
    novel_cams = orbit_cameras(cam, centre, NOVEL_YAWS)
    if isinstance(novel_poses, Poses):
        pose_views = Views(torch.zeros(0), torch.zeros(0), Cameras(cam.world_to_camera.expand(len(novel_poses), 4, 4),
                                                                     cam.K.expand(len(novel_poses), 3, 3), cam.width,
                                                                     cam.height), novel_poses)
    else:
        pose_views = novel_poses
    panels = {"input": (rgb, alpha, photo.poses, cam)}
    v_rgb, v_alpha = render(avatar, novel_cams, photo.poses, backend=backend)
    for i, yaw in enumerate(NOVEL_YAWS):
        panels[f"yaw{yaw:+.0f}"] = (v_rgb[i:i + 1], v_alpha[i:i + 1], photo.poses, novel_cams[i])
    p_rgb, p_alpha = render(avatar, pose_views.cameras, pose_views.poses, backend=backend)
    for i in range(len(pose_views.poses)):
        panels[f"pose{i + 1}"] = (p_rgb[i:i + 1], p_alpha[i:i + 1], pose_views.poses[i:i + 1], pose_views.cameras[i])

    coverage = {}
    strips, maps = [], []
    for name, (prgb, palpha, poses, camera) in panels.items():
        verts = deformed_vertices(avatar, poses)[0]
        sil = mesh_silhouette(verts, avatar.rig.faces, camera)
        a = palpha[0].cpu().numpy()
        holes, floaters, hole_map, floater_map = coverage_errors(a, sil)
        coverage[name] = {"hole_fraction": round(holes, 5), "floater_fraction": round(floaters, 5)}
        white = prgb[0] + (1 - palpha[0, ..., None])  # composite on white for viewing
        strips.append((white.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8))
        maps.append(coverage_map(prgb[0].cpu().numpy(), a, hole_map, floater_map))
    strips = [_fit_to(s, strips[0].shape) for s in strips]  # pseudo cameras may have another size
    maps = [_fit_to(m, strips[0].shape) for m in maps]
    novel = [v for k, v in coverage.items() if k != "input"]
    return {
        "input_view": {"masked_psnr_db": round(masked_psnr, 3), "masked_ssim": round(masked_ssim, 4),
                       "size": [cam.width, cam.height]},
        "coverage": coverage,
        "novel_max_hole_fraction": max(v["hole_fraction"] for v in novel),
        "novel_max_floater_fraction": max(v["floater_fraction"] for v in novel),
        "preview": np.concatenate([np.concatenate(strips, axis=1), np.concatenate(maps, axis=1)], axis=0),
    }


def _fit_to(image: np.ndarray, shape: tuple) -> np.ndarray:
    if image.shape == shape:
        return image
    return np.asarray(Image.fromarray(image).resize((shape[1], shape[0]), Image.BILINEAR))
