"""Gaussian shapes of the fit (talkavatar.fit.model): flat discs lie in their triangle's plane, posed or not;
round ones are isotropic; the per-step limits hold Gaussians near the mesh."""

from __future__ import annotations

import math

import pytest
import torch

from talkavatar.core.avatar import texel_size
from talkavatar.core.binding import triangle_frames
from talkavatar.core.body.mouth import lip_region_faces
from talkavatar.core.rotations import quaternion_to_matrix
from talkavatar.fit import model
from talkavatar.fit.model import FLAT_RATIO, AvatarParameters
from tests.toy_body import toy_rig


def _normal_axis_and_thickness(gaussians, index: int = 0):
    """The posed Gaussian's local axes [N, 3, 3] and scales [N, 3] (frame ``index``)."""
    return quaternion_to_matrix(gaussians.quats[index]), gaussians.log_scales[index].exp()


@pytest.mark.parametrize("bend", [0.0, 0.8])
def test_flat_gaussians_are_thin_along_the_face_normal(bend):
    rig = toy_rig(dtype=torch.float32)
    params = AvatarParameters.initial(rig, 16, None, None, shape="flat")
    rotations = torch.zeros(1, 55, 3)
    rotations[0, 1:4, 0] = bend  # bend a few joints: the discs must turn with their triangles
    posed = params.avatar().pose(rotations)
    axes, scales = _normal_axis_and_thickness(posed)
    normals = triangle_frames(rig.pose(rotations).vertices, rig.faces)[0, :, :, 2][params.binding.face_index]
    cosine = (axes[:, :, 2] * normals).sum(-1).abs()
    assert cosine.min() > 0.999
    assert torch.allclose(scales[:, 2], scales[:, 0] * FLAT_RATIO, rtol=1e-4)
    assert torch.allclose(scales[:, 0], scales[:, 1])


def test_oval_gaussians_start_as_flat_discs_and_turn_their_two_scales_in_the_surface():
    """An oval with equal scales and no turn is the flat disc; scales (a, b) turned by 90 degrees about the normal lie
    along the disc's other in-plane axis, the normal and the thickness (FLAT_RATIO x sqrt(ab)) unchanged."""
    rig = toy_rig(dtype=torch.float32)
    flat = AvatarParameters.initial(rig, 16, None, None, shape="flat").avatar()
    oval = AvatarParameters.initial(rig, 16, None, None, shape="oval")
    assert oval.log_scales.shape[1] == 2 and oval.turn.requires_grad
    start = oval.avatar()
    assert torch.allclose(start.log_scales, flat.log_scales) and torch.allclose(start.quats, flat.quats)
    with torch.no_grad():
        oval.log_scales.copy_(torch.log(torch.tensor([0.004, 0.001])).expand_as(oval.log_scales))
        oval.turn.fill_(math.pi / 2)
    turned = oval.avatar()
    axes, base = quaternion_to_matrix(turned.quats), quaternion_to_matrix(flat.quats)
    assert (axes[:, :, 0] * base[:, :, 1]).sum(-1).abs().min() > 0.999  # the long axis turned onto the other one
    assert (axes[:, :, 2] * base[:, :, 2]).sum(-1).min() > 0.999  # the normal kept
    assert torch.allclose(turned.log_scales[:, 2].exp(), torch.full_like(turned.log_scales[:, 2], 0.002 * FLAT_RATIO))


def test_round_gaussians_are_isotropic_and_free_ones_learn_three_scales():
    rig = toy_rig(dtype=torch.float32)
    round_ = AvatarParameters.initial(rig, 16, None, None, shape="round")
    scales = round_.avatar().log_scales
    assert torch.equal(scales[:, 0], scales[:, 2]) and round_.log_scales.shape[1] == 1
    free = AvatarParameters.initial(rig, 16, None, None, shape="free")
    assert free.log_scales.shape[1] == 3 and free.quats.requires_grad
    with pytest.raises(ValueError):
        AvatarParameters.initial(rig, 16, None, None, shape="square")


def test_project_keeps_gaussians_near_the_mesh_and_scales_bounded():
    rig = toy_rig(dtype=torch.float32)
    params = AvatarParameters.initial(rig, 16, None, None, shape="flat")
    with torch.no_grad():
        params.offsets.add_(torch.randn_like(params.offsets) * 0.2)
        params.log_scales.fill_(0.0)  # 1 m
    params.project_()
    assert params.offsets.norm(dim=-1).max() <= model.MAX_SURFACE_OFFSET + 1e-6  # dT = 0: the anchor is the rig
    assert params.log_scales.max() <= model.LOG_SCALE_RANGE[1] + 1e-6
    assert torch.all(params.log_scales <= params.max_log_scales + 1e-6)
    texel = texel_size(rig, params.binding)
    by_lips = lip_region_faces(rig)[params.binding.face_index]  # the toy's jawOpen moves its "chin"
    largest = texel * torch.where(by_lips, model.MOUTH_SCALE_IN_TEXELS, model.MAX_SCALE_IN_TEXELS)
    largest = largest.clamp(max=math.exp(model.LOG_SCALE_RANGE[1]))
    assert torch.allclose(params.log_scales[:, 0].exp(), largest, rtol=1e-4)


def test_gaussians_by_the_lips_stay_under_their_texel_so_an_opening_mouth_shows():
    """A face plane whose jawOpen moves the part below its lip line: the Gaussians around the lip line start and
    stay at most MOUTH_SCALE_IN_TEXELS of their texel and MOUTH_SURFACE_OFFSET from the mesh; the others keep
    MAX_SCALE_IN_TEXELS and MAX_SURFACE_OFFSET."""
    from dataclasses import replace

    from talkavatar.motion.names import ARKIT_INDEX
    from tests.pseudo_scenes import grid, rig_from_mesh

    verts, faces, uvs = grid(-0.05, 0.05, 0.50, 0.62, 0.15, 13, (0.1, 0.1, 0.6, 0.6))
    shapes = torch.zeros(52, len(verts), 3)
    shapes[ARKIT_INDEX["jawOpen"], torch.tensor(verts[:, 1] < 0.548)] = torch.tensor([0.0, -0.02, -0.01])
    rig = replace(rig_from_mesh(verts, faces, uvs), expression_blendshapes=shapes)
    params = AvatarParameters.initial(rig, 32, None, None, shape="flat")
    lips = lip_region_faces(rig)[params.binding.face_index]
    assert lips.any() and (~lips).any()
    texel = texel_size(rig, params.binding)
    assert torch.all(params.log_scales[lips, 0].exp() <= texel[lips] * model.MOUTH_SCALE_IN_TEXELS * (1 + 1e-5))
    with torch.no_grad():
        params.log_scales.fill_(0.0)
        params.offsets.add_(torch.randn_like(params.offsets) * 0.2)
    params.project_()
    assert params.offsets[lips].norm(dim=-1).max() <= model.MOUTH_SURFACE_OFFSET + 1e-6  # dT = 0: the rig's surface
    assert params.offsets[~lips].norm(dim=-1).max() > model.MOUTH_SURFACE_OFFSET
    assert torch.allclose(params.log_scales[lips, 0].exp(), texel[lips] * model.MOUTH_SCALE_IN_TEXELS, rtol=1e-4)
    assert torch.allclose(params.log_scales[~lips, 0].exp(), texel[~lips] * model.MAX_SCALE_IN_TEXELS, rtol=1e-4)
