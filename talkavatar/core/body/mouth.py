"""A mouth interior for a rig: upper and lower teeth, a tongue and a dark cavity behind the lips.

Open mouths look hollow without it (DESIGN.md). The parts are placed from the rig's own geometry: the lip line is
the top of the vertices that ARKit ``jawOpen`` moves most (on the midline), the lip front the foremost skin vertex
there; the jaw motion is ``jawOpen``'s displacement of the lower lip.

- upper teeth: an arc (dental arch, radius 3 cm, +-62 degrees) 1.2 cm behind the lip front, from just above the
  lip line 9 mm down; skinned to the head;
- lower teeth: the same arc below the lip line, moved by ``jawOpen`` like the lower lip (or skinned to the rig's
  ``jaw`` bone where it has one, e.g. SMPL-X);
- tongue: a curved patch on the mouth floor, moved by ``jawOpen`` and pushed forward by ``tongueOut``;
- cavity: an inward-facing half ellipsoid behind the teeth; its lower half follows the jaw.

All parts have their own UV chart inside :data:`MOUTH_UV_BOX` (a region Anny's UV layout leaves free; Binding
allows overlapping charts elsewhere) with one sub-box per part, and known colours (:data:`MOUTH_COLOURS`, sRGB) for
texturing: :func:`mouth_texels` tells which texels of a binding belong to which part.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from talkavatar.motion.names import ARKIT_INDEX

#: (u0, v0, u1, v1) of the mouth chart
MOUTH_UV_BOX = (0.83, 0.84, 0.98, 0.99)
#: part -> (u0, v0, u1, v1) inside the box
PART_UV = {"cavity": (0.83, 0.84, 0.90, 0.99), "upper_teeth": (0.91, 0.95, 0.98, 0.99),
           "lower_teeth": (0.91, 0.90, 0.98, 0.94), "tongue": (0.91, 0.84, 0.98, 0.89)}
#: sRGB 0..1 colours of the parts
MOUTH_COLOURS = {"cavity": (0.10, 0.03, 0.03), "upper_teeth": (0.90, 0.88, 0.82), "lower_teeth": (0.88, 0.86, 0.80),
                 "tongue": (0.72, 0.35, 0.36)}
ARCH_RADIUS = 0.03
ARCH_HALF_ANGLE = math.radians(62)


def _grid(points: np.ndarray, box: tuple[float, float, float, float], outward: bool
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """points [ns, nt, 3] of a (s, t) grid -> (vertices [ns*nt, 3], faces [F, 3], face_uvs [F, 3, 2])."""
    ns, nt = points.shape[:2]
    s, t = np.meshgrid(np.linspace(0, 1, ns), np.linspace(0, 1, nt), indexing="ij")
    uv = np.stack([box[0] + s * (box[2] - box[0]), box[1] + t * (box[3] - box[1])], -1).reshape(-1, 2)
    idx = np.arange(ns * nt).reshape(ns, nt)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)])
    if not outward:
        faces = faces[:, ::-1]
    return points.reshape(-1, 3), faces, uv[faces]


def _orient(vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray, towards: np.ndarray, inward: bool = False):
    """Flip the faces whose normal points away from ``towards`` [3] direction-from-centre test."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centre = tri.mean(1) - towards
    flip = ((n * centre).sum(1) < 0) != inward
    faces = np.where(flip[:, None], faces[:, ::-1], faces)
    uvs = np.where(flip[:, None, None], uvs[:, ::-1], uvs)
    return faces, uvs


def mouth_landmarks(rig) -> dict[str, np.ndarray]:
    """Lip line height, lip front depth and the jaw displacement of ``jawOpen`` from the rig's geometry."""
    v = rig.vertices.double().numpy()
    jaw = rig.expression_blendshapes[ARKIT_INDEX["jawOpen"]].double().numpy()
    mag = np.linalg.norm(jaw, axis=1)
    if mag.max() < 1e-4:
        raise ValueError("the rig's jawOpen blendshape does not move: cannot place a mouth interior")
    mid = np.abs(v[:, 0]) < 0.006
    lower = mid & (mag > 0.5 * mag.max())
    y_lip = v[lower, 1].max()
    near = mid & (np.abs(v[:, 1] - y_lip) < 0.012)
    z_front = v[near, 2].max()
    lip = lower & (v[:, 2] > z_front - 0.02)
    d_jaw = jaw[lip].mean(0) if lip.any() else jaw[lower].mean(0)
    return {"y_lip": y_lip, "z_front": z_front, "jaw": d_jaw}


def _parts(y_lip: float, z_front: float) -> dict[str, np.ndarray]:
    zc = z_front - 0.012 - ARCH_RADIUS
    ang = np.linspace(-ARCH_HALF_ANGLE, ARCH_HALF_ANGLE, 13)
    arch_x, arch_z = ARCH_RADIUS * np.sin(ang), zc + ARCH_RADIUS * np.cos(ang)

    def arch(y_top, y_bottom):
        ys = np.linspace(y_top, y_bottom, 3)
        return np.stack(np.broadcast_arrays(arch_x[:, None], ys[None, :], arch_z[:, None]), -1)

    tx, tz = np.linspace(-1.0, 1.0, 7), np.linspace(zc - 0.012, z_front - 0.02, 6)
    gs, gz = np.meshgrid(tx, tz, indexing="ij")
    half = 0.02 - 0.008 * (gz - tz[0]) / (tz[-1] - tz[0])  # tapers towards the tip
    gx = gs * half
    gy = y_lip - 0.016 + 0.006 * (1 - gs ** 2)  # a bulge along the middle
    tongue = np.stack([gx, gy, gz], -1)
    th, ph = np.meshgrid(np.linspace(0, math.pi, 9), np.linspace(0, math.pi, 9), indexing="ij")
    cavity = np.stack([0.027 * np.cos(th), -0.02 * np.sin(th) * np.cos(ph) + (y_lip - 0.006),
                       z_front - 0.04 - 0.03 * np.sin(th) * np.sin(ph)], -1)  # the half behind the lips
    return {"upper_teeth": arch(y_lip + 0.002, y_lip - 0.008), "lower_teeth": arch(y_lip - 0.003, y_lip - 0.012),
            "tongue": tongue, "cavity": cavity}


def with_mouth_interior(rig):
    """``rig`` plus mouth-interior geometry (see the module docstring); a rig that has it already is returned
    unchanged. Raises ``ValueError`` for a rig without a ``head`` bone or a moving ``jawOpen``."""
    if has_mouth_interior(rig):
        return rig
    if "head" not in rig.bone_names:
        raise ValueError("the rig has no head bone: cannot place a mouth interior")
    marks = mouth_landmarks(rig)
    y_lip, z_front, d_jaw = marks["y_lip"], marks["z_front"], marks["jaw"]
    bones = list(rig.bone_names)
    head = bones.index("head")
    jaw_bone = bones.index("jaw") if "jaw" in bones else None
    centre = np.array([0.0, y_lip - 0.005, z_front - 0.035])
    base = rig.vertices.shape[0]
    verts, faces, uvs, jaw_share, tongue_share = [], [], [], [], []
    for name, points in _parts(y_lip, z_front).items():
        v, f, uv = _grid(points, PART_UV[name], True)
        f, uv = _orient(v, f, uv, centre, inward=(name == "cavity"))
        if name == "tongue":  # the tongue faces up
            f, uv = _orient(v, f, uv, centre - np.array([0.0, 0.05, 0.0]))
        count = sum(len(x) for x in verts)
        verts.append(v)
        faces.append(f + base + count)
        uvs.append(uv)
        if name == "upper_teeth":
            share = np.zeros(len(v))
        elif name == "cavity":
            share = np.clip((y_lip - 0.002 - v[:, 1]) / 0.015, 0, 1)
        else:
            share = np.full(len(v), 0.9 if name == "lower_teeth" else 0.75)
        jaw_share.append(share)
        tongue_share.append(np.full(len(v), 1.0 if name == "tongue" else 0.0))
    v = torch.from_numpy(np.concatenate(verts)).to(rig.dtype)
    f = torch.from_numpy(np.concatenate(faces).copy()).long()
    uv = torch.from_numpy(np.concatenate(uvs)).to(rig.dtype)
    share = np.concatenate(jaw_share)
    tongue = np.concatenate(tongue_share)
    n, k = len(v), rig.skin_indices.shape[1]
    indices = torch.zeros(n, k, dtype=rig.skin_indices.dtype)
    weights = torch.zeros(n, k, dtype=rig.skin_weights.dtype)
    indices[:, 0] = head
    weights[:, 0] = 1.0
    shapes = torch.zeros(rig.expression_blendshapes.shape[0], n, 3, dtype=rig.dtype)
    if jaw_bone is not None:  # a real jaw joint opens it; jawOpen stays what the model says for the skin
        lower = torch.from_numpy(share > 0.5)
        indices[lower, 0] = jaw_bone
    else:
        shapes[ARKIT_INDEX["jawOpen"]] = torch.from_numpy(share[:, None] * d_jaw[None]).to(rig.dtype)
    shapes[ARKIT_INDEX["tongueOut"]] = torch.from_numpy(tongue[:, None] * np.array([0.0, -0.004, 0.016])).to(rig.dtype)
    return replace(rig, vertices=torch.cat([rig.vertices, v]), faces=torch.cat([rig.faces, f]),
                   face_uvs=torch.cat([rig.face_uvs, uv]), skin_indices=torch.cat([rig.skin_indices, indices]),
                   skin_weights=torch.cat([rig.skin_weights, weights]),
                   expression_blendshapes=torch.cat([rig.expression_blendshapes, shapes], 1))


def _in_box(uv: torch.Tensor, box) -> torch.Tensor:
    return (uv[..., 0] >= box[0] - 1e-6) & (uv[..., 0] <= box[2] + 1e-6) & (uv[..., 1] >= box[1] - 1e-6) & \
        (uv[..., 1] <= box[3] + 1e-6)


def mouth_faces(rig) -> dict[str, torch.Tensor]:
    """{part: [F] bool} faces of each mouth part (all corners in the part's UV box, vertices rigid on one bone)."""
    rigid = (rig.skin_weights.max(1).values > 0.999)[rig.faces].all(1)
    return {name: rigid & _in_box(rig.face_uvs, box).all(1) for name, box in PART_UV.items()}


def has_mouth_interior(rig) -> bool:
    return bool(mouth_faces(rig)["cavity"].any())


def inner_mouth_faces(rig) -> torch.Tensor:
    """[F] bool: the body model's own faces inside the mouth (behind the lips, between the mouth corners), which
    the photo never shows and which take the cavity's colour."""
    try:
        marks = mouth_landmarks(rig)
    except ValueError:
        return torch.zeros(rig.faces.shape[0], dtype=torch.bool)
    centre = rig.vertices[rig.faces].double().mean(1).numpy()
    inside = (np.abs(centre[:, 0]) < 0.026) & (np.abs(centre[:, 1] - marks["y_lip"]) < 0.016) & \
        (centre[:, 2] < marks["z_front"] - 0.02) & (centre[:, 2] > marks["z_front"] - 0.08)
    return torch.from_numpy(inside)


def mouth_texels(rig, face_index: torch.Tensor) -> torch.Tensor:
    """[N] part id per texel of a binding (``face_index`` [N]): -1 not mouth, else the index in ``PART_UV`` (the
    model's own inner-mouth faces count as cavity)."""
    part = torch.full(face_index.shape, -1, dtype=torch.int64)
    if not has_mouth_interior(rig):
        return part
    part[inner_mouth_faces(rig)[face_index]] = list(PART_UV).index("cavity")
    for i, mask in enumerate(mouth_faces(rig).values()):
        part[mask[face_index]] = i
    return part


def mouth_colours() -> torch.Tensor:
    """[4, 3] sRGB colours in ``PART_UV`` order."""
    return torch.tensor([MOUTH_COLOURS[name] for name in PART_UV])
