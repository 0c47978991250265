"""UV-bound Gaussians: sampling texels, lying on the posed mesh, offsets, frames, weights."""

import math

import pytest
import torch

from talkavatar.core.binding import Binding, triangle_frames
from tests.toy_body import toy_rig


def _point_triangle_distance(p, a, b, c):
    """Distance from points p [N, 3] to triangles (a, b, c) [N, 3] each (naive, via the plane and the edges)."""
    n = torch.nn.functional.normalize(torch.linalg.cross(b - a, c - a, dim=-1), dim=-1)
    plane = ((p - a) * n).sum(-1).abs()

    def seg(p, u, v):
        t = (((p - u) * (v - u)).sum(-1) / ((v - u) ** 2).sum(-1)).clamp(0, 1)
        return (p - (u + t[:, None] * (v - u))).norm(dim=-1)

    q = p - ((p - a) * n).sum(-1, keepdim=True) * n
    inside = torch.stack([(torch.linalg.cross(v - u, q - u, dim=-1) * n).sum(-1) >= -1e-12
                          for u, v in ((a, b), (b, c), (c, a))]).all(0)
    edges = torch.minimum(torch.minimum(seg(p, a, b), seg(p, b, c)), seg(p, c, a))
    return torch.where(inside, plane, edges)


def test_texels_cover_the_uv_area():
    rig = toy_rig()
    for r in (16, 64):
        b = Binding.from_uv(rig.face_uvs, r)
        # The toy UVs tile the unit square exactly: every texel is bound exactly once.
        assert b.count == r * r
        key = b.texel[:, 1] * r + b.texel[:, 0]
        assert key.unique().numel() == r * r
        assert torch.allclose(b.barycentrics.sum(-1), torch.ones(b.count), atol=1e-6)
        assert (b.barycentrics >= 0).all()


def test_barycentrics_reproduce_texel_centres():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 32)
    uv = (rig.face_uvs[b.face_index].float() * b.barycentrics[..., None]).sum(1)
    centre = torch.stack([(b.texel[:, 0] + 0.5) / 32, 1 - (b.texel[:, 1] + 0.5) / 32], -1)
    assert torch.allclose(uv, centre, atol=1e-6)


def test_zero_offsets_lie_on_posed_mesh():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 32)
    g = torch.Generator().manual_seed(0)
    posed = rig.pose(0.4 * torch.randn(2, 55, 3, generator=g, dtype=torch.float64),
                     torch.randn(2, 3, generator=g, dtype=torch.float64))
    means = b.positions(posed.vertices, rig.faces, posed.vertex_transforms, torch.zeros(b.count, 3))
    tri = posed.vertices[:, rig.faces[b.face_index]]  # [B, N, 3, 3]
    for k in range(2):
        d = _point_triangle_distance(means[k], tri[k, :, 0], tri[k, :, 1], tri[k, :, 2])
        assert d.max() < 1e-10


def test_offsets_follow_the_skinning():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 16)
    theta = torch.zeros(1, 55, 3, dtype=torch.float64)
    theta[0, 0] = torch.tensor([0.0, math.pi / 2, 0.0], dtype=torch.float64)  # whole body turns 90 deg about +Y
    posed = rig.pose(theta)
    offsets = torch.tensor([[0.0, 0.01, 0.0]]).expand(b.count, 3)
    moved = b.positions(posed.vertices, rig.faces, posed.vertex_transforms, offsets)
    on_mesh = b.positions(posed.vertices, rig.faces)
    # Offsets live in the rig's rest space. Where the rest pose is already canonical (no elbow weight), the turn
    # about +Y is all there is: a +Y offset stays, an X offset turns into -Z.
    rigid = b.interpolate(rig.dense_skin_weights[None], rig.faces)[0, :, 2] == 0
    assert rigid.sum() > b.count // 2
    assert torch.allclose((moved - on_mesh)[0, rigid], offsets[rigid].double(), atol=1e-12)
    xo = b.positions(posed.vertices, rig.faces, posed.vertex_transforms, torch.tensor([[0.01, 0.0, 0.0]]))
    assert torch.allclose((xo - on_mesh)[0, rigid], torch.tensor([0.0, 0.0, -0.01], dtype=torch.float64), atol=1e-12)
    with pytest.raises(ValueError):
        b.positions(posed.vertices, rig.faces, None, offsets)


def test_interpolated_skin_weights_give_the_same_transform():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 16)
    g = torch.Generator().manual_seed(1)
    posed = rig.pose(0.5 * torch.randn(1, 55, 3, generator=g, dtype=torch.float64))
    weights = b.interpolate(rig.dense_skin_weights[None], rig.faces)[0]  # [N, J] per-Gaussian LBS weights
    assert torch.allclose(weights.sum(-1), torch.ones(b.count, dtype=torch.float64))
    from talkavatar.core.body.rig import local_rotations
    from talkavatar.core.skinning import blend_transforms, forward_kinematics, skinning_transforms

    # Recompute the joint transforms and blend them with the per-Gaussian weights.
    theta = 0.5 * torch.randn(1, 55, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    local = local_rotations(theta, rig.rest_to_canonical, rig.parents, rig.bone_driver, rig.bone_driver_fraction)
    rot, joints = forward_kinematics(rig.tree, local, rig.joints)
    per_gaussian = blend_transforms(weights, skinning_transforms(rot, joints, rig.joints))
    assert torch.allclose(per_gaussian, b.interpolate(posed.vertex_transforms, rig.faces), atol=1e-12)


def test_frames_are_rotations_and_follow_rigid_motion():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 8)
    frames = triangle_frames(rig.vertices[None], rig.faces)
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(frames @ frames.transpose(-1, -2), eye.expand_as(frames), atol=1e-12)
    theta = torch.zeros(1, 55, 3, dtype=torch.float64)
    theta[0, 0] = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
    posed = rig.pose(theta)
    root = posed.vertex_transforms[0, 0, :, :3]  # vertex 0 is weighted to the root only
    delta = b.frame_rotations(rig.pose(torch.zeros_like(theta)).vertices, posed.vertices, rig.faces)
    assert torch.allclose(delta, root.expand_as(delta), atol=1e-12)


def test_batched_equals_looped():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 16)
    g = torch.Generator().manual_seed(2)
    posed = rig.pose(0.4 * torch.randn(3, 55, 3, generator=g, dtype=torch.float64))
    offsets = 0.01 * torch.randn(3, b.count, 3, generator=g, dtype=torch.float64)
    batched = b.positions(posed.vertices, rig.faces, posed.vertex_transforms, offsets)
    for k in range(3):
        single = b.positions(posed.vertices[k:k + 1], rig.faces, posed.vertex_transforms[k:k + 1], offsets[k:k + 1])
        assert torch.allclose(batched[k], single[0], atol=1e-15)


def test_bad_uv_res():
    with pytest.raises(ValueError):
        Binding.from_uv(toy_rig().face_uvs, 0)


def test_uv_binding_is_kept_in_the_cache_across_processes(tmp_path, monkeypatch):
    from talkavatar.core import binding

    monkeypatch.setenv("TALKAVATAR_CACHE_DIR", str(tmp_path))
    rig = toy_rig()
    binding._rasterize_uv_cached.cache_clear()
    made = Binding.from_uv(rig.face_uvs, 24)
    stored = list((tmp_path / binding.UV_BINDINGS).glob("*.safetensors"))
    assert len(stored) == 1
    binding._rasterize_uv_cached.cache_clear()  # a new process: read from the file
    read = Binding.from_uv(rig.face_uvs, 24)
    for name in ("face_index", "barycentrics", "texel"):
        assert torch.equal(getattr(read, name), getattr(made, name))
    stored[0].write_bytes(b"not a safetensors file")  # damaged: made again
    binding._rasterize_uv_cached.cache_clear()
    assert torch.equal(Binding.from_uv(rig.face_uvs, 24).face_index, made.face_index)
    binding._rasterize_uv_cached.cache_clear()


def test_anchors_made_a_few_frames_at_a_time_are_the_same():
    rig = toy_rig()
    b = Binding.from_uv(rig.face_uvs, 8)
    posed = rig.pose(0.2 * torch.randn(5, 55, 3, dtype=rig.dtype))
    whole = b.anchors(posed.vertices, rig.faces, posed.vertex_transforms)
    split = b.anchors(posed.vertices, rig.faces, posed.vertex_transforms, frames_at_once=2)
    assert whole[0].shape == (5, b.count, 3) and whole[1].shape == (5, b.count, 3, 3)
    assert all(torch.equal(x, y) for x, y in zip(whole, split))

