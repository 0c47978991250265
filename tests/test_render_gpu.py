"""The render stage's GPU path (gsplat) against its CPU reference twin. Needs CUDA (device tool)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from talkavatar.cli import app
from tests.media_probe import probe
from tests.render_fixtures import speech_like_wav, toy_bundle
from tests.test_render_parts import _producer

pytestmark = pytest.mark.gpu


def test_gpu_frames_match_the_reference():
    cpu = _producer(4, frames=8)
    gpu = _producer(4, frames=8, device="cuda")
    a = torch.cat([b.pixels for b in cpu]).float()
    b = torch.cat([b.pixels.cpu() for b in gpu]).float()
    assert gpu.timings.backend == "gsplat" and cpu.timings.backend == "reference"
    mse = ((a - b) ** 2).mean().item()
    psnr = 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))
    assert psnr > 35, psnr


def test_graphed_posing_gives_the_eager_frames():
    """Posing replayed from a CUDA graph (the default on CUDA) draws what eager posing draws, the padded last batch
    (10 frames in batches of 4) included."""
    graphed, eager = _producer(4, frames=10, device="cuda"), _producer(4, frames=10, device="cuda")
    eager.graph_posing = False
    assert graphed.graph_posing
    a = torch.cat([b.pixels.cpu() for b in graphed]).float()
    b = torch.cat([b.pixels.cpu() for b in eager]).float()
    assert a.shape == b.shape == (10, 24 * 16 * 3)
    assert (a - b).abs().max() <= 1, (a - b).abs().max()


def test_frames_on_two_streams_are_the_frames_on_one():
    """Batches taking turns on two CUDA streams (the default) give the one-stream frames, in order, the padded last
    batch included, and the caller's stream sees each batch finished (the pixels are read back on it)."""
    two, one = _producer(4, frames=10, device="cuda"), _producer(4, frames=10, device="cuda")
    one.streams = 1
    assert two.streams == 2
    a = torch.cat([b.pixels.cpu() for b in two]).float()
    b = torch.cat([b.pixels.cpu() for b in one]).float()
    assert a.shape == b.shape == (10, 24 * 16 * 3)
    assert (a - b).abs().max() <= 1, (a - b).abs().max()


def test_frames_on_the_renders_tiles_are_the_16_pixel_tiles_frames():
    """render's gsplat tile edge for frames one at a time (frames.tile_size(1), a speed knob) draws the frames of
    the fit's 16-pixel tiles byte for byte, every pixel format; batches of frames keep 16."""
    from talkavatar.render import frames

    assert frames.tile_size(1) != 16 and frames.tile_size(8) == 16
    for fmt in ("rgb24", "yuv420p", "rgba"):
        small, usual = _producer(1, fmt, frames=5, device="cuda"), _producer(1, fmt, frames=5, device="cuda")
        assert small.tile_size == frames.tile_size(1)
        usual.tile_size = 16
        a = torch.cat([b.pixels.cpu() for b in small])
        b = torch.cat([b.pixels.cpu() for b in usual])
        assert a.shape == b.shape and a.shape[0] == 5
        assert torch.equal(a, b), (fmt, (a.float() - b.float()).abs().max())


def test_gpu_render_command(tmp_path):
    """A motion with its audio (drive-audio's pocketsphinx is not needed on the GPU machine)."""
    from talkavatar.bundle import sha256_file as file_sha256
    from talkavatar.motion import Motion, save_motion

    toy_bundle(tmp_path / "toy.avatar")
    speech_like_wav(tmp_path / "speech.wav", 2.0)
    motion = Motion.still(60, fps=30.0)
    motion.joint_rotations[:, 16, 2] = np.linspace(0, 1, 60)
    motion.audio = {"path": str(tmp_path / "speech.wav"), "sha256": file_sha256(tmp_path / "speech.wav"),
                    "offset_seconds": 0.0}
    save_motion(tmp_path / "m.motion.safetensors", motion)
    result = CliRunner().invoke(app, ["render", "-b", str(tmp_path / "toy.avatar"), "--motion",
                                      str(tmp_path / "m.motion.safetensors"), "-o", str(tmp_path / "g.mp4"),
                                      "--width", "256",
                                      "--height", "448", "--device", "cuda", "--batch", "16", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["backend"] == "gsplat" and record["device"].startswith("cuda")
    info = probe(tmp_path / "g.mp4")
    assert info.frames == 60 and abs(info.video_seconds - info.audio_seconds) <= 1 / 30
