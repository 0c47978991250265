"""A real MediaPipe run and a whole `talkavatar track` on skimage's astronaut photo (NASA, public domain)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from talkavatar.bundle import Bundle
from talkavatar.cli import app

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(path)
    return path


def test_mediapipe_finds_body_face_and_mask(astronaut_png):
    from talkavatar.track.detect import HolisticDetector
    from talkavatar.track.mask import mask_iou, refine_mask

    image = np.asarray(Image.open(astronaut_png))
    with HolisticDetector(1) as detector:
        det = detector.detect(image)
    assert det.found and det.face_present and det.people == 1
    nose, left_shoulder, right_shoulder = det.body[0], det.body[11], det.body[12]
    assert 150 < nose[0] < 300 and 60 < nose[1] < 200           # the face is top centre-left
    assert left_shoulder[0] > nose[0] > right_shoulder[0]        # the person's left is on the image's right
    assert det.body_visibility[[0, 11, 12]].min() > 0.9
    face_box = det.face[:, :2].min(0), det.face[:, :2].max(0)
    assert face_box[0][1] < nose[1] < face_box[1][1]
    refined = refine_mask(image, det.mask, det.body[det.body_visibility > 0.5, :2])
    assert refined.shape == (512, 512) and 0.3 < (refined > 0.5).mean() < 0.6
    assert mask_iou(refined > 0.5, det.mask > 0.5) > 0.9         # refinement sharpens, it does not move the person


@pytest.mark.slow
def test_track_astronaut_meets_the_acceptance_figures(astronaut_png, tmp_path):
    bundle_path = tmp_path / "astronaut.avatar"
    result = CliRunner().invoke(app, ["track", str(astronaut_png), "-o", str(bundle_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    assert out["keypoint_error_pct"]["body"] <= 2.5
    assert out["keypoint_error_pct"]["face"] <= 1.5
    assert out["mask_iou"] >= 0.75
    bundle = Bundle.open(bundle_path)
    params, meta = bundle.read_tensors("track/params.safetensors", "talkavatar.track")
    assert params["joint_rotations"].shape == (1, 55, 3) and np.isfinite(params["joint_rotations"]).all()
    assert params["shape"][2:4] == pytest.approx([0.5, 0.5], abs=0.1)  # muscle, weight: no inflation by the suit
    from talkavatar.motion.names import JOINT_INDEX

    legs = [JOINT_INDEX[f"{s}_{j}"] for s in ("left", "right") for j in ("hip", "knee", "ankle", "foot")]
    assert np.abs(params["joint_rotations"][0, legs]).max() < 0.1  # cropped at the waist: no leg raised into the frame
    bundle.read_tensors("track/detections.safetensors", "talkavatar.detections")
    assert bundle.read_png("track/overlay.png").shape == (512, 1024, 3)
    assert bundle.read_png("track/mask.png").shape == (512, 512)
    assert bundle.manifest["body_model"]["name"] == "anny"
    from talkavatar.core.body.rig import Rig

    from talkavatar.core.body.mouth import has_mouth_interior

    rig = Rig.load(bundle_path / "track" / "rig.safetensors")
    assert rig.vertices.shape[0] > 13718 and has_mouth_interior(rig)  # Anny's 13,718 plus the mouth interior
    # a second run with the same input and settings is skipped
    again = CliRunner().invoke(app, ["track", str(astronaut_png), "-o", str(bundle_path), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout[again.stdout.index("{"):])["skipped"] is True


def test_two_people_track_the_larger_one(astronaut_png):
    from talkavatar.track.detect import HolisticDetector

    big = np.asarray(Image.open(astronaut_png))
    small = np.asarray(Image.fromarray(big).resize((256, 256)))
    canvas = np.full((512, 800, 3), 200, np.uint8)
    canvas[:, :512] = big
    canvas[256:, 540:796] = small
    with HolisticDetector(1) as detector:
        det = detector.detect(canvas)
    assert det.people == 2
    assert det.found and det.body[0, 0] < 512  # the nose of the larger person
    assert det.mask.shape == (512, 800)
