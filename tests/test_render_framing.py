"""`--camera auto`: a portrait-only track is framed as a portrait, a full-body track as the whole body."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.motion.library.anatomy import channels_to_motion
from talkavatar.render.camera_path import CameraPath
from talkavatar.render.framing import (follow, frame_size, front_distance, plan_shot, shown_vertices,
                                      tracked_pose)
from talkavatar.render.timeline import Timeline

anny = pytest.importorskip("anny")


@pytest.fixture(scope="module")
def rig():
    from tests.eval_fixtures import anny_rig

    return anny_rig().to(dtype=torch.float32)


def auto_view(rig, eye, target, fov, also=None, clip=None):
    """The auto camera (first frame) for a clip (``clip``: anatomy channels; default a still relaxed rest, arms
    down) of a rest-pose body photographed from ``eye``; ``also``: [V] bool vertices shown besides (a hand the photo
    showed raised to the face)."""
    still = torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)
    photo = Cameras.look_at(torch.tensor(eye), torch.tensor(target), width=512, height=512, fov_y_degrees=fov)
    shown = shown_vertices(rig, tracked_pose(rig, *still), photo)
    if also is not None:
        shown |= also
    timeline = Timeline.of(channels_to_motion(clip or {}, 12, 30.0), 30.0)
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


def test_half_body_track_is_framed_as_a_half_body(rig):
    """A photo cut at the waist, one hand raised to the face: framed from the head to the waist (that hand,
    hanging by the hips in the clip, does not pull the frame down to the knees)."""
    from talkavatar.core.body.parts import PART, vertex_parts

    head = head_mask(rig)
    top, height = float(rig.vertices[:, 1].max()), float(np.ptp(rig.vertices[:, 1].numpy()))
    middle = top - 0.22 * height  # the picture shows the top 44 % of the body: head to waist
    eye = (0.0, middle, 0.22 * height / np.tan(np.radians(15.0)))
    parts = torch.from_numpy(vertex_parts(rig))
    shown, pixels, width, height_px = auto_view(rig, eye, (0.0, middle, 0.0), 30.0, also=parts == PART["hand"])
    torso = shown & (parts == PART["torso"])
    assert 0.2 < float(torso.float().sum() / (parts == PART["torso"]).sum()) < 0.99  # cut inside the torso
    assert (width, height_px) in ((1080, 1080), (1080, 1350))
    face = pixels[head]
    assert face[:, 1].min() > 0 and face[:, 0].min() > 0 and face[:, 0].max() < width  # the whole head inside
    assert (face[:, 1].max() - face[:, 1].min()) / height_px >= 0.22
    waist = float(pixels[torso, 1].max())
    assert 0.8 * height_px < waist < height_px  # down to where the photo cut the body, not to the hands' level


def test_knee_cut_track_with_wide_gestures_shows_no_shins(rig):
    """A photo cut at the knees (camera.png), the clip's arms a little out from the body (the box 1.6 times as tall
    as wide, as camera.png's 0.75 x 1.23 m: a 9:16 frame is governed by its width and shows the legs below the knees,
    which the photo never saw): the frame ends within the margin below the knees, the head and the hands inside."""
    from talkavatar.core.body.parts import PART, vertex_parts

    parts = torch.from_numpy(vertex_parts(rig))
    knee_y = float(rig.vertices[parts == PART["shin"], 1].max())
    top = float(rig.vertices[:, 1].max())
    middle, half = (top + knee_y) / 2, (top - knee_y) / 2 + 0.02
    eye = (0.0, middle, half / np.tan(np.radians(15.0)))
    spread = {f"{side}.down": np.full(12, 1.1) for side in ("left", "right")}  # arms a little out: box 1.6:1
    shown, pixels, width, height = auto_view(rig, eye, (0.0, middle, 0.0), 30.0, clip=spread)
    assert not bool(shown[parts == PART["foot"]].any())
    shins = pixels[parts == PART["shin"]]
    knees = float(shins[:, 1].min())  # the shins' top: the knees
    assert (height - knees) / height < 0.12  # margin only: FRAMING_MARGIN 1.15 leaves ~7 % each side
    head = pixels[head_mask(rig)]
    assert head[:, 1].min() > 0
    hands = pixels[parts == PART["hand"]]
    assert hands[:, 0].min() > 0 and hands[:, 0].max() < width


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


def test_legs_are_shown_only_below_the_hips():
    from talkavatar.core.body.parts import PART, hidden_parts

    points = np.zeros((33, 2))
    points[[11, 12]] = (80.0, 40.0), (120.0, 40.0)  # shoulders
    points[[23, 24]] = (85.0, 100.0), (115.0, 100.0)  # hips
    points[[25, 26]] = (85.0, 150.0), (115.0, 150.0)  # knees
    points[[27, 28]] = (85.0, 195.0), (115.0, 195.0)  # ankles
    visibility = np.ones(33)
    legs = [PART["thigh"], PART["shin"], PART["foot"]]
    assert hidden_parts(points, visibility, 200, 200) == []
    hidden_knees = visibility.copy()
    hidden_knees[[25, 26]] = 0.2  # knees hidden (behind a desk, a helmet)
    assert hidden_parts(points, hidden_knees, 200, 200) == legs
    belly = points.copy()
    belly[[25, 26]] = (90.0, 90.0), (110.0, 92.0)  # a waist-cropped body's "knees" on its belly, visibility 1
    assert hidden_parts(belly, visibility, 200, 200) == legs
    cut = points.copy()
    cut[[27, 28]] = (85.0, 260.0), (115.0, 255.0)  # ankles below the picture: thighs shown, shins and feet not
    assert hidden_parts(cut, visibility, 200, 200) == [PART["shin"], PART["foot"]]


def test_a_profile_is_filmed_from_the_side_the_photo_saw(rig):
    """A photo that saw the rest-pose head from 75 degrees to its left: the auto camera turns 30 degrees that way
    (to within FACE_TURN of the photo's view); one from 30 degrees to its right stays in front."""
    import math

    from talkavatar.render.framing import FACE_TURN, seen_side_yaw

    head = head_mask(rig)
    centre = rig.vertices[head].mean(0)
    still = torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)
    for yaw, expected in ((75.0, 75.0 - FACE_TURN), (-30.0, 0.0)):
        a = math.radians(yaw)
        eye = centre + 1.5 * torch.tensor([math.sin(a), 0.0, math.cos(a)])
        photo = Cameras.look_at(eye, centre, width=512, height=512, fov_y_degrees=30.0)
        assert seen_side_yaw(rig, tracked_pose(rig, *still), photo) == pytest.approx(expected, abs=3.0)
