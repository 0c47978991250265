"""Completing the UV texture where the photo does not see the surface.

In order, each step filling only what the previous ones left (confidence decreasing):

1. left/right symmetry: a texel takes its mirror texel's colour (the face mirror map of :mod:`mesh`, barycentrics
   carried across) where that one was seen, and replaces a grazing seen colour by a much more confident mirror one;
2. front-to-back transfer below the head: a back-facing texel (rest normal towards -Z) takes the colour of the
   front surface at the same (x, y) of the rest pose (an orthographic front view of the seen texels);
3. head and hair: an unseen head texel takes the mean colour of the grazing seen head texels (the sides of the
   head: hair, ears) at its height;
4. inpainting in UV space (OpenCV Telea) for everything left, the gutter between charts included,
   so the result has no unfilled texel.
"""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.binding import Binding
from talkavatar.pseudo.mesh import face_mirror, face_normals, head_vertices, vertex_mirror
from talkavatar.pseudo.texture import texels_to_image


def mirror_texels(rig, binding: Binding) -> tuple[torch.Tensor, torch.Tensor]:
    """For each texel, the (col, row) of its mirror texel [N, 2] and whether it has one [N] bool."""
    mirror, dist = vertex_mirror(rig.vertices.double().numpy())
    faces = rig.faces.numpy()
    findex, perm = face_mirror(faces, mirror)
    f = binding.face_index.numpy()
    g = findex[f]
    ok = (g >= 0) & (dist[faces[f]].max(1) < 0.02)
    bary = binding.barycentrics.double().numpy()
    moved = np.zeros_like(bary)
    np.put_along_axis(moved, perm[f], bary, axis=1)
    uv = (rig.face_uvs.double().numpy()[np.maximum(g, 0)] * moved[..., None]).sum(1)
    r = binding.resolution
    col = np.clip(np.floor(uv[:, 0] * r), 0, r - 1)
    row = np.clip(np.floor((1 - uv[:, 1]) * r), 0, r - 1)
    return torch.from_numpy(np.stack([col, row], 1).astype(np.int64)), torch.from_numpy(ok)


def complete_texture(rig, rest_vertices: torch.Tensor, binding: Binding, rgb: torch.Tensor,
                     confidence: torch.Tensor, cell: float = 0.004, inpaint_radius: int = 5
                     ) -> tuple[np.ndarray, dict]:
    """rgb: [N, 3] seen colours in 0..1; confidence: [N] (0 = unseen); rest_vertices: [V, 3] the proxy's rest
    surface. Returns the completed [R, R, 3] float image (row 0 at v = 1) and the share of texels each step
    filled."""
    import cv2

    n, r = binding.count, binding.resolution
    rgb, conf = rgb.clone().double(), confidence.clone().double()
    source = torch.zeros(n, dtype=torch.int64)  # 0 unseen, 1 seen, 2 mirror, 3 front-back, 4 head band
    source[conf > 0] = 1
    stats = {"seen": float((conf > 0).double().mean())}

    # 1. symmetry
    where, ok = mirror_texels(rig, binding)
    image = texels_to_image(torch.cat([rgb, conf[:, None]], 1), binding)
    mirrored = image[where[:, 1], where[:, 0]]
    m_rgb, m_conf = mirrored[:, :3], mirrored[:, 3] * ok
    take = (m_conf > 0) & ((conf == 0) | ((conf < 0.3) & (m_conf > 2 * conf)))
    rgb[take], conf[take], source[take] = m_rgb[take], 0.9 * m_conf[take], 2
    stats["mirror"] = float(take.double().mean())

    # 2. front-to-back below the head
    points = binding.surface_points(rest_vertices[None].double(), rig.faces)[0].numpy()
    normals = face_normals(rest_vertices.double(), rig.faces)[binding.face_index].numpy()
    head = torch.from_numpy(head_vertices(rig))[rig.faces[binding.face_index]].any(1).numpy()
    known = (conf > 0).numpy()
    cells = np.floor(points[:, :2] / cell).astype(np.int64)
    lo = cells.min(0)
    cells -= lo
    gw, gh = cells.max(0) + 1
    key = cells[:, 1] * gw + cells[:, 0]
    front = known & (normals[:, 2] > 0) & ~head
    best_z = np.full(gw * gh, -np.inf)
    np.maximum.at(best_z, key[front], points[front, 2])
    winner = np.full(gw * gh, -1)
    chosen = front & (points[:, 2] >= best_z[key])
    winner[key[chosen]] = np.flatnonzero(chosen)
    back = ~known & (normals[:, 2] <= 0) & ~head & (winner[key] >= 0)
    src = winner[key[back]]
    rgb[torch.from_numpy(back)] = rgb[torch.from_numpy(src)]
    conf[torch.from_numpy(back)] = 0.5 * conf[torch.from_numpy(src)]
    source[torch.from_numpy(back)] = 3
    stats["front_to_back"] = float(back.mean())

    # 3. head sides -> back of the head, per height band
    known = (conf > 0).numpy()
    grazing = known & head & (source == 1).numpy() & (confidence.numpy() < 0.45)
    band = np.floor(points[:, 1] / 0.02).astype(np.int64)
    band -= band.min()
    counts = np.bincount(band[grazing], minlength=band.max() + 1)
    sums = np.stack([np.bincount(band[grazing], rgb[:, c].numpy()[grazing], minlength=band.max() + 1)
                     for c in range(3)], 1)
    fill = ~known & head & (counts[band] >= 5)
    rgb[torch.from_numpy(fill)] = torch.from_numpy(sums[band[fill]] / counts[band[fill], None])
    conf[torch.from_numpy(fill)] = 0.2
    source[torch.from_numpy(fill)] = 4
    stats["head_band"] = float(fill.mean())

    # 4. UV inpainting of everything else (and the gutter)
    image = texels_to_image(torch.cat([rgb, (conf > 0).double()[:, None]], 1), binding).numpy()
    holes = (image[..., 3] == 0).astype(np.uint8)
    stats["inpainted"] = float(1 - (conf > 0).double().mean())
    colour = np.clip(image[..., :3] * 255 + 0.5, 0, 255).astype(np.uint8)
    if holes.any() and not holes.all():
        colour = cv2.inpaint(colour, holes, inpaint_radius, cv2.INPAINT_TELEA)
    done = colour.astype(np.float32) / 255
    return done, {k: round(v, 4) for k, v in stats.items()}
