"""The proxy surface: the fitted body plus smooth vertex offsets that make its silhouette cover the person mask.

A bare body under a coat or a spacesuit loses everything outside its outline. For each body vertex on the photo's
silhouette (visible, on the edge of the body's own silhouette, normal across the view), we march from its pixel
along its projected normal to the edge of the person mask: that distance (pixels -> metres at the vertex depth) is
how far the surface should move along its normal there (negative where the body overhangs the mask). A scalar
displacement field over all vertices then solves

    min_h  sum_c (h_c - t_c)^2  +  smooth * h^T L h  +  decay * |h|^2

(``L`` the mesh graph Laplacian), so offsets spread smoothly from the silhouette over front, back and sides and
fade away from it. Offsets are along rest-pose normals, in the rest space of the rig (what fit's dT means).
"""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.pseudo.mesh import graph_laplacian, vertex_normals
from talkavatar.pseudo.raster import rasterize_mesh


def silhouette_targets(pixels: np.ndarray, depth: np.ndarray, normals_cam: np.ndarray, visible: np.ndarray,
                       body_mask: np.ndarray, person_mask: np.ndarray, focal: float, max_pixels: int,
                       edge_pixels: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (metres, [V]) wanted at silhouette vertices and which vertices those are ([V] bool).

    pixels: [V, 2]; depth: [V]; normals_cam: [V, 3] unit normals in camera axes; visible: [V] bool;
    body_mask, person_mask: [H, W] bool.
    """
    import cv2

    h, w = body_mask.shape
    inside_dist = cv2.distanceTransform(body_mask.astype(np.uint8), cv2.DIST_L2, 3)
    px = np.clip(np.floor(pixels).astype(int), [0, 0], [w - 1, h - 1])
    in_image = (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h)
    across = np.linalg.norm(normals_cam[:, :2], axis=1)
    on_edge = in_image & visible & (inside_dist[px[:, 1], px[:, 0]] <= edge_pixels) & (np.abs(normals_cam[:, 2]) < 0.5)
    direction = normals_cam[:, :2] / np.maximum(across, 1e-6)[:, None]  # camera x right, y down = pixel axes
    steps = np.arange(-max_pixels // 4, max_pixels + 1)
    probe = pixels[:, None, :] + steps[None, :, None] * direction[:, None, :]  # [V, S, 2]
    pi = np.clip(np.floor(probe).astype(int), 0, [w - 1, h - 1])
    outside_image = (probe[..., 0] < 0) | (probe[..., 0] >= w) | (probe[..., 1] < 0) | (probe[..., 1] >= h)
    inside = person_mask[pi[..., 1], pi[..., 0]] & ~outside_image
    zero = max_pixels // 4
    target = np.zeros(len(pixels))
    for v in np.flatnonzero(on_edge):
        row = inside[v]
        if row[zero]:  # march outwards to the first pixel outside the person
            out = np.flatnonzero(~row[zero:])
            if len(out) == 0 or outside_image[v, zero + out[0]]:
                on_edge[v] = False  # the person leaves the image there: no evidence
                continue
            target[v] = out[0] - 0.5
        else:  # the body overhangs the mask: march inwards to the person
            back = np.flatnonzero(row[:zero][::-1])
            target[v] = -(back[0] + 0.5) if len(back) else -zero
    metres = target * depth / focal
    return metres, on_edge


def fit_offsets(rest_vertices: torch.Tensor, faces: torch.Tensor, targets: np.ndarray, constrained: np.ndarray,
                smooth: float, decay: float, max_offset: float) -> torch.Tensor:
    """Solve the smooth displacement field (module docstring) -> rest-space offsets [V, 3] along rest normals."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    count = rest_vertices.shape[0]
    lap = graph_laplacian(faces.numpy(), count)
    w = constrained.astype(np.float64)
    system = sp.diags(w + decay) + smooth * lap
    h = spsolve(system.tocsc(), w * targets)
    h = np.clip(h, -0.03, max_offset)
    normals = vertex_normals(rest_vertices.double(), faces).numpy()
    return torch.from_numpy(normals * h[:, None]).float()


def fit_proxy(rig, joint_rotations: torch.Tensor, root_translation: torch.Tensor, arkit_weights: torch.Tensor,
              camera: Cameras, person_mask: np.ndarray, smooth: float = 4.0, decay: float = 0.02,
              max_offset: float = 0.25, rounds: int = 2) -> tuple[torch.Tensor, dict]:
    """Rest-space vertex offsets [V, 3] for one tracked view (``joint_rotations`` [1, 55, 3], ``root_translation``
    [1, 3], ``arkit_weights`` [1, 52]; ``camera`` one camera of the photo's size; ``person_mask`` [H, W] bool).

    Two rounds: the second measures the remaining gap on the already offset proxy. Returns offsets and figures
    (silhouette IoU before and after).
    """
    offsets = torch.zeros_like(rig.vertices)
    focal = float(camera.K[0, 0, 0])
    stats = {}
    for r in range(rounds + 1):
        shaped = _with_offsets(rig, offsets)
        posed = shaped.pose(joint_rotations, root_translation, arkit_weights)
        verts = posed.vertices[0]
        pixels, depth = camera.project(verts)
        pixels, depth = pixels[0], depth[0]
        frags = rasterize_mesh(pixels, depth, rig.faces, camera.width, camera.height)
        body = frags.mask.numpy()
        iou = float((body & person_mask).sum() / max(1, (body | person_mask).sum()))
        stats["mask_iou_body" if r == 0 else "mask_iou_proxy"] = round(iou, 4)
        if r == rounds:
            break
        px = pixels.numpy()
        pi = np.clip(np.floor(px).astype(int), 0, [camera.width - 1, camera.height - 1])
        zbuf = frags.depth.numpy()[pi[:, 1], pi[:, 0]]
        visible = depth.numpy() <= zbuf + 0.02
        normals_world = vertex_normals(verts, rig.faces)
        normals_cam = (normals_world @ camera.world_to_camera[0, :3, :3].T).numpy()
        t, on_edge = silhouette_targets(px, depth.numpy(), normals_cam, visible, body, person_mask, focal,
                                        max_pixels=max(8, int(0.25 * focal * 1.0 / float(depth.mean()))))
        previous = _normal_heights(rig.vertices + offsets, rig.vertices, rig.faces)
        offsets = fit_offsets(rig.vertices, rig.faces, previous + t, on_edge, smooth, decay, max_offset)
        stats[f"constrained_vertices_round{r + 1}"] = int(on_edge.sum())
    return offsets, stats


def _normal_heights(shifted: torch.Tensor, rest: torch.Tensor, faces: torch.Tensor) -> np.ndarray:
    normals = vertex_normals(rest.double(), faces)
    return ((shifted - rest).double() * normals).sum(-1).numpy()


def _with_offsets(rig, offsets: torch.Tensor):
    from dataclasses import replace

    return replace(rig, vertices=rig.vertices + offsets)
