"""Mesh helpers of the pseudo stage: normals, the graph Laplacian, the left/right mirror map, body parts.

The mirror map is derived from the rig's own rest geometry (no model data): vertex ``i`` maps to the vertex
nearest to its reflection ``x -> -x``; a face maps to the face with the mirrored corner set (Anny's MakeHuman
topology is symmetric), with the corner permutation that carries barycentrics across.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree

from talkavatar.core.body.parts import strongest_bone_names

HEAD_BONES = ("head", "eye.L", "eye.R", "jaw")
HAND_BONE_PREFIXES = ("wrist", "finger", "metacarpal", "thumb", "index", "middle", "ring", "pinky", "hand")


def face_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """[..., V, 3], [F, 3] -> unit normals [..., F, 3] (counter-clockwise = outward)."""
    tri = vertices[..., faces, :]
    n = torch.linalg.cross(tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :])
    return n / n.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted vertex normals: [V, 3], [F, 3] -> [V, 3]."""
    tri = vertices[faces]
    n = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = torch.zeros_like(vertices).index_add_(0, faces.reshape(-1), n.repeat_interleave(3, 0))
    return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def enclosure(vertices: torch.Tensor, faces: torch.Tensor, radius: float) -> torch.Tensor:
    """[V] in 0..1 for a mesh ``vertices`` [V, 3] (float64), ``faces`` [F, 3], on their device: the share of the
    vertices within ``radius`` of each vertex that lie in front of it (more than 17 degrees above its tangent
    plane): 0 on a convex bump (a knuckle, a fingertip), about half in a crease (the side of a finger facing the next
    one, an armpit); a cheap ambient occlusion. Two schedules of the same pairs and arithmetic: a k-d tree on the
    CPU (the reference), every pair tested on a GPU (:func:`_enclosure_dense`; tests/test_pseudo_texture.py
    compares the two)."""
    normals = vertex_normals(vertices, faces)
    if vertices.device.type != "cpu":
        return _enclosure_dense(vertices, normals, radius)
    return torch.from_numpy(_enclosure_tree(vertices.numpy(), normals.numpy(), radius))


def _enclosure_tree(vertices: np.ndarray, normals: np.ndarray, radius: float) -> np.ndarray:
    """:func:`enclosure` of ``vertices`` [V, 3] with unit ``normals`` [V, 3], the pairs found by a k-d tree."""
    pairs = cKDTree(vertices).query_pairs(radius, output_type="ndarray")
    i, j = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
    d = vertices[j] - vertices[i]
    front = (d * normals[i]).sum(1) > 0.3 * np.linalg.norm(d, axis=1)
    count = np.bincount(i, minlength=len(vertices))
    return np.bincount(i, front.astype(np.float64), minlength=len(vertices)) / np.maximum(count, 1)


def _enclosure_dense(vertices: torch.Tensor, normals: torch.Tensor, radius: float,
                     rows_at_once: int = 512) -> torch.Tensor:
    """:func:`enclosure` of ``vertices`` [V, 3] with unit ``normals`` [V, 3], every vertex tested against all the
    others, ``rows_at_once`` vertices a step (14.5k vertices: ~30 steps of [512, V, 3] float64, no host work)."""
    index = torch.arange(len(vertices), device=vertices.device)
    count, ahead = [], []
    for start in range(0, len(vertices), rows_at_once):
        rows = index[start:start + rows_at_once]
        d = vertices[None] - vertices[rows, None]  # [R, V, 3]: from each row's vertex to every vertex
        length = d.norm(dim=-1)
        near = (length <= radius) & (index[None] != rows[:, None])
        count.append(near.sum(1))
        ahead.append((near & ((d * normals[rows, None]).sum(-1) > 0.3 * length)).sum(1))
    return torch.cat(ahead).double() / torch.cat(count).clamp_min(1)


def graph_laplacian(faces: np.ndarray, count: int):
    """The uniform graph Laplacian ``D - A`` of the mesh edges (scipy CSR, [V, V])."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1).astype(np.int64)
    key = np.unique(e[:, 0] * count + e[:, 1])  # the edges in row order, as np.unique(e, axis=0), ~5x sooner
    e = np.stack([key // count, key % count], 1)
    a = sp.coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                      shape=(count, count)).tocsr()
    a.data[:] = 1.0
    return sp.diags(np.asarray(a.sum(1)).ravel()) - a


def vertex_mirror(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[V, 3] rest vertices -> (mirror index [V], distance [V] metres from the reflection to that vertex)."""
    dist, index = cKDTree(vertices).query(vertices * np.array([-1.0, 1.0, 1.0]))
    return index.astype(np.int64), dist


def face_mirror(faces: np.ndarray, mirror: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror faces: (face index [F] (-1: none), permutation [F, 3]): corner ``k`` of face ``f`` maps to corner
    ``perm[f, k]`` of face ``index[f]``, so barycentrics ``b`` of ``f`` become ``b'[perm[f]] = b`` there. A face
    whose mirrored corners coincide, or make no face, has none; of faces with the same corners the last counts."""
    faces = np.asarray(faces, np.int64)
    count = int(faces.max()) + 1 if faces.size else 1
    key = lambda f: (np.sort(f, axis=1) * np.array([count * count, count, 1])).sum(1)  # noqa: E731 (corner set)
    keys = key(faces)
    order = np.argsort(keys, kind="stable")
    unique, last = np.unique(keys[order][::-1], return_index=True)  # reversed: the last face of each corner set
    owner = order[::-1][last]
    m = mirror[faces]  # [F, 3]
    wanted = key(m)
    at = np.clip(np.searchsorted(unique, wanted), 0, max(len(unique) - 1, 0))
    found = (unique[at] == wanted) if len(unique) else np.zeros(len(faces), bool)
    found &= (m[:, 0] != m[:, 1]) & (m[:, 1] != m[:, 2]) & (m[:, 0] != m[:, 2])
    index = np.where(found, owner[at], -1)
    perm = np.tile(np.arange(3), (len(faces), 1))
    corners = (faces[index[found]][:, None, :] == m[found][:, :, None]).argmax(-1)  # where each corner went
    perm[found] = corners
    return index, perm


def head_vertices(rig) -> np.ndarray:
    """[V] bool: vertices whose strongest skinning bone is the head, an eye or the jaw (the neck is not: it takes
    the front-to-back transfer like the torso)."""
    return np.isin(strongest_bone_names(rig), HEAD_BONES)


def hand_vertices(rig) -> np.ndarray:
    """[V] bool: vertices whose strongest skinning bone is a wrist, finger or metacarpal bone (either hand)."""
    names = strongest_bone_names(rig)
    return np.array([n.lower().startswith(HAND_BONE_PREFIXES) for n in names], bool)
