"""Views that make sense for the photo's framing: pseudo cameras keep clear of the body; fit's evaluation orbits the
part the photo shows and does not count triangles behind its camera as coverage."""

from __future__ import annotations

import math

import torch

from talkavatar.core.cameras import Cameras
from talkavatar.fit.evaluate import mesh_silhouette, shown_centre
from talkavatar.pseudo.views import CLEARANCE, keep_clear, orbit_cameras


def sphere(centre, radius, count=400):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(count, 3, generator=g, dtype=torch.float64)
    return torch.tensor(centre, dtype=torch.float64) + radius * p / p.norm(dim=1, keepdim=True)


def test_cameras_inside_or_touching_the_body_back_away_along_their_line_of_sight():
    head = sphere((0.0, 1.6, 0.0), 0.12)
    focus = torch.tensor([[0.0, 1.6, 0.0]] * 3, dtype=torch.float64)
    eye = torch.tensor([[0.0, 1.6, 0.05], [0.2, 1.6, 0.0], [0.0, 1.6, 1.0]], dtype=torch.float64)
    moved = keep_clear(eye, focus, head[None].expand(3, -1, -1))
    nearest = (head[None] - moved[:, None]).norm(dim=2).min(dim=1).values
    assert bool((nearest >= CLEARANCE - 1e-6).all())
    assert torch.allclose(moved[2], eye[2])  # a camera already clear stays where it was
    direction = (moved - focus) / (moved - focus).norm(dim=1, keepdim=True)
    assert torch.allclose(direction[:2], ((eye - focus) / (eye - focus).norm(dim=1, keepdim=True))[:2])


def test_orbit_cameras_of_a_close_portrait_stay_outside_the_head():
    head = sphere((0.0, 1.6, 0.0), 0.12).float()
    focus = torch.tensor([[0.0, 1.6, 0.0]] * 4)
    cams = orbit_cameras(focus, torch.tensor([0.0, 1.6, 0.25]), torch.tensor([0.0, 90.0, 180.0, -60.0]).numpy(),
                         torch.zeros(4).numpy(), 300.0, 256, head[None].expand(4, -1, -1))
    assert bool(((head[None] - cams.centers[:, None]).norm(dim=2).min(dim=1).values >= CLEARANCE - 1e-4).all())


def test_a_triangle_behind_the_camera_covers_nothing():
    cam = Cameras.look_at(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 1.0]), width=64, height=64)
    behind = torch.tensor([[-1.0, -1.0, -0.5], [1.0, -1.0, -0.5], [0.0, 1.0, 0.5]])  # two corners behind the eye
    ahead = torch.tensor([[-0.1, -0.1, 2.0], [0.1, -0.1, 2.0], [0.0, 0.1, 2.0]])
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    sil = mesh_silhouette(torch.cat([behind, ahead]), faces, cam)
    assert 0 < sil.mean() < 0.05  # the small triangle ahead, not a frame filled by the one behind


def test_novel_views_orbit_the_part_the_photo_shows():
    body = torch.cat([sphere((0.0, 1.6, 0.0), 0.12), sphere((0.0, 0.9, 0.0), 0.3)]).float()  # head, torso
    fov = 2 * math.degrees(math.atan(0.25 / 0.7))
    portrait = Cameras.look_at(torch.tensor([0.0, 1.6, 0.7]), torch.tensor([0.0, 1.6, 0.0]), width=64, height=64,
                               fov_y_degrees=fov)
    centre = shown_centre(body, portrait)
    assert abs(float(centre[1]) - 1.6) < 0.1  # the head, not the middle of the whole body (~1.2 m)
