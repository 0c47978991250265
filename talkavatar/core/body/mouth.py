"""A mouth interior for a rig: upper and lower teeth, a tongue and a dark cavity behind the lips.

Open mouths look hollow without it (DESIGN.md). The parts are placed from the rig's own geometry: the lip line is
the top of the vertices that ARKit ``jawOpen`` moves most (on the midline), the lip front the foremost skin vertex
there; the jaw motion is ``jawOpen``'s displacement of the lower lip.

- upper teeth: an arc (dental arch, radius 3 cm, +-62 degrees) 1.2 cm behind the lip front, 1 cm tall, their
  edge :data:`TEETH_SHOW` below the upper lip's lowest point (a relaxed mouth shows the incisors' edge, not the
  teeth: with the edge 8 mm below the lip line, an opening of the size speech makes, 3-9 mm, showed nothing but
  teeth, a light band an independent face tracker read as closed lips; benchmarks/mouth_closeup.py); skinned to
  the head;
- lower teeth: the same arc 2 mm further back (behind the upper teeth's edge) below the lip line, moved by
  ``jawOpen`` like the lower lip (or skinned to the rig's ``jaw`` bone where it has one, e.g. SMPL-X);
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
#: sRGB 0..1 colours of the parts, and of the lips' inner surfaces (:func:`inner_lip_faces`)
MOUTH_COLOURS = {"cavity": (0.10, 0.03, 0.03), "upper_teeth": (0.80, 0.77, 0.70), "lower_teeth": (0.70, 0.67, 0.60),
                 "tongue": (0.72, 0.35, 0.36), "inner_lip": (0.30, 0.10, 0.10)}  # teeth as in the mouth's shade
#: where the viewers of a face are, from the mouth (front, +-35 degrees of yaw, +-20 of pitch)
VIEW_DIRECTIONS = ((0.0, 0.0, 1.0), (0.574, 0.0, 0.819), (-0.574, 0.0, 0.819), (0.0, 0.342, 0.940),
                   (0.0, -0.342, 0.940))
INNER_LIP_RING = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
"""MediaPipe Face Mesh's inner lip contour, in order around the mouth."""
OPENING_GROW = 1.0
"""Pixels by which :func:`lips_over_opening` grows the photo's inner-lip contour (the opening's dark bleeds into the
lips' pixels by about one on a small face)."""
ARCH_RADIUS = 0.03
ARCH_HALF_ANGLE = math.radians(62)
TEETH_SHOW = 0.0015
"""How far (m) the upper teeth's edge reaches below the upper lip's lowest point (1-3 mm at rest in adults)."""


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
    """Lip line height ``y_lip`` (the top of the lower lip), lip front depth ``z_front``, the jaw displacement of
    ``jawOpen`` and the upper lip's lowest point ``y_upper`` (at most ``y_lip``) from the rig's geometry."""
    v = rig.vertices.detach().double().cpu().numpy()
    jaw = rig.expression_blendshapes[ARKIT_INDEX["jawOpen"]].detach().double().cpu().numpy()
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
    upper = mid & (mag < 0.3 * mag.max()) & (v[:, 2] > z_front - 0.01) & (np.abs(v[:, 1] - y_lip) < 0.015)
    y_upper = v[upper, 1].min() if upper.any() else y_lip
    return {"y_lip": y_lip, "z_front": z_front, "jaw": d_jaw, "y_upper": min(y_upper, y_lip)}


def _parts(y_lip: float, z_front: float, y_upper: float) -> dict[str, np.ndarray]:
    zc = z_front - 0.012 - ARCH_RADIUS
    ang = np.linspace(-ARCH_HALF_ANGLE, ARCH_HALF_ANGLE, 13)
    arch_x, arch_z = ARCH_RADIUS * np.sin(ang), zc + ARCH_RADIUS * np.cos(ang)

    def arch(y_top, y_bottom, back=0.0):
        ys = np.linspace(y_top, y_bottom, 3)
        return np.stack(np.broadcast_arrays(arch_x[:, None], ys[None, :], arch_z[:, None] - back), -1)

    tx, tz = np.linspace(-1.0, 1.0, 7), np.linspace(zc - 0.012, z_front - 0.02, 6)
    gs, gz = np.meshgrid(tx, tz, indexing="ij")
    half = 0.02 - 0.008 * (gz - tz[0]) / (tz[-1] - tz[0])  # tapers towards the tip
    gx = gs * half
    gy = y_lip - 0.016 + 0.006 * (1 - gs ** 2)  # a bulge along the middle
    tongue = np.stack([gx, gy, gz], -1)
    th, ph = np.meshgrid(np.linspace(0, math.pi, 9), np.linspace(0, math.pi, 9), indexing="ij")
    cavity = np.stack([0.027 * np.cos(th), -0.02 * np.sin(th) * np.cos(ph) + (y_lip - 0.006),
                       z_front - 0.04 - 0.03 * np.sin(th) * np.sin(ph)], -1)  # the half behind the lips
    edge = y_upper - TEETH_SHOW
    return {"upper_teeth": arch(edge + 0.01, edge), "lower_teeth": arch(y_lip - 0.003, y_lip - 0.012, 0.002),
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
    for name, points in _parts(y_lip, z_front, marks["y_upper"]).items():
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


def has_mouth_interior(rig, parts: dict[str, torch.Tensor] | None = None) -> bool:
    """Whether ``rig`` has mouth-interior geometry (``parts``: its :func:`mouth_faces`, when already built)."""
    return bool((mouth_faces(rig) if parts is None else parts)["cavity"].any())


def _from_lips(rig) -> torch.Tensor | None:
    """[F, 3] the rig's face centres relative to its lip point (0, ``y_lip``, ``z_front``), on its device; None for
    a rig whose ``jawOpen`` does not move."""
    try:
        marks = mouth_landmarks(rig)
    except ValueError:
        return None
    centre = rig.vertices.detach().float()[rig.faces].mean(1)
    return centre - torch.tensor([0.0, marks["y_lip"], marks["z_front"]], device=centre.device)


def _inside_mouth(d: torch.Tensor) -> torch.Tensor:
    """[F] bool: the faces at ``d`` [F, 3] from the lip point (:func:`_from_lips`) that lie inside the mouth."""
    return (d[:, 0].abs() < 0.026) & (d[:, 1].abs() < 0.016) & (d[:, 2] < -0.02) & (d[:, 2] > -0.08)


def inner_mouth_faces(rig) -> torch.Tensor:
    """[F] bool: the body model's own faces inside the mouth (behind the lips, between the mouth corners), which
    the photo never shows and which take the cavity's colour."""
    d = _from_lips(rig)
    if d is None:
        return torch.zeros(rig.faces.shape[0], dtype=torch.bool, device=rig.faces.device)
    return _inside_mouth(d)


def lip_region_faces(rig) -> torch.Tensor:
    """[F] bool on the rig's device: the faces around the lip line (the lips, their inner surfaces, the mouth
    parts), whose Gaussians decide whether an opening of a few millimetres shows; none for a rig whose ``jawOpen``
    does not move."""
    d = _from_lips(rig)
    if d is None:
        return torch.zeros(rig.faces.shape[0], dtype=torch.bool, device=rig.faces.device)
    return (d[:, 0].abs() < 0.04) & (d[:, 1].abs() < 0.015) & (d[:, 2] > -0.06)


def _hits(origins: torch.Tensor, direction: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """[M] bool: whether the ray from each of ``origins`` [M, 3] along ``direction`` [3] (unit) meets one of
    ``triangles`` [T, 3, 3] (Moller-Trumbore on the pairs whose projection along the ray falls in the triangle's
    bounding box; hits within 0.1 mm of the origin do not count)."""
    side = torch.tensor([1.0, 0.0, 0.0] if abs(float(direction[0])) < 0.9 else [0.0, 1.0, 0.0], device=direction.device)
    u = torch.linalg.cross(direction, side)
    plane = torch.stack([u / u.norm(), torch.linalg.cross(direction, u / u.norm())], 1)   # [3, 2]
    at, corners = origins @ plane, triangles @ plane                                       # [M, 2], [T, 3, 2]
    m, t = ((at[:, None] >= corners.amin(1)) & (at[:, None] <= corners.amax(1))).all(-1).nonzero(as_tuple=True)
    tri = triangles[t]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    p = torch.linalg.cross(direction.expand_as(e2), e2)
    det = (e1 * p).sum(-1)
    inv = 1.0 / torch.where(det.abs() > 1e-12, det, torch.full_like(det, float("inf")))
    s = origins[m] - tri[:, 0]
    q = torch.linalg.cross(s, e1)
    a, b, dist = (s * p).sum(-1) * inv, (q * direction).sum(-1) * inv, (q * e2).sum(-1) * inv
    hit = torch.zeros(origins.shape[0], dtype=torch.bool, device=origins.device)
    hit[m[(a >= 0) & (b >= 0) & (a + b <= 1) & (dist > 1e-4)]] = True
    return hit


def inner_lip_faces(rig, parts: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """[F] bool: the body model's faces of the lips that no viewer in front of the face (:data:`VIEW_DIRECTIONS`)
    sees while the mouth is closed (the rest pose): the lips' inner surfaces, which an opening jaw reveals. A photo
    of a closed mouth never shows them; textured like the lips around them they fill the opening with lip colour
    and the mouth looks closed; they take the dark ``inner_lip`` colour instead. The mouth parts and the
    :func:`inner_mouth_faces` (the cavity's colour already) are not among them. ``parts``: the rig's
    :func:`mouth_faces`, when already built."""
    out = torch.zeros(rig.faces.shape[0], dtype=torch.bool, device=rig.faces.device)
    d = _from_lips(rig)
    if d is None:
        return out
    tri = rig.vertices.detach().float()[rig.faces]                                          # [F, 3, 3]
    parts = torch.stack(list((mouth_faces(rig) if parts is None else parts).values())).any(0)
    near = ~parts & (d[:, 0].abs() < 0.06) & (d[:, 1].abs() < 0.05) & (d[:, 2] > -0.06)
    lips = near & (d[:, 0].abs() < 0.035) & (d[:, 1].abs() < 0.02) & (d[:, 2] > -0.035) & ~_inside_mouth(d)
    hidden = lips.nonzero().flatten()
    for direction in VIEW_DIRECTIONS:  # a face seen from one direction is not tested again
        ray = torch.tensor(direction, device=tri.device)
        hidden = hidden[_hits(tri[hidden].mean(1), ray / ray.norm(), tri[near])]
    out[hidden] = True
    return out


def mouth_texels(rig, face_index: torch.Tensor) -> torch.Tensor:
    """[N] colour id per texel of a binding (``face_index`` [N]): -1 not mouth, else the index in
    :data:`MOUTH_COLOURS` (the model's own inner-mouth faces count as cavity, its lips' inner surfaces as
    ``inner_lip``)."""
    part = torch.full(face_index.shape, -1, dtype=torch.int64)
    parts = mouth_faces(rig)
    if not has_mouth_interior(rig, parts):
        return part
    names = list(MOUTH_COLOURS)
    part[inner_lip_faces(rig, parts)[face_index]] = names.index("inner_lip")
    part[inner_mouth_faces(rig)[face_index]] = names.index("cavity")
    for name, mask in parts.items():
        part[mask[face_index]] = names.index(name)
    return part


def mouth_colours() -> torch.Tensor:
    """[5, 3] sRGB colours in :data:`MOUTH_COLOURS` order."""
    return torch.tensor(list(MOUTH_COLOURS.values()))


def _inside(points: torch.Tensor, polygon: torch.Tensor) -> torch.Tensor:
    """[N] bool: ``points`` [N, 2] inside ``polygon`` [M, 2] (even-odd rule)."""
    a, b = polygon, polygon.roll(-1, 0)                                              # edges a -> b, [M, 2]
    x, y = points[:, None, 0], points[:, None, 1]
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    at = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1]).where(crosses, torch.ones(()))
    return ((crosses & (x < at)).sum(1) % 2) == 1


def lips_over_opening(lips: torch.Tensor, pixels: torch.Tensor, face_xy) -> torch.Tensor:
    """[N] bool: which of the ``lips`` [N] bool (texels of the lips the photo sees: :func:`lip_region_faces`, not
    mouth parts) the photo sees inside its open mouth: their pixel ``pixels`` [N, 2] lies inside the photo's
    inner-lip contour (``face_xy`` [478, 2] Face Mesh pixels; None: no face) grown by :data:`OPENING_GROW`. On a
    small face (messi5's: 16 px between the eyes) the lips that the tracked mouth places there see the opening's
    dark pixels, and the avatar's closed mouth shows a dark line that FaceMesh reads as open lips."""
    out = torch.zeros(lips.shape, dtype=torch.bool)
    if face_xy is None:
        return out
    ring = torch.as_tensor(np.asarray(face_xy)[list(INNER_LIP_RING)], dtype=torch.float32)
    centre = ring.mean(0)
    ring = ring + OPENING_GROW * (ring - centre) / (ring - centre).norm(dim=-1, keepdim=True).clamp_min(1e-6)
    out[lips] = _inside(pixels[lips].float(), ring)
    return out
