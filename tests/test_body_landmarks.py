"""Landmark maps onto MediaPipe's points: completeness, sides, plausible anatomy, following the pose."""

import math

import pytest
import torch

from talkavatar.core.body.landmarks import FACE_POINTS, HAND_NAMES, POSE_NAMES, LandmarkMap, load_landmark_document
from talkavatar.motion.names import JOINT_INDEX

pytest.importorskip("anny")


@pytest.fixture(scope="module")
def rig():
    from talkavatar.core.body.anny import anny_body

    return anny_body().bake_rig()


@pytest.fixture(scope="module")
def points(rig):
    posed = rig.pose(torch.zeros(1, 55, 3))
    lm = rig.landmarks
    return {name: p for name, p in zip(lm.names, lm(posed.vertices, posed.joints)[0])}


def test_every_mediapipe_point_is_mapped_once(rig):
    lm = rig.landmarks
    assert lm.select("pose").numel() == 33
    assert lm.indices[lm.select("pose")].tolist() == list(range(33))
    for side in ("left_hand", "right_hand"):
        assert lm.indices[lm.select(side)].tolist() == list(range(21))
    face = lm.indices[lm.select("face")].tolist()
    assert len(face) == len(set(face)) >= 60 and sorted(face) == sorted(FACE_POINTS.values())
    total = lm.vertex_weights.sum(1) + lm.joint_weights.sum(1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)
    assert (lm.vertex_indices < rig.vertices.shape[0]).all()


def test_document_records_a_derivation_per_point():
    doc = load_landmark_document("anny")
    assert all(p["derivation"] for p in doc["landmarks"])
    assert len(doc["landmarks"]) == 33 + 2 * 21 + len(FACE_POINTS)
    with pytest.raises(KeyError):
        load_landmark_document("no-such-model")


def test_sides_are_the_persons(points):
    for name in [n for n in POSE_NAMES if n.startswith("left")] + [f"left_{n}" for n in HAND_NAMES] + \
            [n for n in FACE_POINTS if n.startswith("left")]:
        mirror = "right" + name[4:]
        assert points[name][0] > 0.005 > -0.005 > points[mirror][0], name
    assert points["mouth_left"][0] > 0 > points["mouth_right"][0]


def test_face_anatomy(points):
    face = torch.stack([points[n] for n in FACE_POINTS])
    nose = max(points["nose_tip"][2], points["nose_above_tip"][2])
    assert nose == face[:, 2].max()  # MediaPipe's points 1 and 4 are the most forward
    assert points["jaw_10"][1] == min(points[f"jaw_{k}"][1] for k in range(21))  # the chin is the lowest
    eye_y = (points["left_eye_upper"][1] + points["right_eye_upper"][1]) / 2
    assert points["left_brow_2"][1] > eye_y > points["nose_tip"][1] > points["lip_outer_5"][1] > points["jaw_10"][1]
    for side in ("left", "right"):
        assert points[f"{side}_eye_upper"][1] > points[f"{side}_eye_lower"][1]
        width = (points[f"{side}_eye_outer"] - points[f"{side}_eye_inner"]).norm()
        assert 0.02 < width < 0.04  # an eye is ~3 cm wide
        assert abs(points[f"{side}_eye_outer"][0]) > abs(points[f"{side}_eye_inner"][0])
        # The pose eye is the middle of the eye's opening (the iris at rest), where eyes are marked; Anny's COCO
        # eye sat 3 mm above it, by the upper lid, and its fit projected up to 1.7 % of the height above marked eyes.
        upper, lower = points[f"{side}_eye_upper"][1], points[f"{side}_eye_lower"][1]
        assert abs(points[f"{side}_eye"][1] - (upper + lower) / 2) < 0.25 * (upper - lower)
    mouth = (points["lip_outer_10"] - points["lip_outer_0"]).norm()
    assert 0.035 < mouth < 0.07
    # The outer lip contour encloses the inner one vertically.
    assert points["lip_outer_5"][1] > points["lip_inner_5"][1] > points["lip_inner_15"][1] > points["lip_outer_15"][1]


def test_body_and_hands(points, rig):
    c = rig.pose(torch.zeros(1, 55, 3)).canonical_joints[0]
    for side in ("left", "right"):
        for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            assert (points[f"{side}_{joint}"] - c[JOINT_INDEX[f"{side}_{joint}"]]).norm() < 0.08, (side, joint)
        sign = 1 if side == "left" else -1
        for finger in ("index", "middle", "ring", "pinky", "thumb"):
            tip = points[f"{side}_{finger}_tip"]
            base = points[f"{side}_{finger}_{'ip' if finger == 'thumb' else 'dip'}"]
            assert 0.01 < (tip - base).norm() < 0.04, (side, finger)
            if finger != "thumb":  # T-pose: fingers point along +-X
                assert sign * (tip - base)[0] > 0.01, (side, finger)
        assert points[f"{side}_heel"][2] < points[f"{side}_ankle"][2] < points[f"{side}_foot_index"][2]
        assert points[f"{side}_heel"][1] < points[f"{side}_ankle"][1]


def test_landmarks_follow_pose_and_expression(rig):
    lm = rig.landmarks
    theta = torch.zeros(1, 55, 3)
    theta[0, JOINT_INDEX["head"]] = torch.tensor([0.0, math.pi / 4, 0.0])
    still, turned = rig.pose(torch.zeros(1, 55, 3)), rig.pose(theta)
    a, b = lm(still.vertices, still.joints)[0], lm(turned.vertices, turned.joints)[0]
    i, j = lm.names.index("left_eye_outer"), lm.names.index("right_eye_outer")
    assert abs((a[i] - a[j]).norm() - (b[i] - b[j]).norm()) < 1e-3  # rigid with the head
    assert (b[i] - b[j])[2] < -0.02  # turned to the person's left: the left eye goes back
    from talkavatar.motion.names import ARKIT_INDEX

    w = torch.zeros(1, 52)
    w[0, ARKIT_INDEX["jawOpen"]] = 1.0
    opened = rig.pose(torch.zeros(1, 55, 3), arkit_weights=w)
    c = lm(opened.vertices, opened.joints)[0]
    up, low = lm.names.index("lip_inner_5"), lm.names.index("lip_inner_15")
    assert (c[up] - c[low]).norm() > (a[up] - a[low]).norm() + 0.01


def test_landmark_map_gradients():
    doc = {"model": "toy", "landmarks": [
        {"set": "pose", "index": 0, "name": "a", "vertices": [[0, 0.25], [2, 0.75]], "joints": []},
        {"set": "pose", "index": 1, "name": "b", "vertices": [], "joints": [["j1", 1.0]]}]}
    lm = LandmarkMap.from_json(doc, ("j0", "j1"))
    v = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    j = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    out = lm(v, j)
    assert torch.allclose(out[:, 0], 0.25 * v[:, 0] + 0.75 * v[:, 2]) and torch.equal(out[:, 1], j[:, 1])
    assert torch.autograd.gradcheck(lambda v, j: lm(v, j), (v, j))
