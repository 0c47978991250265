"""Mesh regularisers: zero where they should be, respond to bumps, connectivity from the UV binding."""

import torch

from talkavatar.core.binding import Binding
from talkavatar.core.losses import (face_pairs, gaussian_edges, laplacian, laplacian_smoothing, mesh_edges,
                                    mesh_gaussian_consistency, normal_consistency)
from tests.toy_body import toy_rig


def _grid(n=5):
    """A flat n x n vertex grid in the XY plane, two triangles per cell."""
    ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64),
                            indexing="ij")
    v = torch.stack([xs, ys, torch.zeros_like(xs)], -1).reshape(-1, 3)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            i = r * n + c
            faces += [[i, i + 1, i + n + 1], [i, i + n + 1, i + n]]
    return v, torch.tensor(faces)


def test_edges_and_pairs_of_a_grid():
    v, f = _grid(3)
    assert mesh_edges(f).shape == (16, 2)  # 12 grid edges + 4 diagonals
    assert face_pairs(f).shape == (8, 2)  # interior edges: 4 diagonals + 4 inner grid edges


def test_normal_consistency_flat_is_zero_bump_is_positive():
    v, f = _grid()
    pairs = face_pairs(f)
    assert normal_consistency(v[None], f, pairs).abs() < 1e-12
    bumped = v.clone()
    bumped[12, 2] = 0.7
    assert normal_consistency(bumped[None], f, pairs) > 0.01


def test_laplacian_constant_and_linear_fields_vanish_inside():
    v, f = _grid()
    e = mesh_edges(f)
    assert laplacian_smoothing(torch.ones(25, 3, dtype=torch.float64), e) == 0
    spike = torch.zeros(25, 1, dtype=torch.float64)
    spike[12] = 1
    lap = laplacian(spike, e)
    assert lap[12, 0] == 1 and (lap[[7, 11, 13, 17], 0] < 0).all()


def test_mesh_gaussian_consistency_zero_for_interpolated_offsets():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 16)
    g = torch.Generator().manual_seed(0)
    dT = 0.01 * torch.randn(rig.vertices.shape, generator=g, dtype=torch.float64)
    dX = b.interpolate(dT[None], rig.faces)[0]
    assert mesh_gaussian_consistency(dX, dT, rig.faces, b.face_index, b.barycentrics) < 1e-12
    assert mesh_gaussian_consistency(dX + 0.01, dT, rig.faces, b.face_index, b.barycentrics) > 0.0099


def test_gaussian_edges_link_uv_neighbours_on_connected_triangles():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 24)
    e = gaussian_edges(b.texel, b.face_index, rig.faces, 24)
    assert e.shape[1] == 2 and len(e) > b.count  # a grid has about 2 edges per node
    d = (b.texel[e[:, 0]] - b.texel[e[:, 1]]).abs().sum(-1)
    assert (d == 1).all()
    # Neighbours on the surface are close in 3D, relative to the tube's 0.6 m length
    p = b.surface_points(rig.vertices[None], rig.faces)[0]
    assert (p[e[:, 0]] - p[e[:, 1]]).norm(dim=-1).max() < 0.1


def test_gradients_flow():
    v, f = _grid()
    v = v.clone().requires_grad_(True)
    pairs = face_pairs(f)
    bumped = v + torch.zeros_like(v).index_fill(0, torch.tensor([12]), 0.3)
    (normal_consistency(bumped[None], f, pairs) + laplacian_smoothing(bumped, mesh_edges(f))).backward()
    assert v.grad.abs().sum() > 0
