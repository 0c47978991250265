"""Inverse texture mapping, the z-buffer rasterizer, the mirror map, completion and the mouth interior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pseudo_scenes import camera, grid, pattern, rig_from_mesh
from talkavatar.core.binding import Binding
from talkavatar.pseudo.complete import complete_texture, fill_gutter, mirror_texels
from talkavatar.pseudo.raster import rasterize_mesh
from talkavatar.pseudo.texture import project_texture


def _scene(size=96, focal=110.0):
    """A textured back plane (z = -1, UV left half) half hidden by a grey front plane (z = -0.8, UV right half),
    and the image a pinhole camera sees of them, computed analytically."""
    bv, bf, buv = grid(-0.4, 0.4, -0.4, 0.4, -1.0, 9, (0.0, 0.0, 0.5, 1.0))
    fv, ff, fuv = grid(0.0, 0.3, -0.3, 0.3, -0.8, 3, (0.55, 0.1, 0.95, 0.9))
    verts = np.concatenate([bv, fv])
    faces = np.concatenate([bf, ff + len(bv)])
    rig = rig_from_mesh(verts, faces, np.concatenate([buv, fuv]))
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    rx, ry = (xs - size / 2) / focal, -(ys - size / 2) / focal
    front = (np.abs(rx * 0.8 - 0.15) <= 0.15) & (np.abs(ry * 0.8) <= 0.3)
    u, v = (rx * 1.0 + 0.4) / 0.8 * 0.5, (ry * 1.0 + 0.4) / 0.8
    image = np.where(front[..., None], 0.5, pattern(u / 0.5, v))
    back_hit = (np.abs(rx) <= 0.4) & (np.abs(ry) <= 0.4)
    return rig, torch.tensor(image, dtype=torch.float32), front | back_hit, camera(size, focal)


def test_texture_mapping_recovers_the_texture_where_visible():
    rig, image, mask, cam = _scene()
    binding = Binding.from_uv(rig.face_uvs, 64)
    seen = project_texture(rig.vertices, rig.faces, binding, cam, image, mask)
    back = binding.face_index < 128  # the back plane's faces come first (8 x 8 x 2)
    points = binding.surface_points(rig.vertices[None], rig.faces)[0]
    hidden = back & (points[:, 0] > 0.0 * 1.25 + 0.015) & (points[:, 0] < 0.3 * 1.25 - 0.015) & \
        (points[:, 1].abs() < 0.3 * 1.25 - 0.015)  # a pixel (9 mm here) away from the front plane's outline
    open_ = back & ~((points[:, 0] > -0.01) & (points[:, 0] < 0.39) & (points[:, 1].abs() < 0.39))
    open_ &= (points[:, :2].abs() < 0.38).all(1)  # keep clear of the plane's own edge
    assert seen.seen[hidden].sum() == 0, "texels behind the front plane must not take its colour"
    assert seen.seen[open_].float().mean() > 0.95
    u = (points[open_, 0].numpy() + 0.4) / 0.8
    v = (points[open_, 1].numpy() + 0.4) / 0.8
    want = pattern(u, v)
    got = seen.rgb[open_].numpy()
    assert np.abs(got - want).max() < 0.06
    assert np.abs(got - want).mean() < 0.01
    front = binding.face_index >= 128
    assert seen.seen[front].float().mean() > 0.9
    inner = front & (points[:, 0] > 0.02) & (points[:, 0] < 0.28) & (points[:, 1].abs() < 0.28)
    assert seen.seen[inner].all() and torch.allclose(seen.rgb[inner], torch.tensor(0.5), atol=1e-3)


def _naive_raster(px, depth, faces, w, h):
    face = np.full((h, w), -1)
    zbuf = np.full((h, w), np.inf)
    for f, (a, b, c) in enumerate(faces):
        A, B, C = px[a], px[b], px[c]
        area = (B[0] - A[0]) * (C[1] - A[1]) - (B[1] - A[1]) * (C[0] - A[0])
        for y in range(h):
            for x in range(w):
                p = (x + 0.5, y + 0.5)
                w0 = ((B[0] - p[0]) * (C[1] - p[1]) - (B[1] - p[1]) * (C[0] - p[0])) / area
                w1 = ((C[0] - p[0]) * (A[1] - p[1]) - (C[1] - p[1]) * (A[0] - p[0])) / area
                w2 = 1 - w0 - w1
                if min(w0, w1, w2) >= 0:
                    z = w0 * depth[a] + w1 * depth[b] + w2 * depth[c]
                    if z < zbuf[y, x]:
                        zbuf[y, x], face[y, x] = z, f
    return face, zbuf


def test_rasterizer_matches_a_naive_loop():
    g = np.random.default_rng(0)
    px = g.uniform(-3, 27, (12, 2))
    depth = g.uniform(1, 3, 12)
    faces = np.array([g.choice(12, 3, replace=False) for _ in range(8)])
    frags = rasterize_mesh(torch.tensor(px), torch.tensor(depth), torch.tensor(faces), 24, 20)
    face, zbuf = _naive_raster(px, depth, faces, 24, 20)
    agree = (frags.face.numpy() == face).mean()
    assert agree > 0.99  # edge pixels may fall either way in float32
    both = (face >= 0) & (frags.face.numpy() == face)
    assert np.allclose(frags.depth.numpy()[both], zbuf[both], atol=1e-4)


def _crowd():
    """Projected vertices [3000, 2], depths [3000] and faces [6000, 3]: triangles of every size, some past the
    image (320 x 240), some behind the camera."""
    g = torch.Generator().manual_seed(3)
    pixels = torch.rand(3000, 2, generator=g) * torch.tensor([340.0, 260.0]) - 20
    depth = torch.rand(3000, generator=g) * 3 - 0.2
    faces = torch.randint(0, 3000, (6000, 3), generator=g)
    faces[::7] = faces[::7, :1] + torch.tensor([0, 1, 2]) % 3000  # neighbours: small triangles as well as large
    return pixels, depth, faces % 3000


@pytest.mark.parametrize("chunk", [4_000_000, 20_000])
def test_rasterizer_schedules_give_the_same_fragments_bitwise(chunk):
    """Exact boxes in few steps (the GPU's schedule) and padded boxes grouped by size (the CPU's) test the same
    pixels with the same arithmetic: identical fragments, also when ``chunk`` splits the work into many steps."""
    pixels, depth, faces = _crowd()
    padded = rasterize_mesh(pixels, depth, faces, 320, 240, chunk=chunk, exact_boxes=False)
    exact = rasterize_mesh(pixels, depth, faces, 320, 240, chunk=chunk, exact_boxes=True)
    assert padded.mask.float().mean() > 0.5
    for name in ("face", "barycentrics", "depth"):
        assert torch.equal(getattr(exact, name), getattr(padded, name)), name


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run through the device tool)")
def test_rasterizer_on_cuda_matches_the_cpu():
    """The pseudo stage on CUDA draws the proxy's and the texture's z-buffers there: the same fragments
    as the CPU reference (a crowd of triangles of every size, some past the image, some behind the camera)."""
    pixels, depth, faces = _crowd()
    cpu = rasterize_mesh(pixels, depth, faces, 320, 240)
    for exact in (True, False):  # exact boxes: the default on CUDA
        gpu = rasterize_mesh(pixels.cuda(), depth.cuda(), faces.cuda(), 320, 240, exact_boxes=exact).to("cpu")
        assert (gpu.face == cpu.face).float().mean() > 0.9995  # an edge pixel may fall the other way by one ulp
        same = (gpu.face == cpu.face) & cpu.mask
        assert torch.allclose(gpu.barycentrics[same], cpu.barycentrics[same], atol=1e-5)
        assert torch.allclose(gpu.depth[same], cpu.depth[same], atol=1e-5)


def _folded_sheet(n: int = 40):
    """A sheet folded into ridges and creases (z = 2 cm sin(x / 1 cm) cos(y / 1.5 cm)), [n * n, 3] float64 and its
    faces: vertices in front of their neighbours in the creases, none on the ridges."""
    verts, faces, _ = grid(-0.06, 0.06, -0.06, 0.06, 0.0, n, (0.0, 0.0, 1.0, 1.0))
    verts[:, 2] = 0.02 * np.sin(verts[:, 0] / 0.01) * np.cos(verts[:, 1] / 0.015)
    return torch.from_numpy(verts), torch.from_numpy(faces)


def test_enclosure_schedules_agree_bitwise():
    """Pairs by a k-d tree (the CPU's schedule) and every pair tested (the GPU's) count the same neighbours with
    the same arithmetic: identical shares, the creases' vertices enclosed, the ridges' not at all."""
    from talkavatar.pseudo.mesh import _enclosure_dense, _enclosure_tree, enclosure, vertex_normals

    verts, faces = _folded_sheet()
    normals = vertex_normals(verts, faces)
    tree = _enclosure_tree(verts.numpy(), normals.numpy(), 0.015)
    dense = _enclosure_dense(verts, normals, 0.015, rows_at_once=300).numpy()
    assert np.array_equal(tree, dense) and np.array_equal(enclosure(verts, faces, 0.015).numpy(), tree)
    assert tree.max() > 0.3 and tree.min() == 0.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run through the device tool)")
def test_enclosure_on_cuda_matches_the_cpu():
    """The completion on CUDA finds creases there by testing every pair: the CPU's shares but for a pair at the
    radius that rounds the other way (none expected)."""
    from talkavatar.pseudo.mesh import enclosure

    verts, faces = _folded_sheet(60)
    cpu = enclosure(verts, faces, 0.015)
    gpu = enclosure(verts.cuda(), faces.cuda(), 0.015).cpu()
    assert (gpu - cpu).abs().max() <= 1e-9 or ((gpu - cpu).abs() > 1e-9).float().mean() < 1e-3


def _charts(size: int = 64, seed: int = 0):
    """A UV image [size, size, 3] uint8 of two rectangular charts (a red one with noise, a blue one) and its
    gutter [size, size] bool."""
    g = np.random.default_rng(seed)
    colour = np.zeros((size, size, 3), np.uint8)
    holes = np.ones((size, size), bool)
    colour[5:30, 4:40] = np.clip(np.array([200, 40, 30]) + g.normal(0, 10, (25, 36, 3)), 0, 255)
    colour[40:60, 20:50] = (20, 40, 210)
    holes[5:30, 4:40] = holes[40:60, 20:50] = False
    return colour, holes


def test_gutter_fill_continues_the_charts_edges_and_fills_everything():
    colour, holes = _charts()
    out = fill_gutter(torch.from_numpy(colour), torch.from_numpy(holes)).numpy()
    assert np.array_equal(out[~holes], colour[~holes])  # the charts are untouched
    # the first ring is the mean of its covered 8-neighbours: the chart's edge continued
    assert np.abs(out[45, 19].astype(int) - (20, 40, 210)).max() <= 1
    edge = colour[5, 10:13].astype(float)  # the chart texels among the 3 x 3 around (4, 11)
    assert np.abs(out[4, 11].astype(int) - edge.mean(0)).max() <= 1
    # far from both charts the fill lies between their colours, and changes smoothly
    far = out[0:3, 55:64].astype(int)
    assert (far[..., 0] >= 15).all() and (far[..., 0] <= 205).all()
    assert np.abs(np.diff(out[:, 60].astype(int), axis=0)).max() <= 40
    full = np.ones_like(holes)
    full[10, 10] = False  # a single known texel colours the whole image
    assert (fill_gutter(torch.from_numpy(colour), torch.from_numpy(full)).numpy() == colour[10, 10]).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (run through the device tool)")
def test_gutter_fill_on_cuda_matches_the_cpu():
    """The pseudo stage on CUDA fills the gutter there: within one level of 255 of the CPU reference."""
    colour, holes = _charts(1024)
    cpu = fill_gutter(torch.from_numpy(colour), torch.from_numpy(holes)).numpy()
    gpu = fill_gutter(torch.from_numpy(colour).cuda(), torch.from_numpy(holes).cuda()).cpu().numpy()
    assert np.array_equal(gpu[~holes], colour[~holes])
    assert np.abs(gpu.astype(int) - cpu).max() <= 1


def test_mirror_map_and_completion_fill_everything():
    verts, faces, uvs = grid(-0.3, 0.3, -0.3, 0.3, 0.0, 7, (0.0, 0.0, 1.0, 1.0), mirror_diagonals=True)
    rig = rig_from_mesh(verts, faces, uvs)
    binding = Binding.from_uv(rig.face_uvs, 32)
    where, ok = mirror_texels(rig, binding)
    assert ok.float().mean() > 0.95
    col = binding.texel[:, 0]
    mirrored_col = where[:, 0]
    assert (mirrored_col[ok] + col[ok] - 31).abs().max() <= 1  # u -> 1 - u on this plane
    points = binding.surface_points(rig.vertices[None], rig.faces)[0]
    rgb = torch.tensor(pattern(points[:, 0].numpy() + 0.5, points[:, 1].numpy() + 0.5), dtype=torch.float64)
    conf = (points[:, 0] > 0.02).double()  # only the person's left half was seen
    texture, stats = complete_texture(rig, rig.vertices, binding, rgb * conf[:, None], conf)
    assert texture.shape == (32, 32, 3) and np.isfinite(texture).all()
    assert stats["mirror"] > 0.3
    unseen = (conf == 0) & ok
    got = texture[binding.texel[unseen, 1], binding.texel[unseen, 0]]
    want = pattern(-points[unseen, 0].numpy() + 0.5, points[unseen, 1].numpy() + 0.5)
    assert np.abs(got - want).mean() < 0.05  # the unseen half is the mirror image of the seen half


def test_mouth_interior_on_a_head_with_a_jaw_blendshape():
    from dataclasses import replace

    from talkavatar.core.body.mouth import has_mouth_interior, mouth_faces, mouth_texels, with_mouth_interior
    from talkavatar.motion.names import ARKIT_INDEX

    verts, faces, uvs = grid(-0.05, 0.05, 0.50, 0.60, 0.15, 11, (0.1, 0.1, 0.6, 0.6))
    rig = rig_from_mesh(verts, faces, uvs)
    shapes = torch.zeros(52, len(verts), 3)
    below = torch.tensor(verts[:, 1] < 0.548)
    shapes[ARKIT_INDEX["jawOpen"], below] = torch.tensor([0.0, -0.02, -0.01])
    rig = replace(rig, expression_blendshapes=shapes, bone_names=("head",))
    assert not has_mouth_interior(rig)
    out = with_mouth_interior(rig)
    assert has_mouth_interior(out) and with_mouth_interior(out) is out
    parts = mouth_faces(out)
    assert all(int(m.sum()) > 0 for m in parts.values())
    assert not any(m[: rig.faces.shape[0]].any() for m in parts.values())  # the skin is not a mouth part
    new = slice(rig.vertices.shape[0], None)
    assert (out.vertices[new, 2] < 0.15).all()  # everything behind the lips
    weights = torch.eye(52)[[0, ARKIT_INDEX["jawOpen"]]] * torch.tensor([[0.0], [1.0]])
    opened = out.pose(torch.zeros(2, 55, 3), None, weights)
    moved = (opened.vertices[1, new] - opened.vertices[0, new]).norm(dim=1)
    lower = torch.cat([parts["lower_teeth"], parts["tongue"]])
    assert moved.max() > 0.015 and moved.min() == 0  # lower parts follow the jaw, upper teeth stay
    binding = Binding.from_uv(out.face_uvs, 64)
    assert (mouth_texels(out, binding.face_index) >= 0).sum() > 50
    assert lower.any()


def _lips_rig(inner_z: float = 0.14):
    """A face plane (z = 0.15) whose jawOpen moves the part below y = 0.548 (the lower lip) and, 1 cm behind its lip
    line, a small patch (the lips' inner surface) that no viewer in front sees; with the mouth interior."""
    from dataclasses import replace

    from talkavatar.core.body.mouth import with_mouth_interior
    from talkavatar.motion.names import ARKIT_INDEX

    fv, ff, fuv = grid(-0.05, 0.05, 0.50, 0.60, 0.15, 11, (0.1, 0.1, 0.6, 0.6))
    iv, i_f, iuv = grid(-0.01, 0.01, 0.535, 0.545, inner_z, 3, (0.65, 0.1, 0.75, 0.2))
    rig = rig_from_mesh(np.concatenate([fv, iv]), np.concatenate([ff, i_f + len(fv)]), np.concatenate([fuv, iuv]))
    shapes = torch.zeros(52, len(fv) + len(iv), 3)
    below = torch.tensor(fv[:, 1] < 0.548)
    shapes[ARKIT_INDEX["jawOpen"], : len(fv)][below] = torch.tensor([0.0, -0.02, -0.01])
    return with_mouth_interior(replace(rig, expression_blendshapes=shapes, bone_names=("head",))), len(ff), len(i_f)


def test_the_lips_inner_surface_takes_the_dark_inner_lip_colour():
    """An opening jaw reveals the lips' inner surfaces; textured like the lips they made the open mouth look closed."""
    from talkavatar.core.body.mouth import MOUTH_COLOURS, inner_lip_faces, mouth_colours, mouth_texels

    rig, front, inner = _lips_rig()
    found = inner_lip_faces(rig)
    assert found[front:front + inner].all()  # hidden from every viewer in front
    assert not found[:front].any() and not found[front + inner:].any()  # the face itself, the mouth parts
    binding = Binding.from_uv(rig.face_uvs, 64)
    part = mouth_texels(rig, binding.face_index)
    on_inner = (binding.face_index >= front) & (binding.face_index < front + inner)
    assert on_inner.any() and (part[on_inner] == list(MOUTH_COLOURS).index("inner_lip")).all()
    assert torch.allclose(mouth_colours()[part[on_inner][0]], torch.tensor(MOUTH_COLOURS["inner_lip"]))
    seen, _, _ = _lips_rig(inner_z=0.16)  # the same patch in front of the face: seen, keeps the photo's colours
    assert not inner_lip_faces(seen).any()


def test_a_relaxed_mouth_shows_the_edge_of_the_upper_teeth_not_the_teeth():
    from talkavatar.core.body.mouth import TEETH_SHOW, mouth_faces, mouth_landmarks

    rig, _, _ = _lips_rig()
    marks = mouth_landmarks(rig)
    upper = rig.vertices[rig.faces[mouth_faces(rig)["upper_teeth"]].flatten()]
    assert abs(float(upper[:, 1].min()) - (marks["y_upper"] - TEETH_SHOW)) < 1e-5
    assert float(upper[:, 1].max()) - float(upper[:, 1].min()) > 0.008  # 1 cm of teeth, mostly behind the lip


def test_lips_the_photo_sees_inside_its_open_mouth_are_found():
    """The photo's inner-lip contour (an open mouth 10 px tall, 30 wide), grown by a pixel: lip texels whose pixel
    lies inside see the opening; those outside it, and texels that are not lips, do not."""
    from talkavatar.core.body.mouth import INNER_LIP_RING, OPENING_GROW, lips_over_opening

    face = np.zeros((478, 2))
    angle = np.linspace(0, 2 * np.pi, len(INNER_LIP_RING), endpoint=False)
    face[list(INNER_LIP_RING)] = np.stack([100 + 15 * np.cos(angle), 50 + 5 * np.sin(angle)], -1)
    pixels = torch.tensor([[100.0, 50.0], [112.0, 51.0], [100.0, 55.0 + 0.5 * OPENING_GROW], [100.0, 58.0],
                           [130.0, 50.0], [100.0, 50.0]])
    lips = torch.tensor([True, True, True, True, True, False])
    assert lips_over_opening(lips, pixels, face).tolist() == [True, True, True, False, False, False]
    assert not lips_over_opening(lips, pixels, None).any()


def test_texels_outside_the_mask_take_colours_from_inside_it():
    """The proxy reaches a little beyond the person mask: what it sees there is background, not the person."""
    rig, image, mask, cam = _scene()
    shrunk = mask.copy()
    shrunk[:, :30] = False  # the person mask stops 2 cm inside the back plane's left edge
    binding = Binding.from_uv(rig.face_uvs, 64)
    seen = project_texture(rig.vertices, rig.faces, binding, cam, image, shrunk)
    col = seen.pixel[:, 0].floor().long()
    outside = seen.seen & (col < 30) & (col >= 0)
    assert outside.sum() > 20
    assert (seen.confidence[outside] <= 0.05 + 1e-6).all()
    # the colours come from pixels at least 3 pixels inside the mask (columns >= 33), at the same height
    rows = seen.pixel[outside, 1].floor().long()
    inner = image[rows, 33]
    assert torch.allclose(seen.rgb[outside], inner, atol=0.08)


def _two_hands_rig():
    """A body plane (seen) and two hand planes on bones wrist.L / wrist.R, placed so that neither hand is the
    other's mirror image; UV charts side by side."""
    from dataclasses import replace

    body = grid(-0.2, 0.2, -0.3, 0.3, 0.0, 7, (0.0, 0.0, 0.45, 1.0))
    left = grid(0.5, 0.7, 0.3, 0.45, 0.0, 4, (0.5, 0.0, 0.7, 0.45))
    right = grid(-0.7, -0.5, -0.2, -0.05, 0.0, 4, (0.75, 0.0, 0.95, 0.45))
    verts = np.concatenate([body[0], left[0], right[0]])
    faces = np.concatenate([body[1], left[1] + len(body[0]), right[1] + len(body[0]) + len(left[0])])
    rig = rig_from_mesh(verts, faces, np.concatenate([body[2], left[2], right[2]]))
    bone = np.repeat([0, 1, 2], [len(body[0]), len(left[0]), len(right[0])])
    return replace(rig, skin_indices=torch.tensor(bone)[:, None], bone_names=("root", "wrist.L", "wrist.R"),
                   parents=torch.tensor([-1, 0, 0]), joints=torch.zeros(3, 3),
                   rest_to_canonical=torch.eye(3).expand(3, 3, 3).clone(),
                   bone_driver=rig.bone_driver.expand(3).clone(), bone_driver_fraction=torch.ones(3)), bone


def test_a_hand_the_photo_never_shows_takes_the_seen_hand_colour():
    rig, bone = _two_hands_rig()
    binding = Binding.from_uv(rig.face_uvs, 48)
    texel_bone = torch.from_numpy(bone)[rig.faces[binding.face_index]].max(1).values
    glove = torch.tensor([0.25, 0.15, 0.55], dtype=torch.float64)
    suit = torch.tensor([0.9, 0.4, 0.2], dtype=torch.float64)
    rgb = torch.where((texel_bone == 2)[:, None], glove, suit).expand(binding.count, 3).clone()
    conf = (texel_bone != 1).double() * 0.8  # the left hand is never seen
    texture, stats = complete_texture(rig, rig.vertices, binding, rgb * (conf > 0)[:, None], conf)
    assert stats["hands"] > 0
    left = texel_bone == 1
    got = texture[binding.texel[left, 1], binding.texel[left, 0]]
    assert np.abs(got - glove.numpy()).mean() < 0.02  # a glove, not the suit's orange nor an inpainted grey
    assert np.abs(got - glove.numpy()).max() < 0.06  # (with the completion's low-frequency shading)


def test_face_mirror_equals_a_face_by_face_search():
    """The vectorised mirror-face lookup against the plain loop: random faces with repeated corner sets (the last
    counts), corners that mirror onto one vertex (no mirror face) and faces without a mirror."""
    from talkavatar.pseudo.mesh import face_mirror

    rng = np.random.default_rng(0)
    faces = rng.integers(0, 30, (600, 3))
    mirror = rng.permutation(30)
    mirror[:3] = 0
    lookup = {tuple(sorted(f)): i for i, f in enumerate(faces.tolist())}
    index, perm = face_mirror(faces, mirror)
    assert 20 < (index >= 0).sum() < len(faces)
    for f, (i, p) in enumerate(zip(index, perm)):
        m = mirror[faces[f]].tolist()
        j = lookup.get(tuple(sorted(m))) if len(set(m)) == 3 else None
        assert i == (-1 if j is None else j)
        if j is not None:
            assert faces[j][p].tolist() == m


def _half_cylinder_head(height: float, rows: int, columns: int = 25, radius: float = 0.09):
    """A head of one bone: a half cylinder (``radius`` m, ``height`` m, facing +Z) of ``columns`` x ``rows``
    vertices with one UV chart -> (rig, its binding at UV 64, the binding's rest points [N, 3])."""
    from dataclasses import replace

    phi = np.linspace(-np.pi / 2, np.pi / 2, columns)
    ys = np.linspace(0.0, height, rows)
    P, Y = np.meshgrid(phi, ys, indexing="ij")
    verts = np.stack([radius * np.sin(P), Y, radius * np.cos(P)], -1).reshape(-1, 3)
    idx = np.arange(columns * rows).reshape(columns, rows)
    faces = np.array([f for i in range(columns - 1) for j in range(rows - 1) for f in
                      ([idx[i, j], idx[i + 1, j], idx[i + 1, j + 1]], [idx[i, j], idx[i + 1, j + 1], idx[i, j + 1]])])
    uv = np.stack([(P.ravel() + np.pi / 2) / np.pi * 0.9 + 0.05, Y.ravel() / height * 0.9 + 0.05], -1)
    rig = replace(rig_from_mesh(verts, faces, uv[faces]), bone_names=("head",))
    binding = Binding.from_uv(rig.face_uvs, 64)
    return rig, binding, binding.surface_points(rig.vertices[None].double(), rig.faces)[0].numpy()


def test_a_profile_face_is_drawn_in_the_seen_cheek_tone():
    """A head (a half cylinder facing +Z) seen from 80 degrees to its left: the front it sees edge-on holds the
    outline's smear (noise), the cheek it sees well a grain of 0.5..0.7; completed as a profile, the whole face below
    the brows is drawn smoothly in the cheek's lit tone (the mean of its lighter half, 0.65, as the face's median),
    lit from the front (the front lighter than the sides), the noise gone; completed as any photo, the front keeps
    the smear."""
    rig, binding, points = _half_cylinder_head(0.2, 9)
    angle = np.arctan2(points[:, 0], points[:, 2])                      # 0 facing forward, + the head's left
    seen = np.clip(np.cos(angle - np.radians(80)), 0, 1)
    rng = np.random.default_rng(0)
    grey = np.where(seen >= 0.5, rng.uniform(0.5, 0.7, len(seen)), rng.uniform(0.0, 1.0, len(seen)))
    rgb = torch.tensor(np.repeat(grey[:, None], 3, 1) * (seen > 0)[:, None])
    conf = torch.tensor(seen * (seen > 0.1))
    texture, stats = complete_texture(rig, rig.vertices, binding, rgb, conf, face_yaw=80.0)
    got = texture[binding.texel[:, 1], binding.texel[:, 0], 0]
    low = (points[:, 1] - points[:, 1].min()) / np.ptp(points[:, 1]) < 0.7   # below the brows
    face = low & (np.abs(angle) < np.radians(89))
    front, side = low & (np.abs(angle) < np.radians(15)), low & (np.abs(angle) > np.radians(60)) & face
    assert stats["profile_front"] > 0.1
    assert abs(np.median(got[face]) - 0.65) < 0.03                      # the cheek's lit tone
    assert got[front].std() < 0.02 and got[front].mean() > got[side].mean() + 0.05  # smooth, lit from the front
    without, _ = complete_texture(rig, rig.vertices, binding, rgb, conf)
    assert without[binding.texel[front, 1], binding.texel[front, 0], 0].std() > 0.1


def test_a_forehead_behind_a_hand_is_the_faces_lit_skin_shaded_from_the_front():
    """A head (a half cylinder facing +Z) seen from the front, a dark beard on its lower third, skin above; a hand
    in the photo hid the front of its upper part (laughing's forehead). Completed, the forehead is the seen skin's
    tone on the whole (not the beard's, not a darker mix of both: a brown cap), lighter in front than towards the
    temples (a face lit from the front, not a flat patch), without the photo's grain of the beard."""
    rig, binding, points = _half_cylinder_head(0.22, 12)
    angle = np.arctan2(points[:, 0], points[:, 2])                      # 0 facing forward
    height = (points[:, 1] - points[:, 1].min()) / np.ptp(points[:, 1])  # 0 at the chin, 1 at the crown
    skin, beard = np.array([0.85, 0.62, 0.52]), np.array([0.30, 0.20, 0.14])
    rng = np.random.default_rng(0)
    colour = np.where((height < 0.35)[:, None], beard, skin) + rng.normal(0, 0.03, (len(points), 1))
    seen = np.clip(np.cos(angle), 0, 1)
    behind = (height > 0.6) & (np.abs(angle) < np.radians(50))
    conf = torch.tensor(seen * (seen > 0.1) * ~behind)
    rgb = torch.tensor(colour * (conf.numpy() > 0)[:, None])
    texture, _ = complete_texture(rig, rig.vertices, binding, rgb, conf, behind_hand=torch.from_numpy(behind))
    got = texture[binding.texel[:, 1], binding.texel[:, 0]]
    front = behind & (np.abs(angle) < np.radians(10))
    temples = behind & (np.abs(angle) > np.radians(35))
    assert front.sum() > 20 and temples.sum() > 20
    assert np.abs(np.median(got[behind], 0) - skin).max() < 0.06      # the skin's tone, not a beard-darkened one
    assert got[front].mean() > got[temples].mean() + 0.06              # lit from the front, darker at the temples
