"""Completing the UV texture where the photo does not see the surface.

In order, each step filling only what the previous ones left (confidence decreasing):

1. left/right symmetry: a texel takes its mirror texel's colour (the face mirror map of :mod:`mesh`, barycentrics
   carried across) where that one was seen well (not at a grazing angle), and replaces a grazing seen colour by a
   much more confident mirror one;
2. transfer from the seen front below the head: an unseen texel (the back, or a side hidden behind an arm) takes
   the mean colour of the well seen front surface around the same (x, y) of the rest pose (``cell``-sized cells,
   3 x 3 neighbourhood, a few mean-shift steps towards its dominant colour), so the back gets the
   garment's colour without copies of front details;
3. head and hair: an unseen head texel takes the colour of the seen sides of the head at its height (texels seen
   at a grazing angle, but not from the mask's edge band), drawn towards the colour of the top of the head (the
   seen crown and upper sides: hair, or skin if bald) where the two differ, since the sides at jaw height show
   the cheeks, which the back of the head does not;
4. hands the photo never shows (one hand behind an object, both out of frame) take the robust mean colour of the
   seen hand texels (glove or skin), or the face's skin colour if no hand was seen, instead of an inpainted grey;
5. inpainting in UV space (OpenCV Telea) for everything left, the gutter between charts included,
   so the result has no unfilled texel.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from talkavatar.core.binding import Binding
from talkavatar.pseudo.mesh import face_mirror, face_normals, hand_vertices, head_vertices, vertex_mirror
from talkavatar.pseudo.texture import texels_to_image


EDGE_CONFIDENCE = 0.06  # seen texels at most this confident came from the mask's edge band (texture.py fades them)
SOURCE_CONFIDENCE = 0.1  # mirror and front sources seen at least this well (grazing colours mix in the background)


def robust_mean(colours: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean colour [3] of ``colours`` [N, 3] after down-weighting those far from the weighted median
    (a badge on a glove, a shadow)."""
    median = np.array([_weighted_median(colours[:, c], weights) for c in range(3)])
    w = weights * np.exp(-((colours - median) ** 2).sum(1) / (2 * 0.1 ** 2))
    return (colours * w[:, None]).sum(0) / max(w.sum(), 1e-12)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


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
    uv_res = binding.uv_res
    col = np.clip(np.floor(uv[:, 0] * uv_res), 0, uv_res - 1)
    row = np.clip(np.floor((1 - uv[:, 1]) * uv_res), 0, uv_res - 1)
    return torch.from_numpy(np.stack([col, row], 1).astype(np.int64)), torch.from_numpy(ok)


def complete_texture(rig, rest_vertices: torch.Tensor, binding: Binding, rgb: torch.Tensor,
                     confidence: torch.Tensor, cell: float = 0.025, inpaint_radius: int = 5,
                     given: torch.Tensor | None = None) -> tuple[np.ndarray, dict]:
    """rgb: [N, 3] seen colours in 0..1; confidence: [N] (0 = unseen); rest_vertices: [V, 3] the proxy's rest
    surface; given: [N] bool texels whose colour is known but not from the photo (the mouth interior): kept, and
    no source for the head and hand steps. Returns the completed [R, R, 3] float image (row 0 at v = 1) and the
    share of texels each step filled."""
    n = binding.count
    rgb, conf = rgb.clone().double(), confidence.clone().double()
    source = torch.zeros(n, dtype=torch.int64)  # 0 unseen, 1 seen, 2 mirror, 3 front-back, 4 head band
    source[conf > 0] = 1
    stats = {"seen": float((conf > 0).double().mean())}

    # 1. symmetry
    where, ok = mirror_texels(rig, binding)
    image = texels_to_image(torch.cat([rgb, conf[:, None]], 1), binding)
    mirrored = image[where[:, 1], where[:, 0]]
    m_rgb, m_conf = mirrored[:, :3], mirrored[:, 3] * ok
    take = (m_conf > SOURCE_CONFIDENCE) & ((conf == 0) | ((conf < 0.3) & (m_conf > 2 * conf)))
    rgb[take], conf[take], source[take] = m_rgb[take], 0.9 * m_conf[take], 2
    stats["mirror"] = float(take.double().mean())

    # 2. from the seen front below the head: the mean colour of the seen front surface in coarse (x, y) cells, so the
    #    back gets the garment's colours without copies of front details (logos, zips)
    points = binding.surface_points(rest_vertices[None].double(), rig.faces)[0].numpy()
    normals = face_normals(rest_vertices.double(), rig.faces)[binding.face_index].numpy()
    head = torch.from_numpy(head_vertices(rig))[rig.faces[binding.face_index]].any(1).numpy()
    known = (conf > 0).numpy()
    cells = np.floor(points[:, :2] / cell).astype(np.int64)
    lo = cells.min(0)
    cells -= lo
    gw, gh = cells.max(0) + 1
    key = cells[:, 1] * gw + cells[:, 0]
    front = known & (conf > SOURCE_CONFIDENCE).numpy() & (normals[:, 2] > 0) & ~head
    colours = rgb.numpy()
    kernel = np.ones((3, 3), np.float64)

    def cell_mean(weight):
        grid_w = np.bincount(key, weight, minlength=gw * gh).reshape(gh, gw)
        grid_c = np.stack([np.bincount(key, weight * colours[:, c], minlength=gw * gh) for c in range(3)],
                          -1).reshape(gh, gw, 3)
        grid_w = cv2.filter2D(grid_w, -1, kernel, borderType=cv2.BORDER_CONSTANT)
        grid_c = np.stack([cv2.filter2D(grid_c[..., c], -1, kernel, borderType=cv2.BORDER_CONSTANT)
                           for c in range(3)], -1)
        return grid_w, grid_c / np.maximum(grid_w, 1e-9)[..., None]

    weight = conf.numpy() * front
    grid_w, mean = cell_mean(weight)
    # reweighting steps (mean shift): colours far from their neighbourhood's mean (logos, badges, straps) count
    # less, so each cell converges to its dominant colour (the garment's)
    for _ in range(3):
        far = ((colours - mean.reshape(-1, 3)[key]) ** 2).sum(1)
        _, mean = cell_mean(weight * np.exp(-far / (2 * 0.08 ** 2)) + 1e-6 * front)
    back = ~known & ~head & (grid_w.reshape(-1)[key] > 1.0)
    # bilinear lookup between cell centres (no blocks on the back)
    fx = np.clip(points[back, 0] / cell - lo[0] - 0.5, 0, gw - 1)
    fy = np.clip(points[back, 1] / cell - lo[1] - 0.5, 0, gh - 1)
    x0, y0 = np.floor(fx).astype(int), np.floor(fy).astype(int)
    x1, y1 = np.minimum(x0 + 1, gw - 1), np.minimum(y0 + 1, gh - 1)
    ax, ay = (fx - x0)[:, None], (fy - y0)[:, None]
    valid = grid_w > 1.0
    corners = [(y0, x0, (1 - ax) * (1 - ay)), (y0, x1, ax * (1 - ay)), (y1, x0, (1 - ax) * ay), (y1, x1, ax * ay)]
    total = sum(w * valid[yy, xx][:, None] for yy, xx, w in corners)
    colour = sum(w * valid[yy, xx][:, None] * mean[yy, xx] for yy, xx, w in corners) / np.maximum(total, 1e-9)
    rgb[torch.from_numpy(back)] = torch.from_numpy(colour)
    conf[torch.from_numpy(back)] = 0.3
    source[torch.from_numpy(back)] = 3
    stats["front_to_back"] = float(back.mean())

    # 3. head sides -> back of the head, per height band, drawn towards the colour of the top of the head
    known = (conf > 0).numpy()
    seen_conf = confidence.numpy()
    from_photo = (source == 1).numpy() & ~(np.zeros(n, bool) if given is None else given.numpy())
    seen_head = known & head & from_photo
    grazing = seen_head & (seen_conf > EDGE_CONFIDENCE) & (seen_conf < 0.45)
    upper = points[:, 1] > np.median(points[head, 1]) if head.any() else np.zeros(n, bool)
    top_of_head = (seen_head & (normals[:, 1] > 0.5) & (seen_conf > EDGE_CONFIDENCE)) | (grazing & upper)
    band = np.floor(points[:, 1] / 0.02).astype(np.int64)
    band -= band.min()
    counts = np.bincount(band[grazing], minlength=band.max() + 1)
    sums = np.stack([np.bincount(band[grazing], colours[grazing, c], minlength=band.max() + 1) for c in range(3)], 1)
    fill = ~known & head & (counts[band] >= 5)
    side = sums[band[fill]] / np.maximum(counts[band[fill], None], 1)
    if top_of_head.sum() >= 5:
        top = robust_mean(colours[top_of_head], np.ones(int(top_of_head.sum())))
        agree = np.exp(-((side - top) ** 2).sum(1, keepdims=True) / (2 * 0.12 ** 2))
        side = agree * side + (1 - agree) * top
    rgb[torch.from_numpy(fill)] = torch.from_numpy(side)
    conf[torch.from_numpy(fill)] = 0.2
    source[torch.from_numpy(fill)] = 4
    stats["head_band"] = float(fill.mean())

    # 4. hands never seen: the seen hands' colour (gloves or skin), else the face's skin
    hand = torch.from_numpy(hand_vertices(rig))[rig.faces[binding.face_index]].all(1).numpy()
    known = (conf > 0).numpy()
    seen_hand = hand & known & (from_photo | (source == 2).numpy())
    face_skin = seen_head & (seen_conf > 0.8)
    fill = hand & ~known
    stats["hands"] = float(fill.mean())
    if fill.any() and (seen_hand.sum() >= 5 or face_skin.sum() >= 5):
        pick = seen_hand if seen_hand.sum() >= 5 else face_skin
        rgb[torch.from_numpy(fill)] = torch.from_numpy(robust_mean(rgb.numpy()[pick], conf.numpy()[pick]))[None]
        conf[torch.from_numpy(fill)] = 0.2
        source[torch.from_numpy(fill)] = 5

    # 5. UV inpainting of everything else (and the gutter)
    image = texels_to_image(torch.cat([rgb, (conf > 0).double()[:, None]], 1), binding).numpy()
    holes = (image[..., 3] == 0).astype(np.uint8)
    stats["inpainted"] = float(1 - (conf > 0).double().mean())
    colour = np.clip(image[..., :3] * 255 + 0.5, 0, 255).astype(np.uint8)
    if holes.any() and not holes.all():
        colour = cv2.inpaint(colour, holes, inpaint_radius, cv2.INPAINT_TELEA)
    done = colour.astype(np.float32) / 255
    return done, {k: round(v, 4) for k, v in stats.items()}
