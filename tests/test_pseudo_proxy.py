"""The proxy surface: smooth offsets that make a body's silhouette cover the person mask."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from pseudo_scenes import camera, rig_from_mesh
from talkavatar.pseudo.mesh import face_normals, graph_laplacian
from talkavatar.pseudo.proxy import fit_proxy, outline_pixels, signed_distance, solve_spd
from talkavatar.pseudo.raster import rasterize_mesh


def _sphere(radius: float, centre: tuple[float, float, float], rings: int = 16, segments: int = 24):
    """A closed UV sphere: vertices [V, 3], faces [F, 3] counter-clockwise from outside, face_uvs [F, 3, 2]."""
    verts, uvs = [np.array([0.0, radius, 0.0])], [(0.5, 1.0)]
    for i in range(1, rings):
        theta = np.pi * i / rings
        for j in range(segments):
            phi = 2 * np.pi * j / segments
            verts.append(radius * np.array([np.sin(theta) * np.sin(phi), np.cos(theta), np.sin(theta) * np.cos(phi)]))
            uvs.append((j / segments, 1 - i / rings))
    verts.append(np.array([0.0, -radius, 0.0]))
    uvs.append((0.5, 0.0))
    bottom = len(verts) - 1

    def ring(i, j):
        return 1 + (i - 1) * segments + j % segments

    faces = [[0, ring(1, j), ring(1, j + 1)] for j in range(segments)]
    for i in range(1, rings - 1):
        for j in range(segments):
            a, b, c, d = ring(i, j), ring(i + 1, j), ring(i + 1, j + 1), ring(i, j + 1)
            faces += [[a, b, c], [a, c, d]]
    faces += [[bottom, ring(rings - 1, j + 1), ring(rings - 1, j)] for j in range(segments)]
    faces = np.array(faces)
    verts = np.array(verts) + np.array(centre)
    return verts, faces, np.array(uvs)[faces]


SIZE, FOCAL = 96, 120.0
ZERO_POSE = torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)


def _sphere_scene():
    """A 20 cm sphere 1.5 m in front of a 96 px camera: its vertices [V, 3], faces [F, 3], rig, camera, and the
    metric x, y [96, 96] at the sphere's depth of every pixel centre."""
    verts, faces, uvs = _sphere(0.2, (0.0, 0.0, -1.5))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    x, y = (xs - SIZE / 2) / FOCAL * 1.5, -(ys - SIZE / 2) / FOCAL * 1.5
    return verts, faces, rig_from_mesh(verts, faces, uvs), camera(SIZE, FOCAL), x, y


def test_proxy_grows_a_body_to_cover_a_larger_silhouette_without_folds():
    verts, faces, rig, cam, x, y = _sphere_scene()
    # the person: an upright ellipse, 8 cm wider and 12 cm taller than the body at its depth, off-centre by 2 cm
    mask = ((x - 0.02) / 0.28) ** 2 + (y / 0.32) ** 2 <= 1
    offsets, stats = fit_proxy(rig, *ZERO_POSE, cam, mask)
    assert stats["mask_iou_body"] < 0.65
    assert stats["mask_coverage_proxy"] >= 0.99 and stats["mask_iou_proxy"] >= 0.88
    assert stats["folded_faces"] == 0
    # the figures are what the offset body really shows
    posed = rig.vertices + offsets
    pixels, depth = cam.project(posed)
    body = rasterize_mesh(pixels[0], depth[0], rig.faces, SIZE, SIZE).mask.numpy()
    assert abs(body[mask].mean() - stats["mask_coverage_proxy"]) < 1e-3
    # smooth: neighbouring vertices move alike (no spikes), and no face turns over
    heights = offsets.norm(dim=1)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    assert (heights[edges[:, 0]] - heights[edges[:, 1]]).abs().max() < 0.05
    turned = (face_normals(rig.vertices, rig.faces) * face_normals(posed, rig.faces)).sum(-1)
    assert turned.min() > 0.5


def test_signed_distance_and_outline():
    mask = np.zeros((9, 9), bool)
    mask[2:7, 3:6] = True
    sdf = signed_distance(mask)
    assert sdf[4, 4] < 0 and sdf[4, 3] == -0.5 and sdf[4, 2] == 0.5 and sdf[4, 0] == 2.5
    outline = outline_pixels(mask)
    assert outline.sum() == 5 * 3 - 3 and not outline[4, 4]
    full = np.ones((4, 4), bool)  # the image border is no outline
    assert not outline_pixels(full).any()


def test_unseen_faces_do_not_pull_the_proxy_into_the_mask_beside_them():
    """A body whose right side the detector did not see (soldier_bw's cut-off legs, hung down beside the mask's lobe
    of a canteen): the lobe does not blow that side up into a balloon, which the fit's one-texel Gaussians then
    left in holes; without ``unseen`` it does."""
    verts, faces, rig, cam, x, y = _sphere_scene()
    lobe = (x > 0.12) & (x < 0.36) & (np.abs(y) < 0.15)  # something else beside the body's right side
    mask = (x ** 2 + y ** 2 <= 0.19 ** 2) | lobe
    right = verts[:, 0] > 0.08
    beyond = lobe & (x > 0.24)
    for unseen, height, covered in ((None, (0.1, 1.0), (0.7, 1.0)), (right[faces].all(1), (0.0, 0.02), (0.0, 0.01))):
        offsets, stats = fit_proxy(rig, *ZERO_POSE, cam, mask, unseen=unseen)
        pixels, depth = cam.project(rig.vertices + offsets)
        body = rasterize_mesh(pixels[0], depth[0], rig.faces, SIZE, SIZE).mask.numpy()
        assert height[0] <= float(offsets.norm(dim=1)[right].max()) <= height[1]  # the balloon, or none
        assert covered[0] <= body[beyond].mean() <= covered[1]
        assert stats["folded_faces"] == 0


def _proxy_like_system(count_side: int = 40, samples: int = 600, seed: int = 0):
    """A Gauss-Newton system shaped like the proxy's: outline samples' Jacobian rows (3 corners each) plus the
    membrane + thin plate prior and damping of a grid mesh ([V, V] sparse, float64) and a right-hand side [V]."""
    g = np.random.default_rng(seed)
    i, j = np.mgrid[0:count_side - 1, 0:count_side - 1]
    corner = (i * count_side + j).ravel()
    faces = np.concatenate([np.stack([corner, corner + 1, corner + count_side], 1),
                            np.stack([corner + 1, corner + count_side + 1, corner + count_side], 1)])
    count = count_side * count_side
    lap = graph_laplacian(faces, count).tocsc()
    corners = faces[g.integers(0, len(faces), samples)]
    jac = sp.csr_matrix((g.normal(0, 400, (samples, 3)).ravel(), (np.repeat(np.arange(samples), 3), corners.ravel())),
                        shape=(samples, count))
    k2 = 500.0 ** 2
    prior = 0.3 * (lap + lap.T @ lap) + 0.06 * sp.identity(count)
    system = jac.T @ sp.diags(g.uniform(0.1, 1, samples)) @ jac + k2 * prior
    return system, g.normal(0, 1e3, count)


def test_solve_spd_on_the_cpu_solves_the_system():
    system, rhs = _proxy_like_system()
    x = solve_spd(system, rhs)
    assert np.abs(system @ x - rhs).max() < 1e-9 * np.abs(rhs).max()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run through the device tool)")
def test_proxy_on_cuda_matches_the_cpu():
    """The stage on CUDA solves each Gauss-Newton round by a dense Cholesky factorisation there (and draws its
    z-buffers there): the same solution as the CPU's SuperLU to 1e-9 relative, and the same proxy (to 1 um where
    only the solve moves; an outline pixel of the CUDA z-buffer may fall the other way by one ulp, so with both
    moved the proxy agrees to 1 mm)."""
    system, rhs = _proxy_like_system()
    cpu, gpu = solve_spd(system, rhs), solve_spd(system, rhs, "cuda")
    assert np.abs(gpu - cpu).max() <= 1e-9 * np.abs(cpu).max()
    verts, faces, rig, cam, x, y = _sphere_scene()
    mask = ((x - 0.02) / 0.28) ** 2 + (y / 0.32) ** 2 <= 1
    offsets, stats = fit_proxy(rig, *ZERO_POSE, cam, mask)
    solved_there, stats_solved = fit_proxy(rig, *ZERO_POSE, cam, mask, solve_device="cuda")
    assert (solved_there - offsets).abs().max() < 1e-6  # metres
    assert stats_solved == stats
    both_there, stats_both = fit_proxy(rig, *ZERO_POSE, cam, mask, raster_device="cuda", solve_device="cuda")
    assert (both_there - offsets).abs().max() < 1e-3
    assert abs(stats_both["mask_iou_proxy"] - stats["mask_iou_proxy"]) <= 0.005
