"""Fitting recovers a known pose from the landmarks of a posed model (no detector involved).

We pose Anny with known arm, head and spine rotations, project its landmarks through the default camera, fit from
the usual initial state, and compare. Tolerances: the upper body's canonical joints (neck, head, shoulders, elbows,
wrists, finger bases: most are not landmarks themselves) within 4 % of the image height of their true image
positions (measured: <= 1 % except the left elbow joint at ~3 %, where upper-arm twist moves the surface landmark
around the bone; a limb bent towards the camera looks like one bent away, so 3D depth is not compared), global
orientation within 0.15 rad, landmark reprojection below 0.5 % of the image height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from talkavatar.motion.names import JOINT_INDEX
from talkavatar.track.camera import default_focal, intrinsics, project
from talkavatar.track.fitting import FitTargets, FitWeights, ModelConsts, fit, initial_state, pose_batch
from talkavatar.track.shape_space import TRUST_RADIUS, linearise

pytest.importorskip("anny")


@pytest.fixture(scope="module")
def body():
    from talkavatar.core.body.anny import anny_body

    return anny_body()


TORSO = [0, 2, 5, 7, 8, 11, 12, 23, 24]
HEIGHT = 640


@dataclass
class KnownPoseFit:
    """What :func:`_known_pose_fit` gives: true and fitted landmarks {group: [1, K, 2]} px, true and fitted canonical
    joints [1, 55, 3], the FitState, the landmark map and K [3, 3]."""

    points: dict
    fitted: dict
    joints: torch.Tensor
    fitted_joints: torch.Tensor
    result: object
    landmarks: object
    K: torch.Tensor


def _known_pose_fit(body, truth: torch.Tensor, drop: dict[str, list[int]] | None = None,
                    turn: torch.Tensor | None = None, move=None, steps: int = 200, closeup: bool = False,
                    shape: torch.Tensor | None = None, length_sigma: float | None = None) -> KnownPoseFit:
    """Anny posed at ``truth`` [1, 55, 3] in a 480 x 640 picture and fitted from the usual initial state (``turn``:
    FitTargets.turn) to its own projected landmarks, without the MediaPipe points ``drop`` names per group and with
    ``move(points, landmarks)`` ({group: [1, K, 2]}) in place of the true points of its groups; ``closeup``: 0.9 m
    from the camera, fitted as a close-up with its focal length free. ``shape`` [S]: the true body shape (posed by
    the real model), fitted in track's own shape space and prior (:func:`fitted_shape_space`; the segment lengths'
    prior std-dev ``length_sigma`` where given); else the default shape, fitted in its 6 phenotypes held near it."""
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.track.fit_frames import fitted_shape_space

    landmarks = GroupedLandmarks(body.landmarks)
    if shape is None:
        space, sigma = linearise(body, body.default_shape.clone(), [0, 1, 2, 3, 4, 5]), torch.full((6,), 0.05)
    else:
        space, sigma = fitted_shape_space(body, None, "cpu")
        if length_sigma is not None:
            sigma[space.radius > TRUST_RADIUS] = length_sigma  # the kinked entries: the segment lengths
    consts = ModelConsts.of(body)
    width = 480
    K = torch.tensor(intrinsics(width, HEIGHT, default_focal(width, HEIGHT)))
    with torch.no_grad():
        place = torch.tensor([[0.05, -0.45, -0.9]] if closeup else [[0.05, -0.2, -2.6]])
        posed = pose_batch(consts, space, torch.zeros(6), truth, place, torch.zeros(1, 52)) if shape is None \
            else body(shape[None], truth, place, torch.zeros(1, 52))
        points = {g: project(p, K) for g, p in landmarks(posed).items()}
    weights = {g: torch.tensor(~np.isin(landmarks.mediapipe_index(g), (drop or {}).get(g, [])),
                               dtype=torch.float32)[None] for g in points}
    targets = FitTargets({**points, **(move(points, landmarks) if move else {})}, weights, None,
                         torch.tensor([float(HEIGHT)]), K, (width, HEIGHT),
                         torch.tensor(np.isin(landmarks.mediapipe_index("body"), TORSO), dtype=torch.float32), turn)
    state = initial_state(consts, space, landmarks, targets, [("body", 11, 12)])
    result = fit(consts, space, landmarks, targets, state, steps=steps, weights=FitWeights(mask=0.0),
                 shape_sigma=sigma, seed=0, closeup=closeup, free_focal=closeup)
    with torch.no_grad():
        fitted = pose_batch(consts, space, result.shape_delta, result.joint_rotations, result.root_translation,
                            result.arkit_weights)
        return KnownPoseFit(points, {g: project(p, K) for g, p in landmarks(fitted).items()}, posed.canonical_joints,
                            fitted.canonical_joints, result, landmarks, K)


def test_fit_recovers_a_known_pose(body):
    torch.manual_seed(0)
    truth = torch.zeros(1, 55, 3)
    truth[0, 0] = torch.tensor([0.05, 0.25, 0.0])                       # turned a little
    truth[0, JOINT_INDEX["left_shoulder"]] = torch.tensor([0.0, -0.3, -1.1])
    truth[0, JOINT_INDEX["right_shoulder"]] = torch.tensor([0.0, 0.2, 0.9])
    truth[0, JOINT_INDEX["left_elbow"]] = torch.tensor([0.0, -1.2, 0.0])
    truth[0, JOINT_INDEX["right_elbow"]] = torch.tensor([0.0, 0.6, 0.0])
    truth[0, JOINT_INDEX["head"]] = torch.tensor([0.15, 0.2, 0.0])
    truth[0, JOINT_INDEX["spine2"]] = torch.tensor([0.1, 0.0, 0.05])
    run = _known_pose_fit(body, truth, steps=300)
    points, fitted, result, K, height = run.points, run.fitted, run.result, run.K, HEIGHT
    joints, fjoints = run.joints, run.fitted_joints
    reprojection = torch.cat([(fitted[g] - points[g]).norm(dim=-1).flatten() for g in points]).mean() / height
    assert reprojection < 0.005
    upper = [JOINT_INDEX[n] for n in ("neck", "head", "left_shoulder", "right_shoulder", "left_elbow",
                                      "right_elbow", "left_wrist", "right_wrist", "left_index1", "right_index1")]
    # joints the landmarks do not touch directly (elbows, neck, finger bases) land where they were, in the image
    err = (project(fjoints[0, upper], K) - project(joints[0, upper], K)).norm(dim=-1) / height
    assert err.max() < 0.04, err
    from talkavatar.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle

    relative = axis_angle_to_matrix(truth[0, 0]).T @ axis_angle_to_matrix(result.joint_rotations[0, 0])
    assert matrix_to_axis_angle(relative).norm() < 0.15


def test_fit_with_silhouette_is_deterministic(body):
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.silhouette import downsample_mask, hard_silhouette

    landmarks = GroupedLandmarks(body.landmarks)
    space = linearise(body, body.default_shape.clone(), [0, 1, 2, 3, 4, 5])
    consts = ModelConsts.of(body)
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["left_shoulder"], 2] = -1.2
    truth[0, JOINT_INDEX["right_shoulder"], 2] = 1.2
    width, height = 240, 320
    K = torch.tensor(intrinsics(width, height, default_focal(width, height)))
    with torch.no_grad():
        posed = pose_batch(consts, space, torch.zeros(6), truth, torch.tensor([[0.0, -0.3, -2.8]]), torch.zeros(1, 52))
        points = {g: project(p, K) for g, p in landmarks(posed).items()}
        mask = hard_silhouette(project(posed.vertices[0], K).numpy(), body.faces.numpy(), width, height)
    grid = torch.tensor(downsample_mask(mask.astype(np.float32), (96, 128)))[None]
    targets = FitTargets(points, {g: torch.ones(p.shape[:2]) for g, p in points.items()}, grid,
                         torch.tensor([float(height)]), K, (width, height))
    runs = []
    for _ in range(2):
        state = initial_state(consts, space, landmarks, targets, [("body", 11, 12)])
        runs.append(fit(consts, space, landmarks, targets, state, steps=24, seed=3))
    assert torch.equal(runs[0].joint_rotations, runs[1].joint_rotations)
    assert torch.equal(runs[0].shape_delta, runs[1].shape_delta)
    assert not torch.are_deterministic_algorithms_enabled()  # the global setting is restored


def test_a_face_in_profile_started_turned_is_fitted_in_profile(body):
    """A head turned 80 degrees to the person's right, seen through the body's near-side head points alone (no Face
    Mesh, the far eye, ear and mouth corner rejected: what gating leaves of soldier_bw): started turned
    (``FitTargets.turn`` -1, and held there) the fit ends within 0.25 rad of the turn and the nose within 0.3 % of
    the height (measured 0.10 rad, 0.09 %; started facing the camera and free: 0.31 rad, 0.47 %)."""
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["neck"], 1], truth[0, JOINT_INDEX["head"], 1] = -0.6, -0.8
    every_face_point = list(range(478))
    run = _known_pose_fit(body, truth, {"body": [4, 5, 6, 8, 10], "face": every_face_point}, turn=torch.tensor([-1.0]))
    yaw = run.result.joint_rotations[0, JOINT_INDEX["neck"], 1] + run.result.joint_rotations[0, JOINT_INDEX["head"], 1]
    assert abs(float(yaw) + 1.4) < 0.25
    nose = run.landmarks.row("body", 0)
    assert (run.fitted["body"][0, nose] - run.points["body"][0, nose]).norm() / HEIGHT < 0.003


def test_a_hand_whose_fingers_the_model_cannot_follow_leaves_its_wrist_in_place(body):
    """The detected left hand's 20 finger points 40 px (6 % of the height) above where the model's fingers can be (a
    hand bent back past its limit) and its wrist point true: the fitted wrist stays within 1.5 % of the height of
    the true one (with the finger points absolute rather than from the wrist, 2.57 %). Measured at 200 / 240 / 300
    steps: 1.14 / 1.44 / 1.67 % with the ears at the concha (main before ear20), 1.35 / 1.44 / 1.55 % with the ears
    at the tragus: the bent fingers drag the wrist slowly with the steps, whichever ear the head is placed by (the
    bound was 1.2 %, passed at this test's 200 steps only)."""
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["left_shoulder"]] = torch.tensor([0.0, -0.3, -0.4])
    truth[0, JOINT_INDEX["left_elbow"]] = torch.tensor([0.0, -1.5, 0.0])

    def bent_back(points, landmarks):
        fingers = (torch.arange(21) != landmarks.row("left_hand", 0)).float()[None, :, None]
        return {"left_hand": points["left_hand"] + torch.tensor([0.0, -40.0]) * fingers}

    run = _known_pose_fit(body, truth, move=bent_back)
    wrist = run.landmarks.row("body", 15)
    assert (run.fitted["body"][0, wrist] - run.points["body"][0, wrist]).norm() / HEIGHT < 0.015


def test_a_close_up_raised_arm_arrives(body):
    """A head-and-shoulders close-up (0.9 m away, fitted as track fits one: focal length free, the body's own head
    points out) with the right arm raised forwards and bent up: the arm, not slowed with the torso, reaches its
    elbow and wrist (slowed with it, the elbow stopped 3.1 % of the picture's height short: hand_on_head)."""
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["right_shoulder"]] = torch.tensor([0.6, 0.0, -0.6])
    truth[0, JOINT_INDEX["right_elbow"]] = torch.tensor([0.0, 2.0, 0.0])
    truth[0, JOINT_INDEX["left_shoulder"], 2] = -1.2
    run = _known_pose_fit(body, truth, drop={"body": list(range(11))}, closeup=True, steps=240)
    arm = [run.landmarks.row("body", i) for i in (14, 16)]
    err = (run.fitted["body"][0, arm] - run.points["body"][0, arm]).norm(dim=-1) / HEIGHT
    assert err.max() < 0.02, err


def test_a_longer_forearm_is_recovered_and_baked(body):
    """Anny with forearms 14 % longer and shins 7 % shorter (her local changes measure-lowerarm-length +0.5 and
    measure-lowerleg-height -0.5: shape entries track fits, kinked at 0), arms straight and lowered in the
    picture's plane, fitted from her own landmarks as track fits a photo but with a loose prior on the segment
    lengths (std-dev 10): the fitted forearm comes out within 3 % of the truth (the default one is 12 % short), and
    the rig baked from the fitted shape has the fitted skeleton (the one the fit posed), within the phenotypes'
    linearisation. The shin is not asserted: measured 0.387 m fitted, 0.373 true, 0.402 default, with the thigh
    3.6 % too long (hip and knee points fix the leg's sum better than its parts). Under track's own prior (std-dev 1)
    the forearm barely moves on clean points (+0.05 of +0.5: the prior outweighs a mean landmark loss; it moves on
    real photos' larger residuals: benchmarks/RESULTS.md, fourteenth session, helper track12)."""
    from talkavatar.track.fit_frames import fitted_shape_space

    names = list(body.shape_names)
    shape = body.default_shape.clone()
    shape[names.index("measure-lowerarm-length-incr")] = 0.5
    shape[names.index("measure-lowerleg-height-incr")] = -0.5
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["left_shoulder"], 2] = -1.0
    truth[0, JOINT_INDEX["right_shoulder"], 2] = 1.0
    run = _known_pose_fit(body, truth, steps=300, shape=shape, length_sigma=10.0)
    space, _ = fitted_shape_space(body, None, "cpu")
    bone = {n: i for i, n in enumerate(body.bone_names)}

    def forearm(joints):
        return float((joints[bone["wrist.L"]] - joints[bone["lowerarm01.L"]]).norm())

    true, fitted = forearm(body.rest(shape[None])[1][0]), forearm(space.rest(run.result.shape_delta)[1])
    default = forearm(body.rest(body.default_shape[None])[1][0])
    assert default / true < 0.9
    assert abs(fitted / true - 1) < 0.03, (fitted, true, default)
    rig = body.bake_rig(space.full_shape(run.result.shape_delta))
    assert (rig.joints - space.rest(run.result.shape_delta)[1]).norm(dim=-1).max() < 0.005  # metres
