"""`--camera auto`: a portrait-only track is framed as a portrait, a full-body track as the whole body."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.motion.library.anatomy import channels_to_motion
from talkavatar.render.camera_path import CameraPath
from talkavatar.render.framing import follow, frame_size, front_distance, plan_shot, shown_vertices
from talkavatar.render.timeline import Timeline

anny = pytest.importorskip("anny")


@pytest.fixture(scope="module")
def rig():
    from tests.eval_fixtures import anny_rig

    return anny_rig().to(dtype=torch.float32)


def auto_view(rig, eye, target, fov):
    """The auto camera (first frame) for a still clip of a rest-pose body photographed from ``eye``."""
    still = torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)
    photo = Cameras.look_at(torch.tensor(eye), torch.tensor(target), width=512, height=512, fov_y_degrees=fov)
    shown = shown_vertices(rig, *still, photo)
    timeline = Timeline.of(channels_to_motion({}, 12, 30.0), 30.0)  # the relaxed rest: arms down
    shot = plan_shot(rig, shown, timeline.poses, timeline.frames, timeline.fps)
    width, height = frame_size(shot.half_size)
    path = CameraPath.following(shot.centers, front_distance(shot.half_size, width, height), width=width,
                                height=height)
    posed = rig.pose(*timeline.poses([0])).vertices[0]
    pixels, _ = path.at(torch.tensor([0])).project(posed)
    return shown, pixels[0], width, height


def head_mask(rig):
    from talkavatar.pseudo.mesh import head_vertices

    return torch.from_numpy(head_vertices(rig))


def test_portrait_track_is_framed_as_a_portrait(rig):
    head = head_mask(rig)
    neck_y = float(rig.vertices[head, 1].min())
    shown, pixels, width, height = auto_view(rig, (0.0, neck_y, 0.9), (0.0, neck_y, 0.0), 30.0)
    assert shown[head].float().mean() > 0.95
    assert rig.vertices[shown, 1].min() > neck_y - 0.35  # head, neck and shoulders: nothing below the chest
    assert (width, height) in ((1080, 1080), (1080, 1350))
    face = pixels[head]
    assert (face[:, 1].max() - face[:, 1].min()) / height >= 0.25  # the floor for a portrait
    assert face[:, 1].min() > 0 and face[:, 0].min() > 0 and face[:, 0].max() < width  # the whole head inside


def test_full_body_track_is_framed_as_the_whole_body(rig):
    centre = rig.vertices.mean(0)
    shown, pixels, width, height = auto_view(rig, (0.0, float(centre[1]), 4.5), tuple(centre.tolist()), 40.0)
    assert bool(shown.all())
    assert (width, height) == (1080, 1920)
    assert pixels[:, 0].min() > 0 and pixels[:, 0].max() < width
    assert pixels[:, 1].min() > 0 and pixels[:, 1].max() < height
    assert (pixels[:, 1].max() - pixels[:, 1].min()) / height > 0.7  # filling the frame, not a speck


def test_follow_smooths_the_target_and_keeps_gestures_inside():
    t = torch.arange(60, dtype=torch.float64)
    sway = torch.stack([0.05 * torch.sin(2 * torch.pi * t / 60), torch.zeros(60), torch.zeros(60)], -1)
    body = torch.tensor([[-0.2, 0.0, 0.0], [0.2, 0.5, 0.1]], dtype=torch.float64)
    points = body[None] + sway[:, None]
    gesture = torch.where((t % 10 < 3)[:, None], torch.tensor([0.5, 0.3, 0.0], dtype=torch.float64),
                          torch.tensor([0.1, 0.3, 0.0], dtype=torch.float64))  # a hand flicking out and back
    points = torch.cat([points, (gesture + sway)[:, None]], 1)
    for quantile, share in ((0.98, 0.9), (1.0, 1.0)):
        centers, half = follow(points, fps=30.0, follow_seconds=0.5, quantile=quantile)
        assert (centers[1:] - centers[:-1]).norm(dim=1).max() < 0.01  # no jump with the flicking hand
        low, high = centers - half, centers + half
        inside = ((points >= low[:, None] - 1e-9) & (points <= high[:, None] + 1e-9)).all(-1).all(-1)
        assert float(inside.double().mean()) >= share


def test_legs_without_a_visible_knee_were_not_shown():
    from talkavatar.core.body.parts import PART
    from talkavatar.core.body.parts import hidden_parts

    points = np.tile([[100.0, 100.0]], (33, 1))
    visibility = np.ones(33)
    assert hidden_parts(points, visibility, 200, 200) == []
    visibility[[25, 26]] = 0.2  # knees hidden (behind a desk, a helmet)
    points[[27, 28]] = (100.0, 260.0)  # ankles below the picture
    assert hidden_parts(points, visibility, 200, 200) == [PART["thigh"], PART["shin"], PART["foot"]]
