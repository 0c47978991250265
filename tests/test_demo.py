"""The whole `talkavatar fit photo.png --preset tiny` and `talkavatar demo` end to end on CPU (tiny preset): the
same path as the README's quickstart command, from the astronaut photo (NASA, public domain, shipped in
talkavatar/samples).

The fit runs once (``astronaut_tiny_fit``); the first test checks it (the written avatar
validates and renders, a second run is skipped). The demo's first step is ``fit_input`` of the sample photo with
the tiny preset, which is exactly that run: the demo starts from a copy of its bundle, finds track, pseudo and fit
up to date (the test checks it says so) and drives, renders and previews the video. Both tests live in this file so
that a parallel run (pytest-xdist hands out whole files) makes the fit once."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from talkavatar.bundle import Bundle
from talkavatar.cli import app
from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.splats import rasterize
from tests.media_probe import probe

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class FitRun:
    """One ``talkavatar fit PHOTO`` run: the folder it ran in, the photo, the bundle it made and the CLI result."""

    folder: Path
    photo: Path
    bundle: Path
    result: object  # typer.testing.Result


@pytest.fixture(scope="module")
def astronaut_tiny_fit(tmp_path_factory) -> FitRun:
    """``talkavatar fit astronaut.png --preset tiny --device cpu --json`` run once for this file, in a folder of
    its own (the default bundle ``astronaut.avatar`` beside the photo's copy): track, pseudo and fit from the sample
    photo take ~1 minute on 2 cores, and both the fit test and the demo test below (whose first step is
    this same fit) read it."""
    folder = tmp_path_factory.mktemp("astronaut_tiny")
    photo = folder / "astronaut.png"
    shutil.copyfile(resources.files("talkavatar.samples") / "astronaut.png", photo)
    before = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, ["fit", str(photo), "--preset", "tiny", "--device", "cpu", "--json"])
    finally:
        os.chdir(before)
    return FitRun(folder, photo, folder / "astronaut.avatar", result)


def test_fit_photo_end_to_end_tiny(astronaut_tiny_fit, monkeypatch):
    # the run itself: the astronaut_tiny_fit fixture above (the demo test below starts from its bundle)
    result, photo, tmp_path = astronaut_tiny_fit.result, astronaut_tiny_fit.photo, astronaut_tiny_fit.folder
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["stage_seconds"]) >= {"track", "fit"}
    assert out["input_view"]["masked_psnr_db"] > 15  # tiny at 160 px (RESULTS.md has the measured figure)
    bundle = Bundle.open(tmp_path / "astronaut.avatar")
    for stage in ("track", "pseudo", "fit"):
        bundle.require(stage, by="test")
    bundle.read_json("fit/fit.json", "talkavatar.fit")
    avatar = Avatar.load(tmp_path / "astronaut.avatar" / "fit")
    params, _ = bundle.read_tensors("track/params.safetensors", "talkavatar.track")
    w, h = (int(x) for x in params["image_size"])
    cam = Cameras(torch.from_numpy(params["world_to_camera"][:1]), torch.from_numpy(params["intrinsics"][:1]) / 4,
                  w // 4, h // 4)
    cam.K[:, 2, 2] = 1
    g = avatar.pose(torch.from_numpy(params["joint_rotations"][:1]), torch.from_numpy(params["root_translation"][:1]),
                    torch.from_numpy(params["arkit_weights"][:1]))
    image = rasterize(g, cam)
    assert image.alpha.mean() > 0.2 and torch.isfinite(image.rgb).all()
    # a second run finds everything up to date
    monkeypatch.chdir(tmp_path)
    again = CliRunner().invoke(app, ["fit", str(photo), "--preset", "tiny", "--device", "cpu", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["skipped"]


def test_demo_makes_a_synced_talking_video(tmp_path, astronaut_tiny_fit):
    assert astronaut_tiny_fit.result.exit_code == 0, astronaut_tiny_fit.result.output
    out = tmp_path / "demo"
    shutil.copytree(astronaut_tiny_fit.bundle, out / "astronaut.avatar")
    result = CliRunner().invoke(app, ["demo", "--preset", "tiny", "--device", "cpu", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert "fit is up to date" in result.stderr, result.stderr  # the session's fit of the same photo and preset
    record = json.loads(result.stdout)
    assert record["preset"] == "tiny" and set(record["stage_seconds"]) >= {"fit", "render"}

    info = probe(out / "demo.mp4")
    assert (info.video_codec, info.audio_codec, info.pixel_format) == ("h264", "aac", "yuv420p")
    assert (info.width, info.fps) == (256, 25.0) and info.height in (256, 320, 456)  # camera auto's framing
    assert info.start == 0.0
    assert abs(info.frames / info.fps - info.audio_seconds) <= 1 / info.fps

    preview = np.asarray(Image.open(out / "preview.png").convert("RGB")).astype(float)
    assert preview.shape == (info.height, 4 * 256, 3)
    # The person fills the middle of the frame: the suit is orange (red > blue) against the white background.
    h = info.height
    middle = preview[h // 4:h - h // 8, 64:192]
    assert (middle.mean(axis=2) < 235).mean() > 0.5
    assert middle[..., 0].mean() > middle[..., 2].mean() + 20

    # Independent check (MediaPipe FaceMesh run here, not the project's tracking): the talking face is visible.
    from benchmarks.presentable_video import face_track, read_video

    frames, _ = read_video(out / "demo.mp4")
    found, face_height, _, _ = face_track(frames)
    # Issue 16: the bundled demo's video passes the independent face check in >= 95 % of frames with the tiny preset
    # on CPU (measured 98.7 %, and 100 % before present3's pseudo changes: benchmarks/RESULTS.md; 47.7 % while the
    # colour anchor also pulled the face).
    assert found.mean() >= 0.95
    assert np.nanmedian(face_height) >= 0.1  # a half-body photo: the face ~1/8 of the frame (square since present16)
