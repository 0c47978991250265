"""`talkavatar eval` on the command line: usage errors, unreadable inputs, a rendered clip's identity (dlib) with
its report files, and exit 4 when --identity is asked for without dlib."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkavatar.cli import app

runner = CliRunner()


def _clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """An H.264 mp4 of uint8 RGB ``frames`` (no sound)."""
    import imageio_ffmpeg

    h, w = frames[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, quality=9, macro_block_size=1)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


@pytest.fixture(scope="module")
def astronaut_clip(tmp_path_factory) -> tuple[Path, Path]:
    """A 3-frame clip of the astronaut photo (256 px) and the photo itself."""
    from PIL import Image
    from skimage.data import astronaut

    root = tmp_path_factory.mktemp("eval")
    photo = np.asarray(Image.fromarray(astronaut()).resize((256, 256), Image.LANCZOS))
    Image.fromarray(photo).save(root / "photo.png")
    return _clip(root / "clip.mp4", [photo, photo[:, ::-1], photo]), root / "photo.png"


def test_no_arguments_prints_help():
    result = runner.invoke(app, ["eval"])
    assert result.exit_code in (0, 2) and "--video" in result.output and "--render" in result.output  # click >= 8.2: 2


@pytest.mark.parametrize("args", [["--video", "a.mp4", "--render", "b.mp4"], ["--identity"],
                                  ["--video", "a.mp4", "--audio", "s.wav"], ["--render", "b.mp4", "--size", "8"]])
def test_usage_errors_exit_2(args):
    result = runner.invoke(app, ["eval", *args])
    assert result.exit_code == 2, result.output


def test_missing_clip_exits_3(tmp_path):
    result = runner.invoke(app, ["eval", "--render", str(tmp_path / "none.mp4")])
    assert result.exit_code == 3
    assert "no such video file" in result.output


def test_identity_on_a_clip_with_report(astronaut_clip, tmp_path):
    pytest.importorskip("dlib")
    clip, photo = astronaut_clip
    result = runner.invoke(app, ["eval", "--render", str(clip), "--photo", str(photo), "--identity-every", "1",
                                 "--json", "--report", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    identity = summary["identity"]
    assert identity["frames_compared"] == 3 and identity["frames_without_face"] == 0
    assert identity["distance"] < 0.3 and identity["cosine"] > 0.95      # the same person, H.264 and mirrored
    assert "lip_sync" in summary["unavailable"] and "control" in summary["unavailable"]
    assert (tmp_path / "report" / "contact_sheet.png").stat().st_size > 1000


def test_identity_requested_without_dlib_exits_4(astronaut_clip, monkeypatch):
    clip, photo = astronaut_clip
    monkeypatch.setitem(sys.modules, "dlib", None)  # what an environment without dlib-bin looks like to `import`
    result = runner.invoke(app, ["eval", "--render", str(clip), "--photo", str(photo), "--identity"])
    assert result.exit_code == 4, result.output
    assert "pip install dlib-bin" in result.output
    quiet = runner.invoke(app, ["eval", "--render", str(clip), "--photo", str(photo), "--json"])
    assert quiet.exit_code == 0, quiet.output
    assert "dlib" in json.loads(quiet.stdout)["unavailable"]["identity"]


def test_results_go_to_stdout_as_a_table_without_json(astronaut_clip):
    """eval used to print its table on stderr only: `talkavatar eval ... > results.txt` left the file empty."""
    clip, photo = astronaut_clip
    result = runner.invoke(app, ["eval", "--render", str(clip), "--photo", str(photo), "--identity-every", "1"])
    assert result.exit_code == 0, result.output
    assert "talkavatar eval" in result.stdout and "identity" in result.stdout
    assert "talkavatar eval" not in result.stderr
