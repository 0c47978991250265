"""Control accuracy: detections placed exactly where the motion asks give 0 error; a known pixel shift gives the
known % of body height; undetected parts are counted as missed, not as errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.eval.control import asked_landmarks, control_errors
from talkavatar.track.detect import empty_detection
from talkavatar.track.fit_frames import seen_landmarks
from talkavatar.core.body.landmark_groups import GroupedLandmarks

pytest.importorskip("anny")


def _detections(rig, asked, shift, size, with_left_hand=True):
    grouped = GroupedLandmarks(rig.landmarks)
    width, height = size
    out = []
    for t in range(asked["body"].shape[0]):
        det = empty_detection(height, width)
        det.body[grouped.mediapipe_index("body"), :2] = asked["body"][t] + shift
        det.body_visibility[grouped.mediapipe_index("body")] = 1.0
        det.face[grouped.mediapipe_index("face"), :2] = asked["face"][t] + shift
        det.right_hand[:, :2] = asked["right_hand"][t] + shift
        det.face_present = det.right_hand_present = True
        if with_left_hand:
            det.left_hand[:, :2] = asked["left_hand"][t] + shift
            det.left_hand_present = True
        out.append(det)
    return out


def _seen(rig, asked, shift, size, with_left_hand=True):
    """What the track stage reads from those detections ({part: (points, weights)}, found)."""
    return seen_landmarks(_detections(rig, asked, shift, size, with_left_hand), GroupedLandmarks(rig.landmarks), size)


def test_control_error_is_zero_on_target_and_known_under_a_shift():
    from tests.eval_fixtures import anny_rig, track_camera, waving_motion

    rig = anny_rig()
    motion = waving_motion(2, 10.0)
    width, height = 240, 320
    w2c, K = track_camera(width, height)
    cameras = Cameras(torch.from_numpy(w2c)[None].expand(2, 4, 4).contiguous(),
                      torch.from_numpy(K)[None].expand(2, 3, 3).contiguous(), width, height)
    asked, body_height = asked_landmarks(rig, torch.from_numpy(motion.joint_rotations),
                                         torch.from_numpy(motion.root_translation),
                                         torch.from_numpy(motion.arkit_weights), cameras)
    assert 150 < body_height[0] < 300  # 1.6 m at 2.6 m through a 50 degree lens on 320 px
    exact = control_errors(asked, body_height, *_seen(rig, asked, 0.0, (width, height)))
    for part, value in exact.mean().items():
        assert value == pytest.approx(0.0, abs=1e-3), part
    shift = np.array([3.0, 4.0])                        # 5 px
    moved = control_errors(asked, body_height, *_seen(rig, asked, shift, (width, height), False))
    means = moved.mean()
    expected = 100 * 5.0 / body_height
    for part in ("face", "right_hand"):
        np.testing.assert_allclose(moved.per_frame[part], expected, rtol=1e-4)
    assert means["left_hand"] is None and moved.missed["left_hand"] == 2 and moved.missed["face"] == 0
    # body points pushed outside the image do not count; the rest carry the same 5 px
    assert means["body"] == pytest.approx(expected.mean(), rel=1e-3)
