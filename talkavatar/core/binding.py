"""Gaussians bound to a mesh through its UV map (GUAVA's UV Gaussians, One Shot One Talk's offsets).

Every texel of a ``uv_res x uv_res`` UV map whose centre falls inside a UV triangle becomes one Gaussian
with that triangle's index and the centre's barycentrics (fixed). Texel ``(col, row)`` has its centre at
``u = (col + 0.5) / R``, ``v = 1 - (row + 0.5) / R`` (row 0 at the top of the UV image, v up).

Posing: a Gaussian sits at the barycentric point of its posed triangle plus a learned offset ``dX`` given in the
canonical (rest) space and carried by the Gaussian's skinning, whose weights are the barycentric interpolation of
its triangle's vertex weights. Because LBS is linear in the weights, the Gaussian's blended transform equals the
barycentric interpolation of its vertices' blended transforms, which :class:`~talkavatar.core.body.rig.PosedBody`
already holds, so posing costs a gather and no per-Gaussian weight matrix. With ``dX = 0`` a Gaussian lies exactly
on the posed mesh.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file, save

from talkavatar.bundle.atomic import write_bytes_atomic
from talkavatar.core.cache import cache_root
from talkavatar.core.skinning import matvec


@dataclass(frozen=True)
class Binding:
    """``face_index`` [N] int64, ``barycentrics`` [N, 3] (sum 1, all >= 0), ``texel`` [N, 2] int64 (col, row) in a
    ``uv_res``² UV image."""

    face_index: torch.Tensor
    barycentrics: torch.Tensor
    texel: torch.Tensor
    uv_res: int

    @property
    def count(self) -> int:
        return int(self.face_index.shape[0])

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Binding":
        return Binding(self.face_index.to(device), self.barycentrics.to(device=device, dtype=dtype),
                       self.texel.to(device), self.uv_res)

    @classmethod
    def from_uv(cls, face_uvs: torch.Tensor, uv_res: int) -> "Binding":
        """Sample the texel centres inside each UV triangle. ``face_uvs``: [F, 3, 2] in 0..1.

        A texel whose centre lies on an edge shared by two triangles is bound once (to the lower triangle index);
        texels of overlapping UV charts are bound to each chart's triangle.
        """
        if uv_res < 1:
            raise ValueError("uv_res must be positive")
        uvs = face_uvs.detach().cpu().double().numpy()
        face_index, bary, texel = _rasterize_uv_cached(uvs.tobytes(), uvs.shape, uv_res)
        return cls(torch.from_numpy(face_index.copy()), torch.from_numpy(bary).float(),
                   torch.from_numpy(texel.copy()), uv_res)

    # ---- posing ------------------------------------------------------------------------------------------------
    def surface_points(self, vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Barycentric points on a mesh: ``vertices`` [B, V, 3], ``faces`` [F, 3] -> [B, N, 3]."""
        corners = faces[self.face_index]  # [N, 3]
        bary = self.barycentrics.to(vertices.dtype)
        return (vertices[:, corners] * bary[None, :, :, None]).sum(-2)

    def interpolate(self, per_vertex: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """Barycentric interpolation of any per-vertex quantity ``per_vertex`` [B, V, ...] -> [B, N, ...]."""
        corners = faces[self.face_index]
        bary = self.barycentrics.to(per_vertex.dtype).reshape(self.count, 3, *([1] * (per_vertex.dim() - 2)))
        return (per_vertex[:, corners] * bary[None]).sum(2)

    def positions(self, vertices: torch.Tensor, faces: torch.Tensor, vertex_transforms: torch.Tensor | None = None,
                  offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Posed Gaussian centres [B, N, 3].

        ``vertices``: posed [B, V, 3]; ``vertex_transforms``: [B, V, 3, 4] blended LBS transforms (``PosedBody``),
        needed only with ``offsets`` [N, 3] or [B, N, 3] (canonical-space dX, metres).
        """
        if offsets is None:
            return self.surface_points(vertices, faces)
        if vertex_transforms is None:
            raise ValueError("offsets need the posed vertex_transforms to be carried into the pose")
        points, linear = self.anchors(vertices, faces, vertex_transforms)
        return points + matvec(linear, offsets.to(points.dtype))

    def anchors(self, vertices: torch.Tensor, faces: torch.Tensor, vertex_transforms: torch.Tensor,
                frames_at_once: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """What carries canonical offsets into a pose: each Gaussian's point on its posed triangle [B, N, 3] and the
        barycentric blend of its corners' LBS transforms' linear parts [B, N, 3, 3] (``vertices`` [B, V, 3],
        ``vertex_transforms`` [B, V, 3, 4]): the centre is ``points + linear @ offset``. Made ``frames_at_once``
        frames at a time (the blend gathers [frames, N, 3, 3, 3]: 1.2 GB for a fit's 64 pseudo frames at once)."""
        parts = [(self.surface_points(v, faces), self.interpolate(t[..., :3], faces))
                 for v, t in zip(vertices.split(frames_at_once), vertex_transforms.split(frames_at_once))]
        if len(parts) == 1:
            return parts[0]
        return torch.cat([points for points, _ in parts]), torch.cat([linear for _, linear in parts])

    def frame_rotations(self, rest_vertices: torch.Tensor, posed_vertices: torch.Tensor,
                        faces: torch.Tensor) -> torch.Tensor:
        """Rotation of each Gaussian's triangle from rest to pose, [B, N, 3, 3] (apply to Gaussian orientations).

        ``rest_vertices``: [B or 1, V, 3]; ``posed_vertices``: [B, V, 3].
        """
        rest = triangle_frames(rest_vertices, faces[self.face_index])
        posed = triangle_frames(posed_vertices, faces[self.face_index])
        return posed @ rest.transpose(-1, -2)


def triangle_frames(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Orthonormal frame per triangle, [B, F, 3, 3] with columns (first edge, in-plane normal to it, face normal).

    ``vertices``: [B, V, 3]; ``faces``: [F, 3].
    """
    v0, v1, v2 = vertices[:, faces[:, 0]], vertices[:, faces[:, 1]], vertices[:, faces[:, 2]]
    e1 = v1 - v0
    e1 = e1 / e1.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    normal = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)
    normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    e2 = torch.linalg.cross(normal, e1, dim=-1)
    return torch.stack([e1, e2, normal], -1)


def pixel_centres_in_triangles(xy: np.ndarray, width: int, height: int) -> tuple[np.ndarray, ...]:
    """Every pixel centre inside each 2D triangle: ``xy`` [F, 3, 2] in pixels (x right, y down, centres at +0.5).

    Returns (face index [M], col [M], row [M], barycentrics [M, 3] summing to 1); a centre on an edge shared by two
    triangles appears once for each. Degenerate triangles cover nothing.
    """
    lo = np.clip(np.ceil(xy.min(1) - 0.5), 0, [width - 1, height - 1]).astype(np.int64)
    hi = np.clip(np.floor(xy.max(1) - 0.5), 0, [width - 1, height - 1]).astype(np.int64)
    span = np.maximum(hi - lo + 1, 0)
    counts = span[:, 0] * span[:, 1]
    face = np.repeat(np.arange(len(xy)), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(len(face)) - start
    span_x = np.maximum(span[face, 0], 1)
    col = lo[face, 0] + local % span_x
    row = lo[face, 1] + local // span_x
    p = np.stack([col + 0.5, row + 0.5], -1)
    a, b, c = xy[face, 0], xy[face, 1], xy[face, 2]

    def cross(u, v):
        return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]

    area = cross(b - a, c - a)
    valid = np.abs(area) > 1e-12
    safe = np.where(valid, area, 1.0)
    w0 = cross(b - p, c - p) / safe
    w1 = cross(c - p, a - p) / safe
    bary = np.stack([w0, w1, 1.0 - w0 - w1], -1)
    inside = valid & (bary >= -1e-9).all(-1)
    bary = np.clip(bary[inside], 0.0, 1.0)
    return face[inside], col[inside], row[inside], bary / bary.sum(-1, keepdims=True)


UV_BINDINGS = "uv-binding"  # folder of the cache (:func:`~talkavatar.core.cache.cache_root`) that keeps them
UV_BINDING_FORMAT = "1"


@functools.lru_cache(maxsize=4)
def _rasterize_uv_cached(uvs: bytes, shape: tuple[int, ...], uv_res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_rasterize_uv` remembered for the last few UV layouts in this process (the pseudo stage binds the same
    rig's UVs at the same resolution twice; ``fit PHOTO`` runs its stages in one process) and, across processes, in
    the cache's ``uv-binding/`` folder: every photo's rig has Anny's UV layout, whose binding at 1024² took ~0.9 s
    of the pseudo stage's one CPU thread (2-core machine, load ~5). A file that cannot be read is made again; one
    that cannot be written is left alone."""
    key = hashlib.sha256(uvs + repr((shape, uv_res, UV_BINDING_FORMAT)).encode()).hexdigest()[:32]
    path = cache_root() / UV_BINDINGS / f"{key}.safetensors"
    try:
        stored = load_file(str(path))
        return stored["face_index"], stored["barycentrics"], stored["texel"]
    except (OSError, KeyError, SafetensorError):
        pass
    made = _rasterize_uv(np.frombuffer(uvs, np.float64).reshape(shape), uv_res)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, save(dict(zip(("face_index", "barycentrics", "texel"),
                                               (np.ascontiguousarray(a) for a in made)))))
    except OSError:
        pass
    return made


def _rasterize_uv(face_uvs: np.ndarray, uv_res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texel centres inside UV triangles: returns (face index [N], barycentrics [N, 3], texel (col, row) [N, 2])."""
    xy = np.stack([face_uvs[..., 0] * uv_res, (1.0 - face_uvs[..., 1]) * uv_res], -1)  # [F, 3, 2] pixel coordinates
    face, col, row, bary = pixel_centres_in_triangles(xy, uv_res, uv_res)
    # A texel centre on an edge shared by two triangles of one chart: keep the lower triangle index. Texels of
    # overlapping charts have all-positive barycentrics in each and are kept in each.
    on_edge = (bary <= 1e-9).any(-1)
    key = row * uv_res + col
    order = np.lexsort((face, key))
    face, bary, col, row, on_edge, key = (x[order] for x in (face, bary, col, row, on_edge, key))
    duplicate = np.zeros(len(face), bool)
    same_texel = key[1:] == key[:-1]
    duplicate[1:] = same_texel & (on_edge[1:] | on_edge[:-1])
    keep = ~duplicate
    return face[keep], bary[keep], np.stack([col[keep], row[keep]], -1)
