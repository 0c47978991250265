"""Rotation conversions: round trips, the identity, small angles, gradients, batching."""

import math

import pytest
import torch

from talkavatar.core import rotations as rot


def _random_axis_angle(n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=dtype), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=dtype) * (math.pi - 1e-3)
    return axis * angle


def test_rodrigues_is_a_rotation_and_matches_matrix_exp():
    aa = _random_axis_angle(64)
    r = rot.axis_angle_to_matrix(aa)
    eye = torch.eye(3, dtype=r.dtype)
    assert torch.allclose(r @ r.transpose(-1, -2), eye.expand_as(r), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.ones(64, dtype=r.dtype), atol=1e-12)
    assert torch.allclose(r, torch.linalg.matrix_exp(rot.skew(aa)), atol=1e-12)


def test_round_trips():
    aa = _random_axis_angle(64, seed=1)
    assert torch.allclose(rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa)), aa, atol=1e-9)
    assert torch.allclose(rot.quaternion_to_axis_angle(rot.axis_angle_to_quaternion(aa)), aa, atol=1e-12)
    r = rot.axis_angle_to_matrix(aa)
    assert torch.allclose(rot.quaternion_to_matrix(rot.matrix_to_quaternion(r)), r, atol=1e-12)
    assert torch.allclose(rot.rotation_6d_to_matrix(rot.matrix_to_rotation_6d(r)), r, atol=1e-12)


@pytest.mark.parametrize("scale", [0.0, 1e-12, 1e-6, 1e-4])
def test_small_angles_are_exact(scale):
    aa = _random_axis_angle(8, seed=2) / math.pi * scale
    r = rot.axis_angle_to_matrix(aa)
    assert torch.isfinite(r).all()
    assert torch.allclose(r, torch.linalg.matrix_exp(rot.skew(aa)), atol=1e-15)
    assert torch.allclose(rot.matrix_to_axis_angle(r), aa, atol=1e-12)


def test_near_half_turn():
    aa = torch.tensor([[0.0, 0.0, math.pi - 1e-7], [math.pi - 1e-7, 0, 0]], dtype=torch.float64)
    back = rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(aa))
    assert torch.allclose(back, aa, atol=1e-6)


def test_gradcheck_including_zero():
    aa = torch.cat([_random_axis_angle(3, seed=3), torch.zeros(1, 3, dtype=torch.float64),
                    torch.full((1, 3), 1e-5, dtype=torch.float64)]).requires_grad_()
    assert torch.autograd.gradcheck(rot.axis_angle_to_matrix, (aa,))
    assert torch.autograd.gradcheck(rot.axis_angle_to_quaternion, (aa,))
    m = rot.axis_angle_to_matrix(_random_axis_angle(3, seed=4)).requires_grad_()
    assert torch.autograd.gradcheck(rot.matrix_to_axis_angle, (m,))
    d6 = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(5)).requires_grad_()
    assert torch.autograd.gradcheck(rot.rotation_6d_to_matrix, (d6,))


def test_gradient_at_identity_is_the_skew_basis():
    aa = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(rot.axis_angle_to_matrix, aa)
    for i in range(3):
        e = torch.zeros(3, dtype=torch.float64)
        e[i] = 1
        assert torch.allclose(jac[..., i], rot.skew(e))


def test_batched_equals_looped():
    aa = _random_axis_angle(12, seed=6).reshape(3, 4, 3)
    batched = rot.axis_angle_to_matrix(aa)
    looped = torch.stack([torch.stack([rot.axis_angle_to_matrix(a) for a in row]) for row in aa])
    # equal up to float64 rounding: the batched kernels may vectorise differently (4e-16 on one Xeon)
    torch.testing.assert_close(batched, looped, rtol=0.0, atol=1e-15)


def test_rotation_between():
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn(16, 3, generator=g, dtype=torch.float64), torch.randn(16, 3, generator=g, dtype=torch.float64)
    r = rot.rotation_between(a, b)
    target = b / b.norm(dim=-1, keepdim=True) * a.norm(dim=-1, keepdim=True)
    assert torch.allclose((r @ a[..., None]).squeeze(-1), target, atol=1e-10)
    flip = rot.rotation_between(a, -a)
    assert torch.allclose((flip @ a[..., None]).squeeze(-1), -a, atol=1e-10)
    same = rot.rotation_between(a, 2 * a)
    assert torch.allclose(same, torch.eye(3, dtype=torch.float64).expand_as(same), atol=1e-10)


def test_slerp_endpoints_and_midpoint():
    a, b = rot.axis_angle_to_matrix(_random_axis_angle(2, seed=8))
    assert torch.allclose(rot.slerp_matrix(a, b, 0.0), a, atol=1e-12)
    assert torch.allclose(rot.slerp_matrix(a, b, 1.0), b, atol=1e-9)
    mid = rot.slerp_matrix(a, b, 0.5)
    assert torch.allclose(mid @ a.T @ mid, b, atol=1e-9)
