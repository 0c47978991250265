"""A profile's nose tip read off the person mask: Anny turned 80 degrees, seen through her own silhouette."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.motion.names import JOINT_INDEX
from talkavatar.track.camera import default_focal, intrinsics, project
from talkavatar.track.gating import HEIGHT_RATIOS
from talkavatar.track.profile_outline import profile_nose

pytest.importorskip("anny")

WIDTH, HEIGHT = 960, 1280


@pytest.fixture(scope="module")
def profile():
    """(mask [H, W], her near (left) ear [2], her nose (the body's nose point: Face Mesh 4, on the tip's upper half)
    [2], the face length px: gating's share of her height in the picture): Anny whole in a 960 x 1280 picture, 2.4 m
    from the camera, her head turned 80 degrees to her right (soldier_bw's turn)."""
    from talkavatar.core.body.anny import anny_body
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.silhouette import hard_silhouette

    rig = anny_body().bake_rig()
    pose = torch.zeros(1, 55, 3)
    pose[0, JOINT_INDEX["neck"], 1], pose[0, JOINT_INDEX["head"], 1] = -0.6, -0.8
    with torch.no_grad():
        posed = rig.pose(pose, torch.tensor([[0.0, 0.1, -2.4]]), torch.zeros(1, 52))
    K = torch.tensor(intrinsics(WIDTH, HEIGHT, default_focal(WIDTH, HEIGHT)))
    mask = hard_silhouette(project(posed.vertices[0], K).numpy(), rig.faces.numpy(), WIDTH, HEIGHT).astype(np.float32)
    grouped = GroupedLandmarks(rig.landmarks)
    points = {g: project(p[0], K).numpy() for g, p in grouped(posed).items()}
    rows = np.flatnonzero(mask.max(1) > 0.5)
    face_length = HEIGHT_RATIOS["face"] * (rows[-1] - rows[0])
    return mask, points["body"][grouped.row("body", 7)], points["body"][grouped.row("body", 0)], face_length


def test_the_nose_tip_is_the_outline_farthest_in_front_of_the_ear(profile):
    mask, ear, tip, face_length = profile
    assert tip[0] < ear[0]  # turned to her right: she faces towards x = 0
    found = profile_nose(mask, ear, -1, face_length)
    assert found is not None and np.linalg.norm(found - tip) < 0.03 * face_length  # measured 0.6 px of 107


def test_an_arm_in_front_of_the_face_is_not_read_as_a_nose(profile):
    mask, ear, tip, face_length = profile
    armed = mask.copy()
    mouth = int(tip[1] + 0.2 * face_length)
    armed[mouth - 3:mouth + 4, :int(ear[0])] = 1.0  # a forearm across the frame at the mouth, joined to the face
    assert np.linalg.norm(profile_nose(armed, ear, -1, face_length) - profile_nose(mask, ear, -1, face_length)) < 1
    cut = mask.copy()
    cut[:, :int(ear[0]) - 2] = 0.0  # a mask that stops at the ear: no nose to read
    assert profile_nose(cut, ear, -1, face_length) is None
