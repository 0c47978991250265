"""Cameras: OpenCV convention, constructors and projection helpers."""

import math

import pytest
import torch

from talkavatar.core.cameras import Cameras


def test_look_at_puts_target_at_principal_point_in_front():
    cams = Cameras.look_at(torch.tensor([0.3, 1.2, 2.5]), torch.tensor([0.0, 1.0, 0.0]), width=64, height=48)
    pix, depth = cams.project(torch.tensor([[0.0, 1.0, 0.0]]))
    assert torch.allclose(pix[0, 0], torch.tensor([32.0, 24.0]), atol=1e-4)
    assert depth[0, 0] == pytest.approx(math.dist((0.3, 1.2, 2.5), (0, 1, 0)), rel=1e-5)


def test_opencv_axes_world_right_and_up():
    # camera on +Z looking at the origin: world +X is image right (u grows), world +Y is image up (v shrinks)
    cams = Cameras.look_at(torch.tensor([0.0, 0.0, 3.0]), torch.zeros(3), width=64, height=64)
    pix, _ = cams.project(torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.5, 0.0]]))
    centre, right, up = pix[0]
    assert right[0] > centre[0] and right[1] == pytest.approx(centre[1].item(), abs=1e-4)
    assert up[1] < centre[1] and up[0] == pytest.approx(centre[0].item(), abs=1e-4)
    R = cams.world_to_camera[0, :3, :3]
    assert torch.allclose(R @ R.T, torch.eye(3), atol=1e-6)
    assert torch.det(R) == pytest.approx(1.0, abs=1e-6)


def test_intrinsics_from_fov_maps_fov_edge_to_image_border():
    K = Cameras.intrinsics_from_fov(60.0, 80, 40)
    # a point at the upper edge of the vertical field of view lands on v = 0
    y = -math.tan(math.radians(30))
    assert (K[1, 1] * y + K[1, 2]).item() == pytest.approx(0.0, abs=1e-4)
    assert K[0, 0] == K[1, 1] and K[0, 2] == 40 and K[1, 2] == 20


def test_from_fov_keeps_poses_and_builds_intrinsics():
    w2c = Cameras.orbit(torch.zeros(3), 2.0, torch.tensor([0.0, 45.0]), width=8, height=8).world_to_camera
    cams = Cameras.from_fov(w2c, 40.0, 64, 48)
    assert torch.equal(cams.world_to_camera, w2c) and cams.K.shape == (2, 3, 3)
    assert torch.allclose(cams.K[1], Cameras.intrinsics_from_fov(40.0, 64, 48))
    assert len(Cameras.from_fov(w2c[0], 40.0, 64, 48)) == 1


def test_orbit_distance_direction_and_inverse():
    centre = torch.tensor([0.1, 0.9, -0.2])
    cams = Cameras.orbit(centre, 2.0, torch.tensor([0.0, 90.0, 180.0]), 20.0, width=32, height=32)
    assert len(cams) == 3
    dist = (cams.centers - centre).norm(dim=-1)
    assert torch.allclose(dist, torch.full((3,), 2.0), atol=1e-5)
    assert cams.centers[0, 2] > centre[2] + 1.5  # yaw 0: on +Z
    assert cams.centers[1, 0] > centre[0] + 1.5  # yaw 90: on +X
    assert torch.all(cams.centers[:, 1] > centre[1])  # positive pitch: above
    eye = cams.camera_to_world @ cams.world_to_camera
    assert torch.allclose(eye, torch.eye(4).expand(3, 4, 4), atol=1e-5)
    pix, depth = cams.project(centre[None])
    assert torch.allclose(pix, torch.full((3, 1, 2), 16.0), atol=1e-4) and torch.all(depth > 0)


def test_pixel_rays_reproject_to_pixel_centres():
    cams = Cameras.orbit(torch.zeros(3), 3.0, torch.tensor([30.0, -60.0]), -10.0, width=12, height=10,
                         fov_y_degrees=50.0)
    origins, dirs = cams.pixel_rays()
    assert dirs.shape == (2, 10, 12, 3)
    points = origins[:, None, None, :] + 2.0 * dirs  # camera-space depth 2
    pix, depth = cams.project(points.reshape(2, -1, 3))
    v, u = torch.meshgrid(torch.arange(10) + 0.5, torch.arange(12) + 0.5, indexing="ij")
    want = torch.stack([u, v], -1).reshape(1, -1, 2).expand(2, -1, -1)
    assert torch.allclose(pix, want, atol=1e-3)
    assert torch.allclose(depth, torch.full_like(depth, 2.0), atol=1e-4)


def test_indexing_and_cat_keep_batches():
    cams = Cameras.orbit(torch.zeros(3), 2.0, torch.tensor([0.0, 10.0, 20.0]), width=8, height=6)
    assert len(cams[1]) == 1 and len(cams[-1]) == 1 and len(cams[0:2]) == 2
    assert torch.equal(Cameras.cat([cams[0], cams[1:]]).world_to_camera, cams.world_to_camera)
    assert cams.to(dtype=torch.float64).dtype == torch.float64


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="world_to_camera must be"):
        Cameras(torch.eye(4), torch.eye(3)[None], 8, 8)
    with pytest.raises(ValueError, match="K must be"):
        Cameras(torch.eye(4)[None], torch.eye(4)[None], 8, 8)
    with pytest.raises(ValueError, match="cameras but K has"):
        Cameras(torch.eye(4)[None].expand(2, 4, 4), torch.eye(3)[None], 8, 8)
    with pytest.raises(ValueError, match="image size"):
        Cameras(torch.eye(4)[None], torch.eye(3)[None], 0, 8)
    with pytest.raises(ValueError, match="coincide"):
        Cameras.look_at(torch.ones(3), torch.ones(3), width=8, height=8)
    with pytest.raises(ValueError, match="parallel"):
        Cameras.look_at(torch.tensor([0.0, 5.0, 0.0]), torch.zeros(3), width=8, height=8)
    with pytest.raises(ValueError, match="points must be"):
        Cameras.orbit(torch.zeros(3), 2.0, 0.0, width=8, height=8).project(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="share one image size"):
        a = Cameras.orbit(torch.zeros(3), 2.0, 0.0, width=8, height=8)
        Cameras.cat([a, Cameras.orbit(torch.zeros(3), 2.0, 0.0, width=9, height=8)])
