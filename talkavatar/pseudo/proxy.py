"""The proxy surface: the fitted body plus smooth vertex offsets that make its silhouette cover the person mask.

A bare body under a coat or a spacesuit loses everything outside its outline. The proxy moves every rest vertex
along its smoothed rest normal (:func:`offset_directions`) by a height ``h`` [V] (metres; in the rest space of the
rig, what fit's dT means), fitted to
the person mask by Gauss-Newton rounds. Each round rasterizes the posed proxy and takes every pixel on its outline
(proxy pixels with a 4-neighbour outside it; the image border is not an outline) as a sample: the surface point
there (face, barycentrics) must project onto the mask's outline, ``margin`` pixels outside it, so the proxy covers
the mask with no gap between the mesh's straight chords and a rounder outline. The residual of a sample is the
mask's signed distance (pixels, positive outside) at its projection minus ``margin``; it is linearised in ``h``
(the posed proxy is linear in ``h``: ``X(h) = X0 + h * D``, ``D`` the posed image of the rest normal). A round
solves

    min_dh  sum_s w_s (r_s + a_s . dh)^2 + k^2 [ smooth (h' L h' + h'^T L^T L h') + decay |h'|^2
                                                  + front * |h'|^2 on front-facing vertices + damping |dh|^2 ]

(``h' = h + dh``, ``L`` the mesh graph Laplacian, ``k`` pixels per metre at the body, ``w_s`` Huber weights), so
offsets are smooth (membrane + thin plate: no spikes at single samples), spread from the outline over front, back
and sides, and stay near zero on the surface the camera sees face-on (its depth is not measured). Every pixel of the
outline pulls, so gaps between arms and torso that the person fills close from both sides, and parts of the body
outside the mask shrink (down to ``-min_offset``). Outline pixels on ``unseen`` faces (the parts the detector did not
see: legs a photo cut off, which the track hangs straight down through what the mask calls background) do not pull:
the mask there belongs to something else (soldier_bw's canteen, which blew a leg up into a 25 cm balloon whose
stretched triangles the fit's one-texel Gaussians left 6.8 % holes in), or misses the clothing over them (his coat);
the prior carries the torso's offsets onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import splu

from talkavatar.core.cameras import Cameras
from talkavatar.pseudo.mesh import face_normals, graph_laplacian, vertex_normals
from talkavatar.pseudo.raster import rasterize_mesh

HUBER_PIXELS = 8.0   # samples further than this from their target pull with a linearly capped force
FRONT_WEIGHT = 0.05  # prior towards zero offset on vertices the camera sees face-on, relative to the data
STEP_EPS = 1e-4      # metres: finite-difference step of the projection's derivative


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """[H, W] bool -> [H, W] float32: distance (pixels) of each pixel centre to the mask's outline, positive
    outside the mask, negative inside (the outline lies half a pixel beyond the outermost mask pixels)."""
    m = mask.astype(np.uint8)
    outside = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)
    inside = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    return np.where(mask, -(inside - 0.5), outside - 0.5).astype(np.float32)


def outline_pixels(mask: np.ndarray) -> np.ndarray:
    """[H, W] bool -> [H, W] bool: mask pixels with a 4-neighbour outside the mask (pixels beyond the image
    border count as inside: where the person leaves the image there is no outline)."""
    padded = np.pad(mask, 1, mode="edge")
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~interior


def bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sample [H, W, ...] at continuous pixel positions [N, 2] (x, y; pixel centres at +0.5), clamped at the
    border -> [N, ...]."""
    h, w = image.shape[:2]
    x = np.clip(points[:, 0] - 0.5, 0, w - 1)
    y = np.clip(points[:, 1] - 0.5, 0, h - 1)
    x0, y0 = np.minimum(np.floor(x).astype(int), w - 2), np.minimum(np.floor(y).astype(int), h - 2)
    fx, fy = x - x0, y - y0
    shape = (-1,) + (1,) * (image.ndim - 2)
    fx, fy = fx.reshape(shape), fy.reshape(shape)
    return (image[y0, x0] * (1 - fx) * (1 - fy) + image[y0, x0 + 1] * fx * (1 - fy)
            + image[y0 + 1, x0] * (1 - fx) * fy + image[y0 + 1, x0 + 1] * fx * fy)


def offset_directions(vertices: torch.Tensor, faces: torch.Tensor, smoothing: int) -> torch.Tensor:
    """Unit directions [V, 3] along which the proxy grows: vertex normals averaged over the mesh graph
    ``smoothing`` times (a vertex with its neighbours), so that small concave features (ears, eyelids, the
    spaces between fingers) move as a whole instead of folding over themselves."""
    count = vertices.shape[0]
    normals = vertex_normals(vertices.double(), faces).numpy()
    lap = graph_laplacian(faces.numpy(), count)
    average = sp.diags(1.0 / (lap.diagonal() + 1.0)) @ (sp.diags(lap.diagonal() + 1.0) - lap)
    for _ in range(smoothing):
        normals = average @ normals
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return torch.from_numpy(normals)


def posed_frame(rig, joint_rotations: torch.Tensor, root_translation: torch.Tensor, arkit_weights: torch.Tensor,
                smoothing: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posed rest surface X0 [V, 3], the posed image D [V, 3] of each rest offset direction
    (:func:`offset_directions`; so the proxy with heights ``h`` poses to ``X0 + h[:, None] * D``: skinning is linear
    in the rest vertices) and the rest directions [V, 3] (float64 numpy)."""
    normals = offset_directions(rig.vertices, rig.faces, smoothing).float()
    shifted = [rig, replace(rig, vertices=rig.vertices + normals)]
    posed = [r.pose(joint_rotations, root_translation, arkit_weights).vertices[0].double().numpy() for r in shifted]
    return posed[0], posed[1] - posed[0], normals.double().numpy()


@dataclass(frozen=True)
class _Problem:
    """What every Gauss-Newton round of :func:`fit_proxy` reads: the posed rest surface ``x0`` [V, 3] and the
    posed offset directions ``d`` [V, 3] (float64), the mesh ``faces`` [F, 3], the mask's signed distance ``sdf``
    [H, W] and its gradient ``grad`` [H, W, 2], the camera (and its float64 copy), the outline ``margin`` (pixels),
    ``k`` pixels per metre at the body, the smoothness and decay ``prior`` [V, V], the ``damping`` and the faces
    whose outline pixels do not pull, ``unseen`` [F] bool."""
    x0: np.ndarray
    d: np.ndarray
    faces: np.ndarray
    sdf: np.ndarray
    grad: np.ndarray
    camera: Cameras
    camera64: Cameras
    margin: float
    k: float
    prior: sp.spmatrix
    damping: float
    unseen: np.ndarray

    def project(self, points: np.ndarray) -> np.ndarray:
        return self.camera64.project(torch.from_numpy(points))[0][0].numpy()


def fit_proxy(rig, joint_rotations: torch.Tensor, root_translation: torch.Tensor, arkit_weights: torch.Tensor,
              camera: Cameras, person_mask: np.ndarray, smooth: float = 0.3, decay: float = 0.01,
              max_offset: float = 0.25, min_offset: float = 0.03, rounds: int = 8, margin: float | None = None,
              damping: float = 0.05, smoothing: int = 60, raster_device="cpu", unseen: np.ndarray | None = None,
              solve_device="cpu") -> tuple[torch.Tensor, dict]:
    """Rest-space vertex offsets [V, 3] (along smoothed rest normals) for one tracked view (``joint_rotations``
    [1, 55, 3], ``root_translation`` [1, 3], ``arkit_weights`` [1, 52]; ``camera`` one camera of the photo's size;
    ``person_mask`` [H, W] bool). See the module docstring for the fit; ``margin`` defaults to 1.5 pixels per 512
    pixels of the image's larger side, ``smoothing`` is the number of averaging passes of the offset directions
    (:func:`offset_directions`); ``raster_device``: where each round's z-buffer is drawn (:mod:`raster`);
    ``unseen``: [F] bool, the faces whose outline pixels do not pull (see the module docstring); ``solve_device``:
    where each round's linear system is solved (:func:`solve_spd`).

    Returns offsets and figures: silhouette IoU of the bare body and of the proxy with the mask, the share of the
    mask the proxy covers, the number of outline samples of the last round, the number of faces the offsets turn
    over (rest space).
    """
    w, h_img = camera.width, camera.height
    margin = max(1.0, 1.5 * max(w, h_img) / 512) if margin is None else margin
    x0, d, directions = posed_frame(rig, joint_rotations, root_translation, arkit_weights, smoothing)
    faces = rig.faces.numpy()
    count = x0.shape[0]
    sdf = signed_distance(person_mask)
    grad = np.stack(np.gradient(sdf)[::-1], -1)  # [H, W, 2]: d/dx, d/dy
    lap = graph_laplacian(faces, count).tocsc()
    _, depth0 = camera.project(torch.from_numpy(x0).float())
    k = float(camera.K[0, 0, 0]) / float(depth0[0].median())  # pixels per metre at the body
    prior = smooth * (lap + lap.T @ lap) + decay * sp.identity(count)
    problem = _Problem(x0, d, faces, sdf, grad, camera, camera.to(dtype=torch.float64), margin, k, prior, damping,
                       np.zeros(len(faces), bool) if unseen is None else unseen)
    heights = np.zeros(count)
    stats: dict = {}
    faces_there = rig.faces.to(raster_device)
    for r in range(rounds + 1):
        pixels, depth = camera.project(torch.from_numpy(x0 + heights[:, None] * d).float())
        frags = rasterize_mesh(pixels[0].to(raster_device), depth[0].to(raster_device), faces_there, w,
                               h_img).to("cpu")
        body = frags.mask.numpy()
        iou = float((body & person_mask).sum() / max(1, (body | person_mask).sum()))
        if r == 0:
            stats["mask_iou_body"] = round(iou, 4)
        if r == rounds:
            stats["mask_iou_proxy"] = round(iou, 4)
            stats["mask_coverage_proxy"] = round(float(body[person_mask].mean()) if person_mask.any() else 1.0, 4)
            break
        step, stats["outline_samples"] = _gauss_newton_step(problem, frags, body, heights, solve_device)
        heights = np.clip(heights + step, -min_offset, max_offset)
    offsets = torch.from_numpy(directions * heights[:, None]).float()
    before = face_normals(rig.vertices, rig.faces)
    after = face_normals(rig.vertices + offsets, rig.faces)
    stats["folded_faces"] = int(((before * after).sum(-1) < 0).sum())
    return offsets, stats


def _gauss_newton_step(p: _Problem, frags, body: np.ndarray, heights: np.ndarray,
                       solve_device="cpu") -> tuple[np.ndarray, int]:
    """One round of :func:`fit_proxy`: the change of the heights [V] that solves the linearised problem at
    ``heights`` (the proxy rasterized as ``frags``, its pixels ``body`` [H, W] bool; solved on ``solve_device``),
    and the outline samples used."""
    count = p.x0.shape[0]
    rows, cols = np.nonzero(outline_pixels(body))
    face = frags.face.numpy()[rows, cols]
    pulls = ~p.unseen[face]
    rows, cols, face = rows[pulls], cols[pulls], face[pulls]
    bary = frags.barycentrics[rows, cols].double().numpy()  # [S, 3] (only the samples made float64)
    corners = p.faces[face]  # [S, 3]
    points = p.x0 + heights[:, None] * p.d
    surface = (points[corners] * bary[..., None]).sum(1)  # [S, 3]
    q = p.project(surface)
    residual = bilinear(p.sdf, q) - p.margin
    normal2d = bilinear(p.grad, q)  # [S, 2]
    # a_si: pixels the sample moves across the mask outline per metre of height at its corner i
    moved = surface[:, None, :] + STEP_EPS * bary[..., None] * p.d[corners]  # [S, 3, 3]
    dq = (p.project(moved.reshape(-1, 3)).reshape(-1, 3, 2) - q[:, None]) / STEP_EPS
    a = (dq * normal2d[:, None]).sum(-1)  # [S, 3]
    weight = np.minimum(1.0, HUBER_PIXELS / np.maximum(np.abs(residual), 1e-9))
    jac = sp.csr_matrix((a.ravel(), (np.repeat(np.arange(len(rows)), 3), corners.ravel())),
                        shape=(len(rows), count))
    # vertices the camera sees face-on: their depth is not measured, keep them near the body
    posed_n = p.d / np.maximum(np.linalg.norm(p.d, axis=1, keepdims=True), 1e-12)
    to_camera = p.camera.centers[0].double().numpy() - points
    to_camera /= np.linalg.norm(to_camera, axis=1, keepdims=True)
    facing = (posed_n * to_camera).sum(1) > 0.7
    front = sp.diags(FRONT_WEIGHT * facing.astype(np.float64))
    reg = p.k * p.k * (p.prior + front)
    system = jac.T @ sp.diags(weight) @ jac + reg + p.damping * p.k * p.k * sp.identity(count)
    rhs = -(jac.T @ (weight * residual)) - reg @ heights
    return solve_spd(system, rhs, solve_device), int(len(rows))


def solve_spd(system: sp.spmatrix, rhs: np.ndarray, device="cpu") -> np.ndarray:
    """x [V] with ``system`` [V, V] x = ``rhs`` [V] for a symmetric positive definite sparse ``system`` (float64).

    On the CPU (the reference): SuperLU with a symmetric ordering (it fills ~2x less than SuperLU's default). On a
    GPU: the dense Cholesky factorisation there (V^3 / 3 flops in float64: the proxy's 13.9k unknowns are ~0.9
    Tflop; V^2 * 8 bytes twice, 1.5 GB each): 42 ms a round on an H100 against SuperLU's 70 ms on its host, the
    process's first call ~100 ms more (cuSOLVER's start; benchmarks/pseudo_parts.py). Both are direct solvers of
    the same system: 7.7e-15 relative apart there (tests/test_pseudo_proxy.py asks 1e-9)."""
    if torch.device(device).type == "cpu":
        solver = splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        return solver.solve(rhs)
    coo = system.tocoo()
    dense = torch.zeros(coo.shape, dtype=torch.float64, device=device)
    index = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64)).to(device)
    dense.index_put_((index[0], index[1]), torch.from_numpy(coo.data).to(device), accumulate=True)
    factor, info = torch.linalg.cholesky_ex(dense)
    del dense
    if int(info):
        raise ValueError(f"the system is not positive definite (leading minor {int(info)})")
    return torch.cholesky_solve(torch.from_numpy(rhs).to(device)[:, None], factor)[:, 0].cpu().numpy()
