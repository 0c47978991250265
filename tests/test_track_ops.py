"""The track stage's small kernels: silhouettes, mask refinement, landmark loss, camera, joint bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkavatar.track.camera import default_focal, intrinsics, project
from talkavatar.track.limits import joint_bounds
from talkavatar.track.losses import gmof, joint_limit_loss, landmark_loss, smoothness_loss
from talkavatar.track.mask import guided_filter, mask_iou, refine_mask
from talkavatar.core.silhouette import (SilhouetteChamfer, hard_silhouette, nearest_points, soft_iou_loss,
                                        soft_silhouette, surface_samples, sample_points)
from talkavatar.motion.names import JOINT_INDEX


def _square():
    vertices = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    return vertices, faces


def test_hard_silhouette_fills_the_projected_square_without_even_odd_holes():
    px = np.array([[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 1, 2]])  # a duplicate triangle must not punch a hole
    sil = hard_silhouette(px, faces, 40, 40)
    assert sil.sum() == pytest.approx(400, abs=45) and sil[20, 20] and not sil[5, 5]


def test_surface_samples_are_uniform_and_on_the_surface():
    vertices, faces = _square()
    index, bary = surface_samples(vertices, faces, 4000, seed=1)
    points = sample_points(vertices, faces, index, bary)
    assert (bary >= 0).all() and torch.allclose(bary.sum(-1), torch.ones(4000))
    assert points[:, 2].abs().max() == 0 and points[:, :2].min() >= 0 and points[:, :2].max() <= 1
    assert abs(float((points[:, 0] < 0.5).float().mean()) - 0.5) < 0.05  # area-uniform


def test_soft_silhouette_matches_the_hard_one_and_has_gradients():
    vertices, faces = _square()
    index, bary = surface_samples(vertices, faces, 6000, seed=0)
    offset = torch.tensor([12.0, 12.0], requires_grad=True)
    px = sample_points(vertices, faces, index, bary)[:, :2] * 24 + offset  # a 24 px square at (12, 12)
    alpha = soft_silhouette(px, 48, 48, (48, 48), level=1.0)
    hard = torch.from_numpy(hard_silhouette(np.array([[12, 12], [36, 12], [36, 36], [12, 36]], float),
                                            faces.numpy(), 48, 48)).float()
    assert soft_iou_loss(alpha, hard) < 0.15
    target = torch.roll(hard, shifts=4, dims=1)  # the person is 4 px to the right
    soft_iou_loss(soft_silhouette(px, 48, 48, (48, 48), 1.0), target).backward()
    assert offset.grad[0] < 0  # moving right lowers the loss
    assert torch.isfinite(offset.grad).all()


def test_silhouette_chamfer_is_zero_on_the_mask_and_pulls_a_shrunk_or_grown_square_back():
    vertices, faces = _square()
    index, bary = surface_samples(vertices, faces, 6000, seed=0)
    unit = sample_points(vertices, faces, index, bary)[:, :2]
    mask = torch.zeros(48, 48)
    mask[12:36, 12:36] = 1  # a 24 px square at (12, 12); its bottom edge runs on past the frame in the next case
    target = SilhouetteChamfer(mask)
    assert target.loss(unit * 24 + 12) < 0.5  # within the samples' spacing of the outline
    for side in (16.0, 32.0):  # too small, too large: both cost more and the gradient restores the size
        scale = torch.tensor(side, requires_grad=True)
        loss = target.loss(unit * scale + (48 - scale) / 2)
        assert loss > 1
        loss.backward()
        assert (scale.grad < 0) == (side < 24)
    cut = torch.zeros(48, 48)
    cut[24:, 12:36] = 1  # the person leaves the frame at the bottom: that edge is no outline
    points = unit * 24 + torch.tensor([12.0, 24.0])  # half of them below the frame: ignored
    assert SilhouetteChamfer(cut).loss(points) < 0.6


def test_nearest_points_k_d_tree_equals_distances_to_every_point():
    gen = torch.Generator().manual_seed(0)
    points = torch.rand(3000, 2, generator=gen, dtype=torch.float64) * 160
    queries = torch.rand(700, 2, generator=gen, dtype=torch.float64) * 160
    brute = ((queries[:, None] - points[None]) ** 2).sum(-1).argmin(-1)
    assert torch.equal(nearest_points(queries, points), brute)  # CPU: the k-d tree
    points[5] = float("nan")  # not for a k-d tree: the chunked distances answer
    assert torch.equal(nearest_points(queries, points, chunk=64), torch.cdist(queries, points).argmin(-1))


def test_guided_filter_keeps_constants_and_refine_mask_snaps_to_edges():
    rng = np.random.default_rng(0)
    guide = rng.random((40, 50, 3))
    out = guided_filter(guide, np.full((40, 50), 0.7), 3, 1e-3)
    assert np.allclose(out, 0.7, atol=1e-6)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, 32:] = 255                      # a sharp edge at x = 32
    blurry = np.clip((np.arange(64) - 22) / 20.0, 0, 1)[None].repeat(64, 0).astype(np.float32)
    refined = refine_mask(image, blurry, np.array([[50.0, 30.0]]))
    truth = np.zeros((64, 64), bool)
    truth[:, 32:] = True
    assert mask_iou(refined > 0.5, truth) > mask_iou(blurry > 0.5, truth)


def test_landmark_loss_is_robust_and_weighted():
    pred = torch.zeros(1, 3, 2)
    det = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [1000.0, 0.0]]])
    w = torch.tensor([[1.0, 1.0, 0.0]])
    assert landmark_loss(pred, det, w, 1.0, sigma=5.0) == pytest.approx(float(gmof(torch.tensor(1.0), 5.0)) / 2)
    w_out = torch.tensor([[0.0, 0.0, 1.0]])
    assert landmark_loss(pred, det, w_out, 1.0, sigma=5.0) < 25.0 + 1e-3  # an outlier costs at most sigma^2


def test_joint_bounds_allow_natural_bends_and_forbid_backward_knees():
    lower, upper = joint_bounds()
    pose = torch.zeros(55, 3)
    pose[JOINT_INDEX["left_knee"], 0] = 1.2    # knee flexed: fine
    pose[JOINT_INDEX["left_elbow"], 1] = -1.5  # left elbow flexed: fine
    pose[JOINT_INDEX["right_elbow"], 1] = 1.5
    assert joint_limit_loss(pose, lower, upper) == 0
    pose[JOINT_INDEX["right_knee"], 0] = -0.8  # bent backwards
    assert joint_limit_loss(pose, lower, upper) > 0


def test_smoothness_and_camera():
    line = torch.arange(5.0)[:, None].repeat(1, 3)
    assert smoothness_loss(line) == 0 and smoothness_loss(line ** 2) > 0
    K = torch.tensor(intrinsics(640, 480, default_focal(640, 480)))
    centre = project(torch.tensor([0.0, 0.0, -3.0]), K)
    assert torch.allclose(centre, torch.tensor([320.0, 240.0]))
    up = project(torch.tensor([0.0, 0.5, -3.0]), K)
    assert up[1] < 240  # world +Y is up, image y is down


def test_upright_near_plane_and_hold_losses():
    from talkavatar.track.losses import hold_loss, near_plane_loss, upright_loss

    tilt = torch.tensor([[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 1.2, 0.0]])  # upright, leaning 0.3 rad, turned
    per_frame = [float(upright_loss(tilt[i:i + 1], torch.ones(1))) for i in range(3)]
    assert per_frame[0] == pytest.approx(0) and per_frame[1] == pytest.approx(2 * (1 - np.cos(0.3)), rel=1e-5)
    assert per_frame[2] == pytest.approx(0, abs=1e-6)  # turning about the vertical axis is not a tilt
    assert float(upright_loss(tilt, torch.tensor([1.0, 0.0, 1.0]))) == pytest.approx(0, abs=1e-6)
    depth = torch.tensor([[0.5, 0.3, 2.0], [0.1, -0.2, 1.0]])
    assert float(near_plane_loss(depth[:1], 0.2)) == 0.0
    assert float(near_plane_loss(depth, 0.2)) == pytest.approx((0.5 ** 2 + 2.0 ** 2) / 2)
    r = torch.zeros(2, 3, 3)
    held = r.clone()
    held[1, 2] = torch.tensor([0.0, 0.0, 0.5])
    assert float(hold_loss(r, held, torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))) == pytest.approx(0.25 / 2)


def test_unseen_weights_hold_unseen_limbs_and_a_profile_and_flag_frames_without_hips():
    from talkavatar.track.fitting import FitTargets, unseen_weights

    class Map:  # MediaPipe index i at row i (the whole pose set)
        @staticmethod
        def row(group, index):
            return index if group == "body" else None

    body = torch.ones(2, 33)
    body[0, [13, 15, 23, 24]] = 0.0  # frame 0: left elbow and wrist, both hips unseen
    body[1, [26, 28, 30, 32]] = 0.0  # frame 1: the right leg below its hip (a photo cropped at the waist)
    weights = {"body": body, "left_hand": torch.zeros(2, 21), "right_hand": torch.zeros(2, 21)}
    targets = FitTargets({}, weights, None, torch.ones(2), torch.eye(3), (64, 64))
    no_hips, held = unseen_weights(Map(), targets)
    assert no_hips.tolist() == [1.0, 0.0]
    left = [JOINT_INDEX[n] for n in ("left_shoulder", "left_elbow", "left_wrist")]
    assert held[0, left].tolist() == [1.0] * 3 and held[0].sum() == 3
    right_leg = [JOINT_INDEX[n] for n in ("right_hip", "right_knee", "right_ankle", "right_foot")]
    assert held[1, right_leg].tolist() == [1.0] * 4 and held[1].sum() == 4
    weights["left_hand"][0, 0] = 1.0  # the hand is seen: the arm is free again
    body[1, 30] = 0.8  # one point of the leg (the heel) is seen: the leg is free again
    assert unseen_weights(Map(), targets)[1].sum() == 0
    targets.turn = torch.tensor([0.0, -1.0])  # frame 1: a face in profile: its neck and head are held
    held = unseen_weights(Map(), targets)[1]
    assert held[0].sum() == 0 and held[1, [JOINT_INDEX["neck"], JOINT_INDEX["head"]]].tolist() == [1.0, 1.0]
    assert held[1].sum() == 2


def test_placed_arms_and_limb_point_weights():
    from talkavatar.track.fitting import LIMB_POINTS, FitTargets, _point_weights, placed_arms

    class Map:  # MediaPipe index i at row i (the whole pose set)
        @staticmethod
        def row(group, index):
            return index if group == "body" else None

        @staticmethod
        def mediapipe_index(group):
            return np.arange(33)

    body = torch.ones(2, 33)
    body[0, 15] = 0.0  # frame 0: the left wrist unseen: that arm is left to the silhouette too
    body[1, [14, 16]] = 0.0  # frame 1: the right arm unseen
    targets = FitTargets({}, {"body": body}, None, torch.ones(2), torch.eye(3), (64, 64))
    placed = placed_arms(Map(), targets)
    left = [JOINT_INDEX[n] for n in ("left_shoulder", "left_elbow", "left_wrist")]
    right = [JOINT_INDEX[n] for n in ("right_shoulder", "right_elbow", "right_wrist")]
    assert placed[0, right].tolist() == [1.0] * 3 and placed[0].sum() == 3
    assert placed[1, left].tolist() == [1.0] * 3 and placed[1].sum() == 3
    w = _point_weights(Map(), targets, 2.0)
    assert w[list(LIMB_POINTS)].tolist() == [2.0] * 12 and w.sum() == 33 + 12
    assert _point_weights(object(), targets, 2.0).tolist() == [1.0] * 33  # rows it cannot name: unchanged


def _guided_filter_naive(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter written out: integral-image box means, a 3x3 LAPACK solve per pixel."""
    def box(x):
        pad = np.pad(x, [(radius + 1, radius)] * 2 + [(0, 0)] * (x.ndim - 2), mode="edge")
        c = pad.cumsum(0).cumsum(1)
        k = 2 * radius + 1
        return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)

    mean_I, mean_p = box(guide), box(src)
    cov = box(guide * src[..., None]) - mean_I * mean_p[..., None]
    var = box(guide[..., :, None] * guide[..., None, :]) - mean_I[..., :, None] * mean_I[..., None, :]
    a = np.linalg.solve(var + eps * np.eye(3), cov[..., None])[..., 0]
    b = mean_p - (a * mean_I).sum(-1)
    return (box(a) * guide).sum(-1) + box(b)


def test_guided_filter_equals_the_naive_reference():
    rng = np.random.default_rng(0)
    guide, src = rng.random((37, 53, 3)), (rng.random((37, 53)) > 0.5).astype(np.float64)
    for radius in (1, 4):
        assert np.abs(guided_filter(guide, src, radius, 1e-3) - _guided_filter_naive(guide, src, radius, 1e-3)).max() \
            < 1e-9
