"""The personal rig: canonical posing, LBS against a naive reference, batching, gradients, storage."""

import math
from dataclasses import fields

import pytest
import torch

from talkavatar.core.body.rig import Rig
from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.errors import InvalidInput
from talkavatar.motion.names import JOINT_INDEX
from tests.toy_body import toy_rig


def _random_pose(batch, seed=0, scale=0.5, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(batch, 55, 3, generator=g, dtype=dtype),
            0.1 * torch.randn(batch, 3, generator=g, dtype=dtype), torch.rand(batch, 52, generator=g, dtype=dtype))


def _naive_pose(rig: Rig, theta, transl, arkit):
    """Per-joint recursion with 4x4 matrices and a per-vertex loop (the readable reference)."""
    j = rig.joints.shape[0]
    a = rig.rest_to_canonical
    world = []
    for b in range(j):
        d = int(rig.bone_driver[b])
        r = axis_angle_to_matrix(theta[d] * rig.bone_driver_fraction[b]) if d >= 0 else torch.eye(3, dtype=theta.dtype)
        p = int(rig.parents[b])
        local = (a[p].T if p >= 0 else torch.eye(3, dtype=theta.dtype)) @ r @ a[b]
        m = torch.eye(4, dtype=theta.dtype)
        m[:3, :3] = local
        m[:3, 3] = rig.joints[b] - (rig.joints[p] if p >= 0 else 0)
        world.append(world[p] @ m if p >= 0 else m)
    rest = rig.vertices + (arkit[:, None, None] * rig.expression_blendshapes).sum(0)
    out = []
    for v in range(rest.shape[0]):
        acc = torch.zeros(3, dtype=theta.dtype)
        for k in range(rig.skin_indices.shape[1]):
            b = int(rig.skin_indices[v, k])
            skin = world[b].clone()
            skin[:3, 3] -= skin[:3, :3] @ rig.joints[b]
            acc = acc + rig.skin_weights[v, k] * (skin[:3, :3] @ rest[v] + skin[:3, 3])
        out.append(acc + transl)
    return torch.stack(out), torch.stack([w[:3, 3] for w in world]) + transl


def test_zero_pose_straightens_the_rest_pose():
    rig = toy_rig()
    posed = rig.pose(torch.zeros(1, 55, 3, dtype=torch.float64))
    # The rest pose is bent at the elbow; the canonical rest is straight along +X.
    assert torch.allclose(posed.vertices[0, :, 1:].norm(dim=-1), torch.full((rig.vertices.shape[0],), 0.05,
                                                                         dtype=torch.float64), atol=1e-12)
    assert posed.vertices[0, :, 0].max().item() == pytest.approx(0.6, abs=1e-12)


def test_matches_naive_reference():
    rig = toy_rig()
    theta, transl, arkit = _random_pose(2)
    posed = rig.pose(theta, transl, arkit)
    for b in range(2):
        verts, joints = _naive_pose(rig, theta[b], transl[b], arkit[b])
        assert torch.allclose(posed.vertices[b], verts, atol=1e-12)
        assert torch.allclose(posed.joints[b], joints, atol=1e-12)


def test_elbow_bend_in_canonical_axes():
    rig = toy_rig()
    theta = torch.zeros(1, 55, 3, dtype=torch.float64)
    theta[0, JOINT_INDEX["left_elbow"]] = torch.tensor([0.0, -math.pi / 2, 0.0], dtype=torch.float64)  # forearm +X -> +Z (forward)
    posed = rig.pose(theta)
    last_ring = posed.vertices[0, -6:].mean(0) - posed.joints[0, 2]
    assert torch.allclose(last_ring, torch.tensor([0.0, 0.0, 0.2], dtype=torch.float64), atol=1e-12)


def test_batched_equals_looped():
    rig = toy_rig()
    theta, transl, arkit = _random_pose(4, seed=1)
    batched = rig.pose(theta, transl, arkit)
    for b in range(4):
        single = rig.pose(theta[b:b + 1], transl[b:b + 1], arkit[b:b + 1])
        assert torch.allclose(batched.vertices[b], single.vertices[0], atol=1e-14)
        assert torch.allclose(batched.vertex_transforms[b], single.vertex_transforms[0], atol=1e-14)


def test_vertex_transforms_map_rest_to_posed():
    rig = toy_rig()
    theta, transl, arkit = _random_pose(2, seed=2)
    posed = rig.pose(theta, transl, arkit)
    rest = rig.rest_vertices(arkit)
    mapped = (posed.vertex_transforms[..., :3] @ rest[..., None]).squeeze(-1) + posed.vertex_transforms[..., 3]
    assert torch.allclose(mapped, posed.vertices, atol=1e-12)


def test_gradcheck():
    rig = toy_rig(rings=3, around=3)
    theta, transl, arkit = _random_pose(1, seed=3)
    theta.requires_grad_(), transl.requires_grad_(), arkit.requires_grad_()
    assert torch.autograd.gradcheck(lambda t, x, a: rig.pose(t, x, a).vertices, (theta, transl, arkit))


def test_bad_input():
    rig = toy_rig()
    with pytest.raises(ValueError):
        rig.pose(torch.zeros(1, 24, 3, dtype=torch.float64))
    with pytest.raises(ValueError):
        rig.pose(torch.zeros(1, 55, 3, dtype=torch.float64), arkit_weights=torch.zeros(1, 51, dtype=torch.float64))
    with pytest.raises(ValueError):
        Rig(**{f.name: getattr(rig, f.name) for f in fields(rig)} | {"joints": rig.joints[:2]})


def test_save_load_round_trip(tmp_path):
    rig = toy_rig()
    rig.save(tmp_path / "rig.safetensors")
    back = Rig.load(tmp_path / "rig.safetensors")
    assert back.bone_names == rig.bone_names and back.model == "toy"
    theta, transl, arkit = _random_pose(2, seed=4)
    a = rig.to(dtype=torch.float32).pose(theta, transl, arkit).vertices
    b = back.pose(theta, transl, arkit).vertices
    assert torch.allclose(a, b, atol=1e-6)


def test_load_rejects_other_schema(tmp_path):
    from talkavatar.motion import Motion, save_motion

    save_motion(tmp_path / "x.motion.safetensors", Motion.still(2))
    with pytest.raises(InvalidInput):
        Rig.load(tmp_path / "x.motion.safetensors")
