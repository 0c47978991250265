"""Render stage parts: timeline, colour, camera paths, background, frame producer, ffmpeg sink, writer thread, PLY."""

from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest
import torch

from talkavatar.errors import StageFailed, UsageError
from talkavatar.motion.file import Motion
from talkavatar.ffmpeg import ffmpeg_exe
from talkavatar.render.background import Background
from talkavatar.render.camera_path import CameraPath, Framing
from talkavatar.core.color import linear_to_srgb, srgb_to_linear
from talkavatar.render.color import parse_color, srgb_to_yuv420p
from talkavatar.render.frames import FrameBatch, FrameProducer
from talkavatar.render.pipeline import encode
from talkavatar.core.splats.ply import PROPERTIES, SH_C0, ply_bytes, write_ply
from talkavatar.render.timeline import Timeline
from talkavatar.render.video import VideoSink
from tests.render_fixtures import toy_avatar


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---- timeline -------------------------------------------------------------------------------------------------------
def _turning_motion(frames: int, fps: float) -> Motion:
    m = Motion.still(frames, fps)
    m.joint_rotations[:, 0, 1] = np.linspace(0.0, 1.0, frames)       # pelvis yaw ramps 0 -> 1 rad
    m.root_translation[:, 0] = np.arange(frames) * 0.1
    m.arkit_weights[:, 24] = np.linspace(0.0, 1.0, frames)
    return m


def test_timeline_frame_count_and_exact_poses():
    motion = _turning_motion(31, 30.0)
    clip = Timeline.of(motion, 30.0)
    assert clip.frames == 31 and clip.seconds == pytest.approx(31 / 30)
    rot, trans, arkit = clip.poses(np.arange(31))
    assert torch.equal(rot, torch.from_numpy(motion.joint_rotations))
    assert torch.equal(trans, torch.from_numpy(motion.root_translation))
    later = Timeline.of(motion, 30.0, start=0.5, duration=0.3)
    assert later.frames == 9
    assert later.poses(np.array([0]))[1][0, 0] == pytest.approx(1.5)   # motion frame 15


def test_timeline_interpolates_between_motion_frames():
    motion = _turning_motion(11, 10.0)
    clip = Timeline.of(motion, 20.0)                                   # twice the motion's rate
    assert clip.frames == 22                                            # 1.1 s at 20 fps
    rot, trans, arkit = clip.poses(np.array([1, 2, 21]))
    step = 1.0 / 10
    assert rot[0, 0, 1] == pytest.approx(step / 2, abs=1e-6)           # halfway between frames 0 and 1
    assert rot[1, 0, 1] == pytest.approx(step, abs=1e-6)
    assert trans[0, 0] == pytest.approx(0.05, abs=1e-6)
    assert arkit[0, 24] == pytest.approx(0.05, abs=1e-6)
    assert rot[2, 0, 1] == pytest.approx(1.0, abs=1e-6)                # past the end: the last pose holds


def test_timeline_start_past_the_end_is_refused():
    with pytest.raises(ValueError, match="past the end"):
        Timeline.of(Motion.still(10), 30.0, start=1.0)


# ---- colour ---------------------------------------------------------------------------------------------------------
def test_srgb_round_trip_and_known_values():
    x = torch.linspace(0, 1, 101, dtype=torch.float64)
    assert torch.allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-12)
    assert linear_to_srgb(torch.tensor(0.5)).item() == pytest.approx(0.7353569, abs=1e-6)


def test_yuv420p_of_known_colours():
    colours = torch.tensor([[1.0, 1, 1], [0, 0, 0], [1, 0, 0]])
    frames = colours[:, None, None, :].expand(3, 2, 4, 3)
    out = srgb_to_yuv420p(frames)
    assert out.shape == (3, 2 * 4 * 3 // 2) and out.dtype == torch.uint8
    y, cb, cr = out[:, 0], out[:, 8], out[:, 10]
    assert y.tolist() == [235, 16, round(16 + 219 * 0.2126)]
    assert cb.tolist()[:2] == [128, 128] and cr.tolist() == [128, 128, 240]
    with pytest.raises(ValueError, match="even"):
        srgb_to_yuv420p(torch.zeros(1, 3, 4, 3))


def test_parse_color():
    assert parse_color("white") == (1.0, 1.0, 1.0)
    assert parse_color("#ff8000") == pytest.approx((1.0, 128 / 255, 0.0))
    assert parse_color("0.1,0.2,0.3") == (0.1, 0.2, 0.3)
    assert parse_color("nonsense") is None and parse_color("2,0,0") is None


def test_background_composite(tmp_path):
    rgb, alpha = torch.full((1, 2, 2, 3), 0.25), torch.tensor([0.0, 0.5, 1.0, 0.5]).reshape(1, 2, 2, 1)
    rgb = rgb * alpha
    green = Background.parse("#00ff00", 2, 2)
    out = green.composite(rgb, alpha)
    assert torch.allclose(out[0, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(out[0, 1, 0], torch.tensor([0.25, 0.25, 0.25]))
    straight = Background.parse("transparent", 2, 2).composite(rgb, alpha)
    assert torch.allclose(straight[0, 0, 1], torch.full((3,), 0.25)) and straight[0, 0, 0].abs().max() == 0
    from PIL import Image

    Image.new("RGB", (8, 4), (255, 0, 0)).save(tmp_path / "bg.png")
    image = Background.parse(str(tmp_path / "bg.png"), 2, 2)
    assert image.kind == "image" and image.linear.shape == (2, 2, 3)
    with pytest.raises(UsageError):
        Background.parse("no-such-thing.png", 2, 2)


# ---- cameras --------------------------------------------------------------------------------------------------------
def test_front_camera_frames_the_body_and_orbit_turns():
    avatar = toy_avatar(8)
    means = avatar.pose(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)).means[0]
    framing = Framing.of_points(means.double())
    front = CameraPath.around("front", framing, width=40, height=60, frames=10)
    cams = front.at(torch.arange(3))
    assert torch.allclose(cams.centers[0].double(), framing.center + torch.tensor([0, 0, front.distance],
                                                                                  dtype=torch.float64), atol=1e-5)
    pixels, depth = cams[0:1].project(means)
    assert (depth > 0).all()
    assert (pixels[..., 0] > 0).all() and (pixels[..., 0] < 40).all()
    assert (pixels[..., 1] > 0).all() and (pixels[..., 1] < 60).all()
    orbit = CameraPath.around("orbit", framing, width=40, height=60, frames=10, orbit_degrees=360)
    halfway = orbit.at(torch.tensor([5])).centers[0].double() - framing.center
    assert halfway[2] == pytest.approx(-orbit.distance, abs=1e-5)      # behind the body after half the clip


def test_input_camera_keeps_the_picture_in_view():
    K = torch.tensor([[500.0, 0, 200], [0, 500, 300], [0, 0, 1]])
    w2c = torch.eye(4)
    w2c[2, 3] = 3.0
    path = CameraPath.from_input(w2c, K, (400, 600), width=100, height=100, frames=1)
    cams = path.at(torch.tensor([0]))
    corners = torch.tensor([[0.0, 0, 1], [400, 600, 1]]) @ torch.linalg.inv(K).T * 3.0   # on the z=3 plane
    corners[:, 2] -= 3.0                                                                   # back to world
    pixels, _ = cams.project(corners)
    left = (100 - 400 / 6) / 2                                         # scaled by 1/6, centred horizontally
    assert torch.allclose(pixels[0], torch.tensor([[left, 0.0], [left + 400 / 6, 100.0]]), atol=1e-3)


# ---- frames, sink, pipeline -----------------------------------------------------------------------------------------
def _producer(batch: int, fmt: str = "rgb24", background: str = "black", frames: int = 4,
              device: str = "cpu") -> FrameProducer:
    avatar = toy_avatar(8)
    motion = _turning_motion(frames, 30.0)
    means = avatar.pose(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52)).means[0]
    clip = Timeline.of(motion, 30.0)
    cams = CameraPath.around("orbit", Framing.of_points(means.double()), width=24, height=16, frames=clip.frames,
                             orbit_degrees=90)
    return FrameProducer(avatar, clip, cams, Background.parse(background, 24, 16), pixel_format=fmt, batch=batch,
                         device=device)


def test_batched_frames_equal_single_frames():
    batched = torch.cat([b.pixels for b in _producer(3)])
    single = torch.cat([b.pixels for b in _producer(1)])
    assert batched.shape == (4, 24 * 16 * 3)
    assert (batched.int() - single.int()).abs().max() <= 1
    assert batched.float().std() > 1                                     # something is drawn


def test_transparent_needs_rgba():
    with pytest.raises(ValueError, match="rgba"):
        _producer(2, fmt="yuv420p", background="transparent")
    rgba = torch.cat([b.pixels for b in _producer(2, fmt="rgba", background="transparent")]).reshape(4, 16, 24, 4)
    assert rgba[..., 3].min() == 0 and rgba[..., 3].max() > 200


def _decode_rgb(path, width, height) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def test_mp4_colours_survive_encoding(tmp_path):
    """Our BT.709 Y'CbCr and its stream tags agree: a decoder gives the sRGB colour back."""
    colour = torch.tensor([0.8, 0.3, 0.1])
    frames = srgb_to_yuv420p(colour.expand(5, 16, 16, 3))
    with VideoSink(tmp_path / "c.mp4", format="mp4", width=16, height=16, fps=25) as sink:
        sink.write(frames.numpy().tobytes(), count=5)
    decoded = _decode_rgb(tmp_path / "c.mp4", 16, 16)
    assert decoded.shape[0] == 5
    assert np.abs(decoded.reshape(-1, 3).mean(0) - colour.numpy() * 255).max() < 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.mp4"]


def test_sink_failure_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with VideoSink(tmp_path / "a.mp4", format="mp4", width=16, height=16, fps=25) as sink:
            sink.write(bytes(16 * 16 * 3 // 2), count=1)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StageFailed, match="ffmpeg"):                    # half a frame: ffmpeg fails at the end
        with VideoSink(tmp_path / "b.webm", format="webm", width=16, height=16, fps=25) as sink:
            sink.write(bytes(100), count=1)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StageFailed, match="cannot write"):
        VideoSink(tmp_path / "file" / "c.mp4", format="mp4", width=16, height=16, fps=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_writer_thread_errors_reach_the_producer(tmp_path):
    class Broken:
        def write(self, data, count=1):
            raise StageFailed("disk full")

    batches = (FrameBatch(i, torch.zeros(1, 8, dtype=torch.uint8)) for i in range(50))
    with pytest.raises(StageFailed, match="disk full"):
        encode(batches, Broken(), depth=2)


def test_encode_overlaps_and_counts_frames(tmp_path):
    producer = _producer(2, fmt="yuv420p", frames=6)
    with VideoSink(tmp_path / "v.mp4", format="mp4", width=24, height=16, fps=30) as sink:
        encode(producer, sink)
    assert sink.frames == 6
    assert _decode_rgb(tmp_path / "v.mp4", 24, 16).shape[0] == 6


# ---- PLY ------------------------------------------------------------------------------------------------------------
def read_ply(path) -> tuple[list[str], np.ndarray]:
    """A minimal binary little-endian PLY reader (float properties of one vertex element)."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode("ascii").splitlines()
    assert lines[0] == "ply" and lines[1] == "format binary_little_endian 1.0"
    count = next(int(line.split()[2]) for line in lines if line.startswith("element vertex"))
    names = [line.split()[2] for line in lines if line.startswith("property float")]
    table = np.frombuffer(data[end:], dtype="<f4")
    assert table.size == count * len(names)
    return names, table.reshape(count, len(names))


def test_ply_export_matches_the_documented_layout(tmp_path):
    avatar = toy_avatar(8)
    turn = torch.zeros(1, 55, 3)
    turn[0, 0] = torch.tensor([0.0, 0.7, 0.0])
    posed = avatar.pose(turn, torch.tensor([[0.1, 0.2, 0.3]]), torch.zeros(1, 52))
    write_ply(tmp_path / "out" / "a.ply", posed)
    names, table = read_ply(tmp_path / "out" / "a.ply")
    assert tuple(names) == PROPERTIES and table.shape[0] == avatar.count
    col = {n: table[:, i] for i, n in enumerate(names)}
    xyz = np.stack([col["x"], col["y"], col["z"]], 1)
    assert np.allclose(xyz, posed.means[0].numpy(), atol=1e-6)
    assert np.all(table[:, 3:6] == 0)
    srgb = 0.5 + SH_C0 * np.stack([col[f"f_dc_{i}"] for i in range(3)], 1)
    assert np.allclose(srgb, linear_to_srgb(avatar.rgb).numpy(), atol=1e-5)
    assert np.allclose(1 / (1 + np.exp(-col["opacity"])), torch.sigmoid(avatar.opacity_logit).numpy(), atol=1e-6)
    assert np.allclose(np.exp(table[:, 10:13]), avatar.log_scales.exp().numpy(), rtol=1e-5)
    q = table[:, 13:17]
    assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    posed_q = torch.nn.functional.normalize(posed.quats[0], dim=-1).numpy()
    assert np.allclose(np.abs((q * posed_q).sum(1)), 1, atol=1e-5)     # the posed rotation (up to sign), wxyz
    assert np.abs(q[:, 2]).max() > 0.1                                   # turned about +Y by the pelvis yaw
    with pytest.raises(ValueError, match="one pose"):
        ply_bytes(avatar.pose(torch.zeros(2, 55, 3), torch.zeros(2, 3), torch.zeros(2, 52)))
    assert math.isfinite(float(table.sum()))
