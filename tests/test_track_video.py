"""Tracking a clip frame by frame (track/video_fit.py): a synthetic clip of the posed model (no detector), its poses
recovered frame by frame; an occluded face keeps the last good expression, an unseen hand its last pose; no jump.

The clip: Anny turning her head and raising her left arm over 8 frames, a mouth opening from frame 2; its landmarks
projected through the default camera are the detections. Frames 5 and 6 lose the face (a hand over it) and the
left hand's points. Tolerances: landmark reprojection of the seen points below 1 % of the image height on every
frame (measured ~0.3 %), the largest frame-to-frame move of the fitted landmarks within 1.5 x the true one + 0.5 %.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX
from talkavatar.track.camera import default_focal, intrinsics, project
from talkavatar.track.fit_frames import steady_edge_points
from talkavatar.track.fitting import FitTargets, FitWeights, ModelConsts, fit, initial_state, pose_batch, \
    with_refitted_expression
from talkavatar.track.losses import temporal_loss
from talkavatar.track.shape_space import linearise
from talkavatar.track.video_fit import face_occluded, smooth_poses, track_frames, warm_steps


def test_temporal_loss_is_zero_at_the_start_and_grows_with_the_move():
    rot, trans = torch.rand(2, 55, 3), torch.rand(2, 3)
    assert temporal_loss(rot, rot, trans, trans, 0.05) == 0
    moved = temporal_loss(rot + 0.1, rot, trans, trans, 0.05)
    assert torch.isclose(moved, torch.tensor(55 * 3 * 0.01))
    assert torch.isclose(temporal_loss(rot, rot, trans + torch.tensor([0.05, 0, 0]), trans, 0.05), torch.tensor(1.0))


def test_smooth_poses_keeps_a_constant_and_damps_a_spike():
    rot = torch.zeros(9, 55, 3)
    rot[4, 3, 0] = 1.0
    trans = torch.ones(9, 3)
    out_rot, out_trans = smooth_poses(rot, trans, 30.0)
    assert torch.allclose(out_trans, trans)
    assert 0.2 < float(out_rot[4, 3, 0]) < 0.9 and float(out_rot[3, 3, 0]) > 0  # spread to the neighbours


def test_warm_steps_are_a_fraction_of_the_key_frame_steps():
    assert warm_steps(240) == 12 and warm_steps(40) == 12 and warm_steps(1000) == 50


def test_flickering_points_at_the_bottom_edge_are_dropped_and_steady_ones_kept():
    """A close-up clip's shoulders at the bottom edge: one seen in every frame (in view) keeps its weights, one seen
    in fewer than half the frames (MediaPipe's guesses) loses them; a flickering point higher up keeps its own."""
    frames, size = 12, (640, 360)
    points = torch.zeros(frames, 3, 2)
    points[:, 0, 1], points[:, 1, 1], points[:, 2, 1] = 350.0, 355.0, 200.0  # two at the edge, one mid-frame
    weights = torch.ones(frames, 3)
    weights[::2, 1] = 0.0  # the second point is seen in half the frames less one: it flickers
    weights[1, 1] = 0.0
    weights[1:9, 2] = 0.0  # the third too, away from the edge
    targets = FitTargets({"body": points}, {"body": weights}, None, torch.ones(frames), torch.eye(3), size)
    out = steady_edge_points(targets).weights["body"]
    assert torch.equal(out[:, 0], weights[:, 0]) and torch.equal(out[:, 2], weights[:, 2])
    assert float(out[:, 1].sum()) == 0.0
    assert torch.equal(targets.weights["body"], weights)  # the caller's targets are left as they were


pytest.importorskip("anny")


@pytest.fixture(scope="module")
def body():
    from talkavatar.core.body.anny import anny_body

    return anny_body()


def _clip(count: int = 8):
    """Known rotations [T, 55, 3], translations [T, 3], ARKit weights [T, 52] of a short smooth motion."""
    s = torch.linspace(0, 1, count)
    rot = torch.zeros(count, 55, 3)
    rot[:, JOINT_INDEX["head"], 1] = 0.3 * s
    rot[:, JOINT_INDEX["left_shoulder"], 2] = -1.1 + 0.5 * s
    rot[:, JOINT_INDEX["right_shoulder"], 2] = 1.1
    rot[:, JOINT_INDEX["left_elbow"], 1] = -0.6 * s
    translation = torch.tensor([0.02, -0.25, -2.6]).repeat(count, 1)
    translation[:, 0] += 0.05 * s
    arkit = torch.zeros(count, 52)
    arkit[2:, ARKIT_INDEX["jawOpen"]] = 0.4
    return rot, translation, arkit


def test_a_clip_is_tracked_frame_by_frame_and_occlusions_keep_the_last_estimate(body):
    from talkavatar.core.body.landmark_groups import GroupedLandmarks

    landmarks = GroupedLandmarks(body.landmarks)
    space = linearise(body, body.default_shape.clone(), [])  # shape held: re-tracking a known person
    consts = ModelConsts.of(body)
    rot, translation, arkit = _clip()
    width, height = 360, 480
    K = torch.tensor(intrinsics(width, height, default_focal(width, height)))
    with torch.no_grad():
        truth = {g: project(p, K) for g, p in landmarks(pose_batch(consts, space, torch.zeros(0), rot, translation,
                                                                   arkit)).items()}
    weights = {g: torch.ones(p.shape[:2]) for g, p in truth.items()}
    for frame in (5, 6):  # a hand over the face; the left hand out of view
        weights["face"][frame] = 0.0
        weights["left_hand"][frame] = 0.0
    count = rot.shape[0]
    targets = FitTargets(truth, weights, None, torch.full((count,), float(height)), K, (width, height),
                         torch.tensor(np.isin(landmarks.mediapipe_index("body"), [0, 2, 5, 7, 8, 11, 12, 23, 24]),
                                      dtype=torch.float32))
    assert face_occluded(targets).tolist() == [False] * 5 + [True, True, False]
    initial = initial_state(consts, space, landmarks, targets, [("body", 11, 12)])
    hand = [JOINT_INDEX[n] for n in ("left_index1", "left_thumb1")]

    def fit_frame(frame_targets, state, steps, frame_weights, key):
        return fit(consts, space, landmarks, frame_targets, state, steps, frame_weights, torch.ones(0),
                   fit_shape=False, warm=not key, refit=key)

    def refit(frame_targets, state):
        return with_refitted_expression(consts, space, landmarks, frame_targets, state)

    result = track_frames(fit_frame, refit, targets, np.ones(count, bool), initial, 160, FitWeights(mask=0.0))
    with torch.no_grad():
        fitted = {g: project(p, K) for g, p in landmarks(pose_batch(
            consts, space, result.shape_delta, result.joint_rotations, result.root_translation,
            result.arkit_weights)).items()}
    for t in range(count):
        errors = torch.cat([(fitted[g][t] - truth[g][t]).norm(dim=-1)[weights[g][t] > 0] for g in truth])
        assert errors.mean() / height < 0.01, (t, float(errors.mean() / height))
    assert torch.equal(result.arkit_weights[5], result.arkit_weights[4])  # the last good face
    assert torch.equal(result.arkit_weights[6], result.arkit_weights[4])
    assert float(result.arkit_weights[4, ARKIT_INDEX["jawOpen"]]) > 0.2
    assert (result.joint_rotations[5, hand] - result.joint_rotations[4, hand]).abs().max() < 0.05  # hand held

    def jumps(points):
        return torch.stack([torch.cat([(points[g][t] - points[g][t - 1]).norm(dim=-1) for g in ("body", "face")])
                            .mean() for t in range(1, count)]) / height
    assert float(jumps(fitted).max()) <= 1.5 * float(jumps(truth).max()) + 0.005
