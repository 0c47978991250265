"""The whole `talkavatar fit photo.png --preset tiny` on CPU: track, pseudo and fit from the astronaut photo
(NASA, public domain, shipped in talkavatar/samples); the written avatar validates and renders."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from talkavatar.bundle import Bundle
from talkavatar.cli import app
from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.splats import rasterize


@pytest.mark.slow
def test_fit_photo_end_to_end_tiny(astronaut_tiny_fit, monkeypatch):
    # the run itself: tests/conftest.py (the demo test starts from its bundle too)
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
