"""Mesh regularisers of the coupled Gaussian-mesh avatar (One Shot One Talk §3.3): normal consistency of the
deformed mesh, Laplacian smoothing of per-vertex and per-Gaussian quantities over the initial connectivity, and the
mesh-Gaussian consistency ``|dX - Bary(dT)|``.

Connectivity is computed once from the initial mesh (:func:`mesh_edges`, :func:`face_pairs`) or from the Gaussians'
UV binding (:func:`gaussian_edges`) and passed in as index tensors; the losses take tensors only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.gather import gather


def mesh_edges(faces: Tensor) -> Tensor:
    """Unique undirected edges of a triangle mesh, [E, 2] int64 (i < j). faces: [F, 3]."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).sort(dim=1).values
    n = int(faces.max()) + 1 if faces.numel() else 1
    key = torch.unique(e[:, 0] * n + e[:, 1])  # one int64 per edge: torch.unique(e, dim=0) takes ~1 s on a CPU
    return torch.stack([key // n, key % n], 1)


def face_pairs(faces: Tensor) -> Tensor:
    """Pairs of triangles sharing an edge, [P, 2] int64 (an edge with k > 2 triangles pairs consecutive ones)."""
    f = faces.detach().cpu().numpy()
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    order = np.lexsort((owner, e[:, 1], e[:, 0]))
    e, owner = e[order], owner[order]
    same = (e[1:] == e[:-1]).all(1) & (owner[1:] != owner[:-1])
    pairs = np.stack([owner[:-1][same], owner[1:][same]], 1)
    return torch.from_numpy(pairs).to(faces.device)


def face_normals(vertices: Tensor, faces: Tensor) -> Tensor:
    """Unit normals [B, F, 3] of ``vertices`` [B, V, 3]."""
    v0, v1, v2 = (gather(vertices, faces[:, k], 1) for k in range(3))
    n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def normal_consistency(vertices: Tensor, faces: Tensor, pairs: Tensor) -> Tensor:
    """Mean ``1 - cos`` between the normals of adjacent triangles (0 for a flat mesh), a scalar.

    vertices: [B, V, 3]; faces: [F, 3]; pairs: [P, 2] from :func:`face_pairs`.
    """
    n = face_normals(vertices, faces)
    return (1 - (gather(n, pairs[:, 0], 1) * gather(n, pairs[:, 1], 1)).sum(-1)).mean()


def laplacian(values: Tensor, edges: Tensor) -> Tensor:
    """Uniform graph Laplacian: each node's value minus the mean of its neighbours' values.

    values: [N, C]; edges: [E, 2] undirected node pairs. Returns [N, C] (zero rows for isolated nodes).
    """
    i, j = edges[:, 0], edges[:, 1]
    total = torch.zeros_like(values).index_add(0, i, gather(values, j)).index_add(0, j, gather(values, i))
    degree = torch.zeros(values.shape[0], dtype=values.dtype, device=values.device)
    degree = degree.index_add(0, i, torch.ones_like(i, dtype=values.dtype)).index_add(
        0, j, torch.ones_like(j, dtype=values.dtype))
    mean = total / degree.clamp_min(1)[:, None]
    return torch.where(degree[:, None] > 0, values - mean, torch.zeros_like(values))


def laplacian_smoothing(values: Tensor, edges: Tensor) -> Tensor:
    """Mean over nodes of the L2 norm of the uniform Laplacian of ``values`` [N, C] (0 for constant values)."""
    return laplacian(values, edges).norm(dim=-1).mean()


def gaussian_edges(texel: Tensor, face_index: Tensor, faces: Tensor, uv_res: int) -> Tensor:
    """Neighbouring Gaussians of a UV binding, [E, 2] int64: texels adjacent in the UV grid (4-neighbourhood)
    whose triangles share at least one vertex, so that UV seams do not link unrelated body parts.

    texel: [N, 2] (col, row); face_index: [N]; faces: [F, 3].
    """
    t = texel.detach().cpu().numpy().astype(np.int64)
    fi = face_index.detach().cpu().numpy()
    f = faces.detach().cpu().numpy()
    key = t[:, 1] * uv_res + t[:, 0]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    pairs = []
    for dc, dr in ((1, 0), (0, 1)):
        inside = (t[:, 0] + dc < uv_res) & (t[:, 1] + dr < uv_res)
        want = (t[:, 1] + dr) * uv_res + t[:, 0] + dc
        pos = np.searchsorted(sorted_key, want)
        pos = np.clip(pos, 0, len(sorted_key) - 1)
        hit = inside & (sorted_key[pos] == want)
        a = np.flatnonzero(hit)
        b = order[pos[hit]]
        # a texel bound twice (overlapping charts) links to the first copy only; that is enough for smoothing
        pairs.append(np.stack([a, b], 1))
    p = np.concatenate(pairs)
    fa, fb = f[fi[p[:, 0]]], f[fi[p[:, 1]]]
    shared = (fa[:, :, None] == fb[:, None, :]).any((1, 2))
    return torch.from_numpy(p[shared]).to(face_index.device)


def mesh_gaussian_consistency(gaussian_offsets: Tensor, vertex_offsets: Tensor, faces: Tensor,
                              face_index: Tensor, barycentrics: Tensor) -> Tensor:
    """``mean |dX - Bary(dT)|`` (L1 per coordinate), a scalar.

    gaussian_offsets dX: [N, 3]; vertex_offsets dT: [V, 3]; faces: [F, 3]; face_index: [N]; barycentrics: [N, 3].
    """
    corners = gather(vertex_offsets, faces[face_index])  # [N, 3, 3]
    bary = (corners * barycentrics.to(vertex_offsets.dtype)[..., None]).sum(1)
    return (gaussian_offsets - bary).abs().mean()
