"""The avatar: UV-bound Gaussians follow the posed rig; storage round trip."""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.avatar import Avatar
from talkavatar.core.splats import rasterize
from talkavatar.core.cameras import Cameras
from tests.toy_body import toy_rig


def _pose(batch: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 55, 3, generator=g) * 0.3, torch.randn(batch, 3, generator=g) * 0.1,
            torch.rand(batch, 52, generator=g))


def test_gaussians_follow_the_posed_surface():
    rig = toy_rig(dtype=torch.float32)
    avatar = Avatar.on_surface(rig, uv_res=32)
    assert avatar.count > 100
    rotations, translation, expression = _pose(3)
    gaussians = avatar.pose(rotations, translation, expression)
    posed = rig.pose(rotations, translation, expression)
    on_mesh = avatar.binding.surface_points(posed.vertices, rig.faces)
    assert gaussians.means.shape == (3, avatar.count, 3)
    assert (gaussians.means - on_mesh).abs().max() < 1e-5
    unit = gaussians.quats.norm(dim=-1)
    assert torch.allclose(unit, torch.ones_like(unit), atol=1e-5)


def test_batched_pose_equals_looped():
    avatar = Avatar.on_surface(toy_rig(dtype=torch.float32), uv_res=16)
    avatar = Avatar(**{**avatar.__dict__, "offsets": torch.randn(avatar.count, 3) * 0.01})
    rotations, translation, expression = _pose(4, seed=1)
    batched = avatar.pose(rotations, translation, expression)
    for i in range(4):
        single = avatar.pose(rotations[i:i + 1], translation[i:i + 1], expression[i:i + 1])
        assert torch.allclose(single.means[0], batched.means[i], atol=1e-6)
        assert torch.allclose(single.quats[0], batched.quats[i], atol=1e-6)


def test_storage_round_trip(tmp_path):
    rig = toy_rig(dtype=torch.float32)
    avatar = Avatar.on_surface(rig, uv_res=16)
    avatar.save(tmp_path)
    back = Avatar.load(tmp_path)
    assert torch.equal(back.rig.faces, rig.faces)
    assert back.binding.uv_res == 16
    for name in ("offsets", "rgb", "log_scales", "quats", "opacity_logit", "vertex_offsets"):
        assert torch.equal(getattr(back, name), getattr(avatar, name))


def test_posed_avatar_renders_with_the_reference_rasterizer():
    avatar = Avatar.on_surface(toy_rig(dtype=torch.float32), uv_res=32)
    rotations, translation, expression = _pose(1)
    gaussians = avatar.pose(rotations * 0, translation * 0, expression * 0)
    centre = gaussians.means[0].mean(0)
    cameras = Cameras.look_at(centre[None] + torch.tensor([[0.0, 0.0, 1.5]]), centre[None], width=48, height=48)
    out = rasterize(gaussians, cameras, backend="reference")
    assert out.backend.endswith("reference")
    assert out.alpha.max() > 0.5 and np.isfinite(out.rgb.numpy()).all()


def test_a_rig_frame_made_once_poses_like_posing_from_scratch():
    """A fit poses the photo's rig once (Avatar.rig_frame) and the Gaussians on it every step: the same numbers and
    gradients as posing from scratch, for Gaussian parameters that change between the two."""
    avatar = Avatar.on_surface(toy_rig(dtype=torch.float32), uv_res=16)
    rotations, translation, expression = _pose(2, seed=3)
    with torch.no_grad():
        frame = avatar.rig_frame(rotations, translation, expression)
    offsets = (torch.randn(avatar.count, 3) * 0.01).requires_grad_(True)
    quats = torch.randn(avatar.count, 4).requires_grad_(True)
    moved = Avatar(**{**avatar.__dict__, "offsets": offsets, "quats": quats})
    fresh, kept = moved.pose(rotations, translation, expression), moved.pose(rotations, translation, expression,
                                                                              frame=frame)
    for name in ("means", "quats", "log_scales", "opacity_logit", "rgb"):
        assert torch.equal(getattr(fresh, name), getattr(kept, name)), name
    grads = [torch.autograd.grad((g.means.sum() + g.quats.square().sum()), (offsets, quats)) for g in (fresh, kept)]
    for a, b in zip(*grads):
        assert torch.equal(a, b)
