"""`talkavatar fit VIDEO` and `fit PHOTO --video CLIP` on tiny clips the tests make from the astronaut photo
(tests/video_clips.py): end to end with --preset tiny on the CPU, the held-out tail scored by `eval --held-out`,
and the bad inputs: no person, a person who leaves the picture, a variable frame rate, portrait rotation metadata."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from talkavatar.bundle import Bundle
from talkavatar.bundle.artifacts import SOURCE_IMAGE, read_tracked_video
from talkavatar.cli import app
from talkavatar.fit.frames import select_frames
from talkavatar.samples import SAMPLE_PHOTO
from tests.video_clips import encode, person_frames

runner = CliRunner()
TRACK_FAST = ["--steps", "40", "--device", "cpu"]  # enough for the checks here; the default (240) takes minutes
FIT_TINY = ["--preset", "tiny", "--iters", "12", "--uv-res", "16", "--device", "cpu", "--json"]


def _invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def fitted_clip(tmp_path_factory):
    """A 10-frame clip tracked (last frame held out) and fitted with the tiny preset: (clip, bundle, fit JSON)."""
    tmp = tmp_path_factory.mktemp("vfit")
    clip = encode(person_frames(10), tmp / "talking.mp4")
    bundle = tmp / "talking.avatar"
    tracked = _invoke("track", str(clip), "-o", str(bundle), *TRACK_FAST)
    assert tracked.exit_code == 0, tracked.output
    fitted = _invoke("fit", str(clip), "-o", str(bundle), *FIT_TINY)  # track is up to date: pseudo, then fit
    assert fitted.exit_code == 0, fitted.output
    return clip, bundle, json.loads(fitted.stdout)


@pytest.mark.slow
def test_fit_video_end_to_end_tiny(fitted_clip):
    clip, bundle, out = fitted_clip
    assert out["video_frames_used"] >= 3 and out["iterations"] == 12
    b = Bundle.open(bundle)
    video = read_tracked_video(b)  # schema-validated on read
    assert video.doc["source"] == "source/input.mp4" and video.doc["shape_from"] == "clip"
    assert video.doc["frames"] == 10 and video.doc["held_out"] == {"first_frame": 9, "frames": 1, "first_time": 0.9}
    assert len(video.doc["frame_index"]) == 9 and video.params.tracked.all()
    doc = b.read_json("fit/fit.json", "talkavatar.fit")
    chosen = doc["video"]["selected"]
    assert len(chosen["entries"]) == out["video_frames_used"]
    assert video.params.photo_frame not in chosen["entries"]  # the photo has its own loss
    assert max(chosen["frames"]) < 9  # never a held-out frame
    assert doc["video"]["pseudo_frames_kept"] + doc["video"]["pseudo_frames_covered"] > 0
    assert b.read_png(SOURCE_IMAGE).shape == (256, 192, 3)  # the photo: the first tracked frame, full size
    assert np.isfinite(doc["losses"]["final"]["video_l1"]) and "frame_prior" in doc["losses"]["final"]


def test_eval_scores_the_held_out_frames(fitted_clip):
    _, bundle, _ = fitted_clip
    result = _invoke("eval", "-b", str(bundle), "--held-out", "--track-steps", "20", "--size", "128",
                     "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.stdout)
    assert scored["frame_indices"] == [9] and scored["tracked_frames"] == 1
    assert 5.0 < scored["psnr_db"] < 60.0


def test_selection_covers_the_clip_and_skips_frames_without_the_person(tmp_path):
    clip = encode(person_frames(12, empty=(4, 8)), tmp_path / "leaves.mp4")
    bundle = tmp_path / "leaves.avatar"
    result = _invoke("track", str(clip), "-o", str(bundle), "--holdout", "0", *TRACK_FAST)
    assert result.exit_code == 0, result.output
    assert "no person in 4 of 12 frames (longest stretch 4 frames)" in " ".join(result.output.split())
    video = read_tracked_video(Bundle.open(bundle))
    assert video.doc["tracked"] == 8 and video.doc["held_out"]["frames"] == 0
    picked = select_frames(video, 5, exclude=video.params.photo_frame)
    assert len(picked.entries) == 5 and all(video.params.tracked[i] for i in picked.entries)
    everything = select_frames(video, 50, exclude=None)
    assert sorted(everything.entries) == [i for i in range(12) if video.params.tracked[i]]


def test_no_person_in_the_clip_fails_with_nothing_written(tmp_path):
    y, x = np.mgrid[0:160, 0:120]
    wall = np.stack([x * 2 % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    clip = encode([wall] * 6, tmp_path / "empty.mp4")
    bundle = tmp_path / "empty.avatar"
    result = _invoke("fit", str(clip), "-o", str(bundle), *FIT_TINY)
    assert result.exit_code == 1, result.output
    assert "no person detected in any frame" in result.output and "Traceback" not in result.output
    assert not bundle.exists() or not any(p.name != ".lock" for p in bundle.iterdir())


def test_variable_frame_rate_keeps_each_frames_time(tmp_path):
    times = [0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.62, 0.8, 1.0]
    clip = encode(person_frames(10), tmp_path / "phone.mp4", times=times)
    bundle = tmp_path / "phone.avatar"
    result = _invoke("track", str(clip), "-o", str(bundle), "--holdout", "0.2", *TRACK_FAST)
    assert result.exit_code == 0, result.output
    assert "variable frame rate" in result.output
    doc = read_tracked_video(Bundle.open(bundle)).doc
    assert doc["variable_frame_rate"] is True
    assert doc["times"] == pytest.approx(times[:8], abs=2e-3)
    assert doc["held_out"]["first_frame"] == 8 and doc["held_out"]["first_time"] == pytest.approx(0.8, abs=2e-3)


def test_portrait_rotation_metadata_is_applied(tmp_path):
    clip = encode(person_frames(6), tmp_path / "portrait.mp4", rotation=90)  # stored 256x192, shown 192x256
    bundle = tmp_path / "portrait.avatar"
    result = _invoke("track", str(clip), "-o", str(bundle), *TRACK_FAST)
    assert result.exit_code == 0, result.output
    b = Bundle.open(bundle)
    doc = read_tracked_video(b).doc
    assert doc["rotation"] == 90 and (doc["width"], doc["height"]) == (192, 256)
    assert doc["tracked"] == 6  # 10 % of 6 frames rounds down to none held out
    photo = b.read_png(SOURCE_IMAGE).astype(np.float64)
    upright = person_frames(6)[0].astype(np.float64)
    assert photo.shape == upright.shape and np.abs(photo - upright).mean() < 12  # upright, not turned


def test_photo_with_a_clip(tmp_path):
    clip = encode(person_frames(8), tmp_path / "talking.mp4")
    bundle = tmp_path / "astronaut.avatar"
    tracked = _invoke("track", str(SAMPLE_PHOTO), "-o", str(bundle), "--video", str(clip), *TRACK_FAST)
    assert tracked.exit_code == 0, tracked.output
    b = Bundle.open(bundle)
    video = read_tracked_video(b)
    assert video.doc["source"] == "source/video.mp4" and video.doc["shape_from"] == "photo"
    assert np.allclose(video.params.shape, b.read_tensors("track/params.safetensors", "talkavatar.track")[0]["shape"])
    fitted = _invoke("fit", str(SAMPLE_PHOTO), "-o", str(bundle), "--video", str(clip), *FIT_TINY)
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.stdout)["video_frames_used"] >= 3


def test_video_arguments_misused(tmp_path):
    clip = encode(person_frames(3), tmp_path / "c.mp4")
    both = _invoke("fit", str(clip), "--video", str(clip), "-o", str(tmp_path / "x.avatar"))
    assert both.exit_code == 2 and "--video goes with a photo" in both.output
    missing = _invoke("fit", str(SAMPLE_PHOTO), "--video", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "y.avatar"))
    assert missing.exit_code == 3 and "no such video file" in missing.output
    bad = _invoke("fit", str(clip), "--holdout", "1.5", "-o", str(tmp_path / "z.avatar"))
    assert bad.exit_code == 2 and "holdout" in bad.output


def test_pseudo_frames_the_clip_shows_are_dropped():
    import torch

    from talkavatar.bundle.artifacts import TrackedVideo, TrackParams
    from talkavatar.core.cameras import Cameras
    from talkavatar.fit.data import Poses, Views
    from talkavatar.fit.frames import uncovered
    from talkavatar.track.camera import WORLD_TO_CAMERA

    rng = np.random.default_rng(0)
    rotations = rng.normal(0, 0.05, (4, 55, 3)).astype(np.float32)
    arkit = rng.uniform(0, 0.3, (4, 52)).astype(np.float32)
    w2c = np.repeat(WORLD_TO_CAMERA[None], 4, 0).astype(np.float32)
    params = TrackParams(rotations, np.zeros((4, 3), np.float32), arkit, np.zeros(6, np.float32),
                         np.repeat(np.eye(3, dtype=np.float32)[None], 4, 0), w2c, (64, 64),
                         np.arange(4), np.ones(4, bool))
    clip = TrackedVideo({}, params, ())
    turned = w2c[:2].copy()
    turned[:, :3, :3] = turned[:, :3, :3] @ np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float32)  # a side view
    cams = np.concatenate([w2c[:2], turned])
    pseudo = Views(torch.zeros(4, 8, 8, 3), torch.zeros(4, 8, 8),
                   Cameras(torch.from_numpy(cams), torch.eye(3).expand(4, 3, 3), 8, 8),
                   Poses(torch.from_numpy(np.concatenate([rotations[:2], rotations[:2]])), torch.zeros(4, 3),
                         torch.from_numpy(np.concatenate([arkit[:2], arkit[:2]]))))
    assert uncovered(pseudo, clip).tolist() == [False, False, True, True]  # the clip shows the front, not the side
