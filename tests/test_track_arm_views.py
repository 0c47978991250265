"""Two wrists on one point, the arms seen again on more views (talkavatar.track.arm_views).

The geometry on the frontal stick figure of test_track_gating; the end-to-end check runs real MediaPipe on
scikit-image's cameraman, whose mirrored pass gives both gloved hands the tripod's head.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from talkavatar.track import arm_views
from talkavatar.track.detect import grown_box
from talkavatar.track.gating import body_height
from tests.test_track_gating import FIGURE, H, W, _figure

ARM = list(arm_views.ARM_POINTS)


def test_two_seen_wrists_on_one_point_in_a_pass_are_collapsed():
    det = _figure()
    height = body_height(det, (W, H))
    first = (det.body.copy(), det.body_visibility.copy())
    assert not arm_views.collapsed([first], height)  # wrists 136 px apart
    both = (det.body.copy(), det.body_visibility.copy())
    both[0][16, :2] = both[0][15, :2] + (0.04 * height, 0)
    assert arm_views.collapsed([first, both], height)
    both[1][16] = 0.3  # one of them unseen
    assert not arm_views.collapsed([first, both], height)


def test_the_arms_box_holds_the_arms_and_the_median_moves_arm_points_only():
    det = _figure()
    x0, y0, x1, y1 = grown_box(arm_views.arms_extent(det.body), arm_views.MARGIN, W, H)
    arms = det.body[[0, 11, 12, 13, 14, 15, 16], :2]
    assert (x0, y0, x1, y1) == (64, 32, 335, 392)  # x 132-268, y 100-325 grown by 0.3 x 225 px
    assert (arms[:, 0] > x0).all() and (arms[:, 0] < x1).all() and (arms[:, 1] < y1).all()
    views = []
    for dx in (-6.0, 0.0, 40.0):  # the third view's arms far off: the median ignores it
        body, vis = det.body.copy(), det.body_visibility.copy()
        body[ARM, 0] += dx
        body[:11] += 100.0  # the head differs too, and is not taken
        vis[ARM] = 0.5 + dx / 100
        views.append((body, vis))
    body, vis = arm_views.median_arms(det.body, det.body_visibility, views)
    assert np.allclose(body[ARM], det.body[ARM]) and np.allclose(vis[ARM], 0.5)
    rest = np.setdiff1d(np.arange(33), ARM)
    assert np.array_equal(body[rest], det.body[rest]) and np.array_equal(vis[rest], det.body_visibility[rest])
    assert FIGURE[15] == tuple(det.body[15, :2])  # the input untouched


def test_the_cameramans_far_wrist_leaves_the_tripod_head_for_his_fist():
    """The cameraman: the pass on the photo puts his near wrist on the tripod's head, the pass on its mirror image
    both (13 px apart). Seen again on the arms' crop, the far wrist leaves the tripod's head (by over 3 % of the
    height) for its fist on the camera (hand-marked at (292, 223), the median of three blind marks that spread over
    ~5 % of the height) and the two wrists part; both passes then hold the same arms."""
    from talkavatar.track.detect import HolisticDetector

    skimage_data = pytest.importorskip("skimage.data")
    camera = np.repeat(skimage_data.camera()[..., None], 3, axis=2)
    marks = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "track_photos.json")
                       .read_text())["photos"]["camera.png"]["points"]
    with HolisticDetector(1, check=True) as detector:
        det = detector.detect(camera)
    assert "arms seen again" in det.variant
    height = body_height(det, camera.shape[1::-1])
    assert not arm_views.collapsed([(det.body, det.body_visibility)], height)
    tripod_head = np.array([259.0, 219.0])  # where both passes put a wrist
    mark = np.array(marks["left_wrist"], np.float32)
    assert np.linalg.norm(det.body[15, :2] - tripod_head) > 0.03 * height
    assert np.linalg.norm(det.body[15, :2] - mark) < np.linalg.norm(tripod_head - mark)
    assert np.array_equal(det.check_body[arm_views.ARM_POINTS, :2], det.body[arm_views.ARM_POINTS, :2])
