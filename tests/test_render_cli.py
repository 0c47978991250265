"""`talkavatar render` end to end on a toy avatar: decoded outputs, audio/video sync, formats, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkavatar.cli import app
from talkavatar.motion import Motion, save_arkit_csv, save_motion
from talkavatar.render.config import RenderConfig
from tests.media_probe import probe
from tests.render_fixtures import speech_like_wav, toy_bundle
from tests.test_render_parts import read_ply

runner = CliRunner()
SMALL = ["--width", "32", "--height", "48"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scene")
    toy_bundle(root / "toy.avatar")
    speech_like_wav(root / "speech.wav", 1.3)
    return root


def _render(scene: Path, *args: str, cwd: Path | None = None):
    return runner.invoke(app, ["render", "-b", str(scene / "toy.avatar"), *SMALL, "--json", *args])


def test_cli_options_match_the_config():
    from talkavatar.cli.render import command
    import inspect

    params = set(inspect.signature(command).parameters)
    assert {f.name for f in dataclasses.fields(RenderConfig)} <= params


def test_mp4_from_audio_is_synced(scene, tmp_path):
    out = tmp_path / "new" / "dir" / "talk.mp4"                          # a missing directory is created
    result = _render(scene, "--audio", str(scene / "speech.wav"), "-o", str(out))
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["frames"] == 39 and record["backend"] == "reference"
    info = probe(out)
    assert (info.video_codec, info.pixel_format, info.audio_codec) == ("h264", "yuv420p", "aac")
    assert (info.width, info.height, info.fps) == (32, 48, 30.0)
    assert info.frames == 39 and info.start == 0.0
    assert abs(info.video_seconds - info.audio_seconds) <= 1 / 30
    assert abs(info.audio_seconds - 1.3) <= 1 / 30
    assert "bt709" in info.header and "48000 Hz" in info.header
    assert sorted(p.name for p in out.parent.iterdir()) == ["talk.mp4"]  # no temporary left


def test_an_up_to_date_video_is_skipped_and_force_renders_it_again(scene, tmp_path):
    import shutil

    shutil.copy(scene / "speech.wav", tmp_path / "speech.wav")
    out = tmp_path / "talk.mp4"
    args = ["--audio", str(tmp_path / "speech.wav"), "-o", str(out), "--duration", "0.3"]
    first = _render(scene, *args)
    assert first.exit_code == 0, first.output
    made = out.stat().st_mtime_ns
    again = _render(scene, *args)                          # same bundle, audio, settings and device: skipped
    assert again.exit_code == 0, again.output
    assert f"{out}: render is up to date (use --force to redo)" in again.stderr
    skipped, record = json.loads(again.stdout), json.loads(first.stdout)
    assert skipped["skipped"] and not record["skipped"] and skipped["timings_s"] == {}
    assert {k: skipped[k] for k in ("output", "frames", "width", "audio")} == \
        {k: record[k] for k in ("output", "frames", "width", "audio")}
    assert out.stat().st_mtime_ns == made
    forced = _render(scene, *args, "--force")
    assert forced.exit_code == 0 and not json.loads(forced.stdout)["skipped"] and out.stat().st_mtime_ns != made
    speech_like_wav(tmp_path / "speech.wav", 1.0)            # the audio changed: rendered again
    redo = json.loads(_render(scene, *args).stdout)
    assert not redo["skipped"] and probe(out).frames == 9
    assert json.loads(_render(scene, *args, "--fps", "20").stdout)["frames"] == 6   # another setting too


def test_crf_trades_file_size_for_quality(scene, tmp_path):
    motion = Motion.still(15, fps=30.0)                                 # no sound: the video stream alone
    motion.joint_rotations[:, 16, 2] = np.linspace(0, 1, 15)            # the left shoulder lifts the arm
    save_motion(tmp_path / "lift.motion.safetensors", motion)
    sizes = {}
    for crf in ("4", "40"):
        out = tmp_path / f"crf{crf}.mp4"
        result = _render(scene, "--motion", str(tmp_path / "lift.motion.safetensors"), "-o", str(out),
                         "--width", "64", "--height", "96", "--crf", crf)
        assert result.exit_code == 0, result.output
        sizes[crf] = out.stat().st_size
    assert sizes["40"] < sizes["4"] / 2, sizes
    assert _render(scene, "--motion", str(tmp_path / "lift.motion.safetensors"), "--crf", "52").exit_code == 2


def test_start_and_duration_cut_audio_and_video(scene, tmp_path):
    out = tmp_path / "cut.mp4"
    result = _render(scene, "--audio", str(scene / "speech.wav"), "-o", str(out), "--start", "0.4",
                     "--duration", "0.5", "--fps", "24", "--camera", "orbit", "--orbit-degrees", "90")
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert info.frames == 12 and info.fps == 24.0
    assert abs(info.audio_seconds - 0.5) <= 1 / 24 and abs(info.video_seconds - info.audio_seconds) <= 1 / 24


def test_motion_file_with_its_audio_to_webm(scene, tmp_path):
    from talkavatar.bundle import sha256_file as file_sha256

    motion = Motion.still(20, fps=25.0)
    motion.joint_rotations[:, 16, 2] = np.linspace(0, 1, 20)            # the left shoulder lifts the arm
    motion.audio = {"path": str(scene / "speech.wav"), "sha256": file_sha256(scene / "speech.wav"),
                    "offset_seconds": 0.0}
    save_motion(tmp_path / "lift.motion.safetensors", motion)
    out = tmp_path / "lift.webm"
    result = _render(scene, "--motion", str(tmp_path / "lift.motion.safetensors"), "-o", str(out),
                     "--background", "#203040")
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.video_codec, info.audio_codec) == ("vp9", "opus")
    assert info.frames == 20 and info.fps == 25.0
    assert abs(info.audio_seconds - 0.8) <= 1 / 25


def test_transparent_png_sequence_from_arkit_csv(scene, tmp_path):
    motion = Motion.still(6, fps=30.0)
    motion.arkit_weights[:, 24] = np.linspace(0, 1, 6)                  # jawOpen
    save_arkit_csv(tmp_path / "face.csv", motion)
    out = tmp_path / "frames"
    result = _render(scene, "--motion", str(tmp_path / "face.csv"), "-o", str(out), "--format", "png",
                     "--background", "transparent")
    assert result.exit_code == 0, result.output
    from PIL import Image

    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{i:06d}.png" for i in range(6)]
    with Image.open(out / names[0]) as im:
        assert im.mode == "RGBA" and im.size == (32, 48)
        alpha = np.asarray(im)[..., 3]
    assert alpha[0, 0] == 0 and alpha.max() > 200


def test_export_ply_alone_in_the_rest_pose(scene, tmp_path):
    result = _render(scene, "--export-ply", str(tmp_path / "toy.ply"))
    assert result.exit_code == 0, result.output
    names, table = read_ply(tmp_path / "toy.ply")
    from tests.render_fixtures import toy_avatar

    assert table.shape == (toy_avatar(16).count, 17) and names[:3] == ["x", "y", "z"]
    assert json.loads(result.stdout)["output"] is None


def test_config_file_sets_render_and_drive_audio(scene, tmp_path):
    (tmp_path / "c.toml").write_text('[render]\nfps = 10.0\nbackground = "black"\n[drive-audio]\nstyle = "lively"\n')
    result = _render(scene, "--audio", str(scene / "speech.wav"), "-o", str(tmp_path / "c.mp4"),
                     "--config", str(tmp_path / "c.toml"), "--duration", "0.5", "--no-gestures")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 5


# ---- bad input ------------------------------------------------------------------------------------------------------
def test_missing_bundle_or_avatar_exits_3_with_a_tip_to_fit(scene, tmp_path):
    result = runner.invoke(app, ["render", "-b", str(tmp_path / "nope.avatar"), "--audio",
                                 str(scene / "speech.wav")])
    assert result.exit_code == 3 and "fit" in result.stderr
    from talkavatar.bundle import Bundle

    Bundle.create(tmp_path / "empty.avatar")
    result = runner.invoke(app, ["render", "-b", str(tmp_path / "empty.avatar"), "--audio",
                                 str(scene / "speech.wav")])
    assert result.exit_code == 3 and "talkavatar fit" in result.stderr


def test_unreadable_audio_exits_3_and_writes_nothing(scene, tmp_path):
    (tmp_path / "noise.wav").write_bytes(b"RIFF not really audio" * 10)
    result = _render(scene, "--audio", str(tmp_path / "noise.wav"), "-o", str(tmp_path / "x.mp4"))
    assert result.exit_code == 3, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.wav"]


def test_unwritable_output_exits_3_and_leaves_nothing(scene, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = _render(scene, "--audio", str(scene / "speech.wav"), "-o", str(tmp_path / "a-file" / "x.mp4"))
    assert result.exit_code == 3, result.output
    assert "cannot write" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_usage_errors_exit_2(scene, tmp_path):
    speech = str(scene / "speech.wav")
    for args in (["--audio", speech, "--background", "transparent", "-o", str(tmp_path / "t.mp4")],
                 ["--audio", speech, "--motion", speech],
                 [],
                 ["--audio", speech, "--width", "33"],
                 ["--audio", speech, "--camera", "drone"],
                 ["--audio", speech, "--start", "99"]):
        result = runner.invoke(app, ["render", "-b", str(scene / "toy.avatar"), *args])
        assert result.exit_code == 2, (args, result.output)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tracked_x", [0.0, 0.3])
def test_input_camera_from_track(tmp_path, tracked_x):
    """The motion's body appears where track placed the person: the tracked root translation moves the arm by
    ``tracked_x`` and the camera follows it, so the picture stays the same."""
    from talkavatar.bundle import Bundle
    from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES

    root = toy_bundle(tmp_path / "tracked.avatar")
    w2c = np.diag([1.0, -1.0, -1.0, 1.0]).astype(np.float32)            # at +Z looking down -Z, image y = -Y
    w2c[:3, 3] = [-0.3 - tracked_x, 0.0, 2.0]                           # the arm's middle in the centre
    params = {"joint_rotations": np.zeros((1, 55, 3), np.float32),
              "root_translation": np.array([[tracked_x, 0.0, 0.0]], np.float32),
              "arkit_weights": np.zeros((1, 52), np.float32), "shape": np.zeros(6, np.float32),
              "intrinsics": np.array([[[500, 0, 200], [0, 500, 150], [0, 0, 1]]], np.float32),
              "world_to_camera": w2c[None], "image_size": np.array([400, 300], np.int32),
              "frame_index": np.zeros(1, np.int32), "tracked": np.ones(1, np.uint8)}
    meta = {"fps": "0", "joint_names": json.dumps(JOINT_NAMES), "arkit_names": json.dumps(ARKIT_NAMES),
            "shape_names": json.dumps([f"s{i}" for i in range(6)]), "body_model": "anny"}
    bundle = Bundle.open(root)
    with bundle.write_stage("track", config={"fixture": "camera"}) as writer:
        writer.save_tensors("params.safetensors", params, "talkavatar.track", meta)
    motion = Motion.still(2, fps=30.0)
    save_motion(tmp_path / "still.motion.safetensors", motion)
    out = tmp_path / "frames"
    result = runner.invoke(app, ["render", "-b", str(root), "--motion", str(tmp_path / "still.motion.safetensors"),
                                 "--camera", "input", "--width", "32", "--height", "48", "-o", str(out),
                                 "--format", "png", "--background", "transparent"])
    assert result.exit_code == 0, result.output
    from PIL import Image

    with Image.open(out / "frame_000000.png") as im:
        alpha = np.asarray(im)[..., 3].astype(int)
    # the 400x300 picture fills 32x24 in the middle (rows 12..35); the arm crosses its centre row
    assert alpha[:12].max() == 0 and alpha[36:].max() == 0
    row = alpha[24]                                                      # image y of the arm's axis: 12 + 150 * 0.08
    # the 0.6 m arm at 2 m and f = 500 * 0.08 px: 12 px (+ Gaussian blur), centred on column 16
    assert row[9] > 200 and row[22] > 200 and row[6] == 0 and row[25] == 0


def test_frames_equal_a_direct_render(scene, tmp_path):
    """The stage's wiring (timeline, front camera framing, background, sRGB) reproduces a hand-made render."""
    from PIL import Image

    from talkavatar.core.splats import rasterize
    from talkavatar.render.camera_path import CameraPath, Framing
    from talkavatar.core.color import linear_to_srgb, srgb_to_linear
    from talkavatar.render.color import to_uint8
    from tests.render_fixtures import toy_avatar

    motion = Motion.still(3, fps=30.0)
    motion.joint_rotations[:, 16, 2] = [0.0, 0.4, 0.8]
    save_motion(tmp_path / "m.motion.safetensors", motion)
    result = _render(scene, "--motion", str(tmp_path / "m.motion.safetensors"), "-o", str(tmp_path / "f"),
                     "--format", "png", "--background", "#336699", "--yaw", "20", "--camera", "front")
    assert result.exit_code == 0, result.output
    avatar = toy_avatar(16)
    posed = avatar.pose(torch.from_numpy(motion.joint_rotations), torch.zeros(3, 3), torch.zeros(3, 52))
    path = CameraPath.around("front", Framing.of_points(posed.means[0].double()), width=32, height=48, frames=3,
                             yaw=20)
    out = rasterize(posed, path.at(torch.arange(3)))
    bg = srgb_to_linear(torch.tensor([0x33, 0x66, 0x99]) / 255.0)
    expected = to_uint8(linear_to_srgb(out.rgb + (1 - out.alpha) * bg)).numpy()
    for i in range(3):
        with Image.open(tmp_path / "f" / f"frame_{i:06d}.png") as im:
            got = np.asarray(im.convert("RGB")).astype(int)
        assert np.abs(got - expected[i]).max() <= 1
    assert np.abs(expected[0].astype(int) - expected[2]).max() > 50     # the arm moved


def test_transparent_webm_keeps_alpha(scene, tmp_path):
    import subprocess

    from talkavatar.ffmpeg import ffmpeg_exe

    save_motion(tmp_path / "m.motion.safetensors", Motion.still(4, fps=30.0))
    out = tmp_path / "a.webm"
    result = _render(scene, "--motion", str(tmp_path / "m.motion.safetensors"), "-o", str(out),
                     "--background", "transparent")
    assert result.exit_code == 0, result.output
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-c:v", "libvpx-vp9", "-i", str(out), "-f", "rawvideo",
                          "-pix_fmt", "rgba", "pipe:1"], capture_output=True, check=True).stdout
    alpha = np.frombuffer(raw, np.uint8).reshape(-1, 48, 32, 4)[..., 3]
    assert alpha.shape[0] == 4 and alpha[:, 0, 0].max() < 10 and alpha.max() > 200


def test_relative_audio_path_beside_the_motion(scene, tmp_path):
    import shutil

    from talkavatar.bundle import sha256_file as file_sha256

    shutil.copy(scene / "speech.wav", tmp_path / "voice.wav")
    motion = Motion.still(15, fps=30.0)
    motion.audio = {"path": "voice.wav", "sha256": file_sha256(tmp_path / "voice.wav"), "offset_seconds": 0.2}
    save_motion(tmp_path / "m.motion.safetensors", motion)
    result = _render(scene, "--motion", str(tmp_path / "m.motion.safetensors"), "-o", str(tmp_path / "r.mp4"))
    assert result.exit_code == 0, result.output
    info = probe(tmp_path / "r.mp4")
    assert info.audio_codec == "aac" and abs(info.audio_seconds - 0.5) <= 1 / 30
