"""The papers' protocol pieces of self-reenactment: hard-mask regions, matted scores, and the independent Face Mesh
expression measures (on a real photo and on synthetic point sets)."""

import math

import numpy as np
import pytest

from talkavatar.eval.expression import expression_fidelity, face_measures, face_mesh_points, measures
from talkavatar.eval.regions import FACE_OVAL, LIPS_OUTER, region_masks, region_scores


def _face_points(cx=50.0, cy=40.0, radius=20.0, mouth=(50.0, 52.0, 8.0, 3.0)) -> np.ndarray:
    """478 points: the face oval on a circle, the outer lips on an ellipse (centre x, y, half axes), the rest at the
    centre."""
    points = np.tile([cx, cy], (478, 1)).astype(np.float64)
    for k, i in enumerate(FACE_OVAL):
        a = 2 * math.pi * k / len(FACE_OVAL)
        points[i] = cx + radius * math.sin(a), cy - radius * math.cos(a)
    mx, my, ax, ay = mouth
    for k, i in enumerate(LIPS_OUTER):
        a = 2 * math.pi * k / len(LIPS_OUTER)
        points[i] = mx - ax * math.cos(a), my - ay * math.sin(a)
    return points


def _person(h=100, w=100) -> np.ndarray:
    mask = np.zeros((h, w), np.float32)
    mask[15:95, 20:80] = 1.0
    mask[10:15, 20:80] = 0.3  # a soft halo above the head
    return mask


def test_regions_are_hard_nested_and_disjoint():
    regions = region_masks(_person(), _face_points())
    person, face, mouth, body = (regions[k] for k in ("person", "face", "mouth", "body"))
    assert not person[10:15].any() and person[15:95, 20:80].all()           # the halo is not the person
    assert (face <= person).all() and not (face & body).any() and ((face | body) == person).all()
    assert abs(face.sum() - math.pi * 20 ** 2 * (75 / 80)) < 0.12 * face.sum()  # circle clipped at the mask's top
    assert abs(mouth.sum() - math.pi * 10 * 3.75) < 0.25 * mouth.sum()       # the lip ellipse grown by 25 %
    empty = region_masks(_person(), None)
    assert not empty["face"].any() and (empty["body"] == empty["person"]).all()


def test_region_scores_count_a_halo_only_in_the_whole_frame():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (2, 100, 100, 3), dtype=np.uint8)
    masks = np.stack([_person(), _person()])
    hard = (masks >= 0.5)[..., None]
    render = (reference * hard).astype(np.uint8)
    render[1, 10:15] = 255  # frame 1 renders a bright halo outside the person
    scores = region_scores(render, reference, masks, [_face_points(), None], (100, 100), "cpu")
    for region in ("person", "body"):
        assert np.isinf(scores[region]["psnr"]).all()
    assert np.isinf(scores["face"]["psnr"][0]) and np.isnan(scores["face"]["psnr"][1])  # no face found: no score
    assert np.isinf(scores["frame"]["psnr"][0]) and np.isfinite(scores["frame"]["psnr"][1])


def test_face_mesh_measures_on_a_real_photo():
    skimage = pytest.importorskip("skimage")
    photo = skimage.data.astronaut()
    faces = face_mesh_points([photo, np.zeros((64, 64, 3), np.uint8)])
    assert faces[0] is not None and faces[0].shape == (478, 2) and faces[1] is None
    ear, gap, brow = face_measures(faces[0])
    assert 0.18 < ear < 0.45      # her eyes are open
    assert gap < 0.15             # lips together or nearly (a smile with closed lips)
    assert 0.1 < brow < 0.5
    assert np.isnan(measures(faces)[1]).all()


def test_fidelity_of_identical_and_of_frozen_faces():
    t = np.linspace(0, 1, 12)
    real = np.stack([0.28 - 0.25 * (np.abs(t - 0.5) < 0.1), 0.1 + 0.2 * np.sin(6 * t) ** 2,
                     0.30 + 0.05 * (t > 0.7)], 1)
    same = expression_fidelity(real, real)
    assert same["ear_within"] == 1.0 and same["blinks_matched"] == same["blink_frames"] >= 2
    assert same["lip_gap_r"] == pytest.approx(1.0) and same["brow_follow"] == pytest.approx(1.0)
    assert same["brow_raised_frames"] == 4
    frozen = expression_fidelity(real, np.tile(real[:1], (12, 1)))
    assert frozen["blinks_matched"] == 0 and frozen["lip_gap_r"] is None and frozen["brow_follow"] == 0.0
    missing = real.copy()
    missing[0] = np.nan
    assert expression_fidelity(real, missing)["frames"] == 11
