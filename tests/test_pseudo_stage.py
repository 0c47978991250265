"""The pseudo stage end to end on a tiny synthetic bundle, its bundle contract, idempotence, the pose export
drawing, and bad inputs (no track stage, unreadable video) leaving the bundle unchanged."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pseudo_scenes import write_tracked_bundle
from talkavatar.bundle import Bundle
from talkavatar.cli import app
from talkavatar.errors import InvalidInput
from talkavatar.pseudo.config import PseudoConfig
from talkavatar.pseudo.stage import run_pseudo

runner = CliRunner()
TINY = PseudoConfig(frames=5, size=40, uv_res=24, renderer="mesh")


def _snapshot(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".lock" not in p.name}


def test_pseudo_writes_the_contract(tmp_path):
    bundle = write_tracked_bundle(tmp_path / "plane.avatar")
    result = run_pseudo(bundle.root, TINY, progress=lambda m: None, warn=lambda m: None)
    assert result.frames == 5 and not result.skipped and result.renderer == "mesh:torch"
    b = Bundle.open(bundle.root)
    params, meta = b.read_tensors("pseudo/params.safetensors", "talkavatar.pseudo")
    assert params["joint_rotations"].shape == (5, 55, 3) and params["arkit_weights"].shape == (5, 52)
    assert params["intrinsics"].shape == (5, 3, 3) and params["world_to_camera"].shape == (5, 4, 4)
    assert params["image_size"].tolist() == [40, 40] and params["origin"].tolist() == [0] * 5
    assert meta["generator"] == "reproject"
    for i in range(5):
        frame = b.read_png(f"pseudo/frames/{i:05d}.png")
        assert frame.shape == (40, 40, 4) and frame.dtype == np.uint8
    texture = b.read_png("pseudo/texture.png")
    assert texture.shape == (24, 24, 3)
    proxy, _ = b.read_tensors("pseudo/proxy.safetensors", "talkavatar.proxy")
    assert proxy["vertex_offsets"].shape == (81, 3)
    assert b.read_png("pseudo/contact.png").ndim == 3
    record = b.record("pseudo")
    assert record["metrics"]["generator"] == "reproject" and record["metrics"]["texture"]["unfilled_texels"] == 0
    assert record["metrics"]["psnr_input_view_db"] > 25  # the plane re-rendered in the photo's view
    assert len(record["metrics"]["sources"]) == 5
    # the root rotation of every frame stays within the paper's ranges (the tracked root is the identity here)
    from talkavatar.motion.rotations import axis_angle_to_matrix

    forward = axis_angle_to_matrix(params["joint_rotations"][:, 0].astype(np.float64))[:, :, 2]
    assert np.degrees(np.abs(np.arcsin(forward[:, 1]))).max() <= 30.01
    # idempotent: same inputs and settings -> skipped, nothing rewritten
    before = _snapshot(bundle.root)
    again = run_pseudo(bundle.root, TINY, progress=lambda m: None, warn=lambda m: None)
    assert again.skipped and _snapshot(bundle.root) == before


def test_frames_show_the_person_with_alpha(tmp_path):
    bundle = write_tracked_bundle(tmp_path / "plane.avatar")
    run_pseudo(bundle.root, PseudoConfig(frames=2, size=40, uv_res=24, renderer="mesh", side_views=0.0,
                                         root_pitch=0.0, root_yaw=0.0), progress=lambda m: None)
    frame = np.asarray(Image.open(bundle.root / "pseudo/frames/00000.png"))
    alpha = frame[..., 3] > 0
    assert 0.05 < alpha.mean() < 0.95
    assert frame[alpha, :3].std() > 10  # textured, not flat


def test_cli_json_and_bundle_without_track(tmp_path):
    empty = Bundle.create(tmp_path / "empty.avatar")
    before = _snapshot(empty.root)
    result = runner.invoke(app, ["pseudo", "-b", str(empty.root), "--frames", "2"])
    assert result.exit_code == 3, result.output
    assert "no track stage" in result.output
    assert _snapshot(empty.root) == before

    bundle = write_tracked_bundle(tmp_path / "plane.avatar")
    result = runner.invoke(app, ["pseudo", "-b", str(bundle.root), "--frames", "2", "--size", "32", "--uv-res", "16",
                                 "--renderer", "mesh", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["frames"] == 2 and out["renderer"] == "mesh:torch"
    # the input-view figure is over the whole person mask; coverage and the covered-only figure beside it
    assert 0.9 <= out["input_view_mask_coverage"] <= 1 and out["proxy_mask_iou"] > 0.8
    assert out["psnr_input_view_db"] <= out["psnr_input_view_covered_db"]


def test_unreadable_video_leaves_the_bundle_unchanged(tmp_path):
    bundle = write_tracked_bundle(tmp_path / "plane.avatar")
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    before = _snapshot(bundle.root)
    result = runner.invoke(app, ["pseudo", "-b", str(bundle.root), "--frames", "2", "--import-video", str(bad)])
    assert result.exit_code == 3, result.output
    assert "clip.mp4" in result.output
    assert _snapshot(bundle.root) == before
    with pytest.raises(InvalidInput, match="no such video"):
        run_pseudo(bundle.root, TINY, import_videos=[tmp_path / "missing.mp4"])
    assert _snapshot(bundle.root) == before


def test_bad_settings_are_usage_errors(tmp_path):
    bundle = write_tracked_bundle(tmp_path / "plane.avatar")
    result = runner.invoke(app, ["pseudo", "-b", str(bundle.root), "--generator", "diffusion"])
    assert result.exit_code == 2 and "generator" in result.output


def test_openpose_drawing_and_video(tmp_path):
    from talkavatar.pseudo.export import body18, draw_skeleton, write_mp4

    pose = np.full((33, 2), np.nan, np.float32)
    pose[0], pose[11], pose[12], pose[13], pose[15] = (32, 10), (44, 22), (20, 22), (50, 34), (52, 46)
    b = body18(pose)
    assert np.allclose(b[1], (32, 22)) and np.allclose(b[5], (44, 22)) and np.allclose(b[2], (20, 22))
    hand = np.full((21, 2), np.nan, np.float32)
    hand[0], hand[5] = (52, 46), (55, 50)
    img = draw_skeleton((64, 64), b, [hand, hand], np.full((478, 2), np.nan))
    assert img.shape == (64, 64, 3) and img.max() > 0
    assert tuple(img[22, 38]) != (0, 0, 0)  # the left shoulder limb is drawn
    write_mp4(tmp_path / "p.mp4", [img] * 3)
    assert (tmp_path / "p.mp4").stat().st_size > 0
