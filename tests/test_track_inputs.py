"""Input loading and the bad inputs of `talkavatar track`: exit codes, messages, and nothing left behind."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from talkavatar.cli import app
from talkavatar.errors import InvalidInput
from talkavatar.track.footage import MIN_SIDE, UPSCALED_SIDE, load_footage

runner = CliRunner()


def _track(tmp_path, path, *extra):
    bundle = tmp_path / "out.avatar"
    result = runner.invoke(app, ["track", str(path), "-o", str(bundle), *extra])
    return result, bundle


def _gradient(h=160, w=120):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 2 % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)


def test_text_file_is_invalid_input(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is not a photo\n" * 20)
    result, bundle = _track(tmp_path, path)
    assert result.exit_code == 3, result.output
    assert "neither an image nor a video" in result.output
    assert not bundle.exists()


def test_empty_and_missing_files_are_invalid_input(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result, bundle = _track(tmp_path, empty)
    assert result.exit_code == 3 and "empty" in result.output and not bundle.exists()
    result, bundle = _track(tmp_path, tmp_path / "missing.png")
    assert result.exit_code == 3 and not bundle.exists()


def test_truncated_image_and_garbage_video_are_invalid_input(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_gradient()).save(buf, format="JPEG")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(buf.getvalue()[:200])
    result, bundle = _track(tmp_path, broken)
    assert result.exit_code == 3, result.output
    assert not bundle.exists()
    garbage = tmp_path / "clip.mp4"
    garbage.write_bytes(bytes(range(256)) * 40)
    result, bundle = _track(tmp_path, garbage)
    assert result.exit_code == 3, result.output
    assert not bundle.exists()


def test_video_without_frames_is_invalid_input(tmp_path):
    import imageio_ffmpeg

    audio_only = tmp_path / "silence.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "anullsrc=r=8000:cl=mono", "-t", "0.2", str(audio_only)], check=True)
    result, bundle = _track(tmp_path, audio_only)
    assert result.exit_code == 3, result.output
    assert not bundle.exists()


def test_no_person_fails_with_nothing_written(tmp_path):
    path = tmp_path / "wall.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(path)
    result, bundle = _track(tmp_path, path)
    assert result.exit_code == 1, result.output
    assert "no person detected" in result.output
    assert not bundle.exists()


def test_bad_settings_are_usage_errors(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(_gradient()).save(path)
    result, bundle = _track(tmp_path, path, "--stride", "0")
    assert result.exit_code == 2 and not bundle.exists()
    result, bundle = _track(tmp_path, path, "--body-model", "smplx")
    assert result.exit_code == 2 and "smplx_dir" in result.output


def test_grey_rgba_and_exif_rotated_images_load_upright_rgb(tmp_path):
    rgb = _gradient(200, 150)
    grey = tmp_path / "grey.png"
    Image.fromarray(rgb[..., 0]).save(grey)
    f = load_footage(grey)
    assert f.frames[0].shape == (200, 150, 3) and f.frames[0].dtype == np.uint8
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.zeros((200, 150), np.uint8)])).save(rgba)
    f = load_footage(rgba)
    assert (f.frames[0] == 255).all()  # fully transparent composites over white
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(rgb).save(rotated, exif=exif.tobytes(), quality=95)
    f = load_footage(rotated)
    assert f.full_size == (200, 150) and f.frames[0].shape == (150, 200, 3)


def test_small_images_are_upscaled_and_huge_ones_downscaled(tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(_gradient(100, 80)).save(small)
    f = load_footage(small)
    assert min(f.frames[0].shape[:2]) == UPSCALED_SIDE and f.warnings and 80 < MIN_SIDE
    assert f.scale == pytest.approx(80 / UPSCALED_SIDE)
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((3000, 2000, 3), np.uint8)).save(big)
    f = load_footage(big, detect_size=1280)
    assert f.frames[0].shape[:2] == (1280, 853) and f.full_size == (2000, 3000) and f.full_frame.shape[:2] == (3000, 2000)


def test_video_frames_stride_and_max_frames(tmp_path):
    import imageio_ffmpeg

    clip = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x128:rate=10", "-t", "2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    f = load_footage(clip, stride=3, max_frames=4)
    assert f.kind == "video" and len(f.frames) == 4 and f.frame_indices == [0, 3, 6, 9]
    assert f.frames[0].shape == (128, 160, 3) and f.fps == pytest.approx(10 / 3)


def test_video_frames_from_a_start_frame(tmp_path):
    import imageio_ffmpeg

    clip = tmp_path / "clip.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=160x128:rate=10", "-t", "2", "-pix_fmt", "yuv420p", str(clip)], check=True)
    every = load_footage(clip)
    f = load_footage(clip, start=5, stride=4, max_frames=3)
    assert f.frame_indices == [5, 9, 13]
    for frame, i in zip(f.frames, f.frame_indices):
        assert np.array_equal(frame, every.frames[i])  # the frames themselves, not only their numbers
    with pytest.raises(InvalidInput):
        load_footage(clip, start=50)
