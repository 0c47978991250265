"""Snapshots of the command-line surface: every command's options, and for each command run on a tiny deterministic
input its exit status, the shape of its stdout, its ``--json`` keys (nested, with value kinds), and the error lines
for a few bad inputs. Numbers that depend on the run are masked; paths are relative to the test's folder.

Refresh on purpose with ``TALKAVATAR_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_cli_snapshots.py`` and review
the diff of ``tests/snapshots/cli.json``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from talkavatar.cli import app

SNAPSHOTS = Path(__file__).parent / "snapshots" / "cli.json"
UPDATE = os.environ.get("TALKAVATAR_UPDATE_SNAPSHOTS") == "1"
COMMANDS = ["track", "pseudo", "fit", "drive-audio", "render", "export", "view", "eval", "demo", "batch"]
runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _stored() -> dict:
    return json.loads(SNAPSHOTS.read_text()) if SNAPSHOTS.is_file() else {}


def check(name: str, value) -> None:
    """Compare ``value`` with the stored snapshot ``name`` (or store it with TALKAVATAR_UPDATE_SNAPSHOTS=1)."""
    value = json.loads(json.dumps(value, default=str))
    stored = _stored()
    if UPDATE:
        stored[name] = value
        SNAPSHOTS.parent.mkdir(exist_ok=True)
        SNAPSHOTS.write_text(json.dumps(dict(sorted(stored.items())), indent=1, sort_keys=False) + "\n")
        return
    assert name in stored, f"no snapshot {name!r}: run with TALKAVATAR_UPDATE_SNAPSHOTS=1 and review the diff"
    assert value == stored[name]


def shape(value):
    """Keys and value kinds of a JSON document, without the run-dependent values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [shape(v) for v in value if isinstance(v, dict)]
        return ["list", *items[:1]]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null" if value is None else "str"


def masked(text: str, root: Path) -> list[str]:
    """Lines of ``text`` with the test folder replaced by ``<tmp>`` and numbers by ``#``."""
    text = text.replace(str(root), "<tmp>")
    return [re.sub(r"\d+(\.\d+)?", "#", line).rstrip() for line in text.splitlines() if line.strip()]


def error_lines(text: str, root: Path) -> list[str]:
    """The ``error:`` and ``tip:`` lines of stderr, verbatim except for the test folder."""
    return [line.replace(str(root), "<tmp>").rstrip() for line in text.splitlines()
            if line.startswith(("error:", "tip:"))]


def outcome(result, root: Path, as_json: bool) -> dict:
    out = {"exit_code": result.exit_code}
    if result.exit_code == 0:
        out["stdout"] = shape(json.loads(result.stdout)) if as_json else masked(result.stdout, root)
    else:
        out["stderr"] = error_lines(result.stderr, root)
    return out


def run(root: Path, *args: str) -> dict:
    result = runner.invoke(app, [str(a) for a in args])
    return outcome(result, root, "--json" in args)


# -- the options of every command -------------------------------------------------------------------------------

def _type_name(param) -> str:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    return getattr(annotation, "__name__", str(annotation))


def _options(name: str) -> list[dict]:
    command = typer.main.get_command(app).commands[name]
    out = []
    for p in command.params:
        entry = {"name": p.name, "kind": p.param_type_name, "flags": p.opts + p.secondary_opts,
                 "type": _type_name(p), "flag": bool(getattr(p, "is_flag", False)),
                 "default": None if callable(p.default) else p.default, "help": getattr(p, "help", None)}
        out.append(entry)
    return out


@pytest.mark.parametrize("name", COMMANDS)
def test_options(name):
    check(f"options {name}", _options(name))


# -- runs on tiny inputs ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    """A folder with a short speech-like wav, its motion file and a toy avatar bundle (fit stage only)."""
    from tests.render_fixtures import speech_like_wav, toy_bundle

    root = tmp_path_factory.mktemp("snap")
    speech_like_wav(root / "speech.wav", 1.0)
    toy_bundle(root / "toy.avatar")
    return root


@pytest.fixture(scope="session")
def motion(work) -> Path:
    result = runner.invoke(app, ["drive-audio", str(work / "speech.wav"), "-o", str(work / "speech.motion.safetensors")])
    assert result.exit_code == 0, result.output
    return work / "speech.motion.safetensors"


def test_drive_audio(work, motion, tmp_path):
    check("run drive-audio", {
        "json": run(work, "drive-audio", work / "speech.wav", "-o", work / "a.motion.safetensors", "--json"),
        "human": run(work, "drive-audio", work / "speech.wav", "-o", work / "b.csv", "--format", "arkit-csv"),
        "bad style": run(work, "drive-audio", work / "speech.wav", "--style", "wild"),
        "bad fps": run(work, "drive-audio", work / "speech.wav", "--fps", "0"),
        "bad audio": run(work, "drive-audio", work / "toy.avatar" / "bundle.json", "-o", work / "x.motion.safetensors"),
        "no out dir": run(work, "drive-audio", work / "speech.wav", "-o", work / "none" / "x.csv"),
    })


def test_render(work, motion):
    small = ["render", "-b", work / "toy.avatar", "--width", "32", "--height", "32", "--motion", motion]
    check("run render", {
        "json": run(work, *small, "-o", work / "r.mp4", "--duration", "0.3", "--json"),
        "human png": run(work, *small, "-o", work / "frames", "--format", "png", "--duration", "0.1"),
        "ply": run(work, "render", "-b", work / "toy.avatar", "--export-ply", work / "toy.ply", "--json"),
        "no bundle": run(work, "render", "-b", work / "none.avatar", "--motion", motion),
        "bad camera": run(work, *small, "--camera", "drone"),
        "odd size": run(work, *small, "--width", "31", "--format", "mp4"),
        "audio and motion": run(work, *small, "--audio", work / "speech.wav"),
    })


def test_export(work, motion):
    bundle = ["export", "-b", work / "toy.avatar"]
    check("run export", {
        "glb json": run(work, *bundle, "-o", work / "a.glb", "--motion", motion, "--json"),
        "bvh human": run(work, *bundle, "-o", work / "a.bvh", "--motion", motion),
        "web json": run(work, *bundle, "-o", work / "player", "--width", "32", "--height", "48", "--json"),
        "bvh without motion": run(work, *bundle, "-o", work / "b.bvh"),
        "unknown suffix": run(work, *bundle, "-o", work / "a.fbx"),
        "bad format": run(work, *bundle, "-o", work / "a.glb", "--format", "usdz"),
        "no bundle": run(work, "export", "-b", work / "none.avatar", "-o", work / "c.glb"),
        "not a player": run(work, "view", work / "speech.wav", "--port", "0"),
    })


def test_eval(work, motion):
    check("run eval", {
        "no args": {"exit_code": runner.invoke(app, ["eval"]).exit_code in (0, 2)},
        "both": run(work, "eval", "--video", "a.mp4", "--render", "b.mp4"),
        "video with audio": run(work, "eval", "--video", "a.mp4", "--audio", "s.wav"),
        "small size": run(work, "eval", "--render", "b.mp4", "--size", "8"),
        "missing clip": run(work, "eval", "--render", work / "none.mp4"),
        "bad perceptual": run(work, "eval", "--render", "b.mp4", "--perceptual", "ssim"),
    })


def test_eval_a_rendered_clip(work, motion):
    clip = work / "talk.mp4"
    made = runner.invoke(app, ["render", "-b", str(work / "toy.avatar"), "--width", "32", "--height", "32",
                               "--audio", str(work / "speech.wav"), "--duration", "0.5", "-o", str(clip)])
    assert made.exit_code == 0, made.output
    check("run eval clip", {
        "json": run(work, "eval", "--render", clip, "--no-identity", "--json"),
    })


def test_pseudo(tmp_path):
    from pseudo_scenes import write_tracked_bundle
    from talkavatar.bundle import Bundle

    bundle = write_tracked_bundle(tmp_path / "plane.avatar").root
    tiny = ["pseudo", "-b", bundle, "--frames", "2", "--size", "32", "--uv-res", "16", "--renderer", "mesh"]
    Bundle.create(tmp_path / "empty.avatar")
    check("run pseudo", {
        "json": run(tmp_path, *tiny, "--json"),
        "human (up to date)": run(tmp_path, *tiny),
        "no track": run(tmp_path, "pseudo", "-b", tmp_path / "empty.avatar", "--frames", "2"),
        "bad generator": run(tmp_path, "pseudo", "-b", bundle, "--generator", "diffusion"),
        "bad size": run(tmp_path, *tiny, "--size", "8"),
    })


def test_fit(tmp_path):
    from tests.fit_fixtures import make_bundle

    bundle = make_bundle(tmp_path / "toy.avatar", pseudo_frames=2)
    tiny = ["fit", bundle, "--preset", "tiny", "--iters", "2", "--uv-res", "16", "--image-size", "64",
            "--pseudo-size", "64", "--crop-size", "32", "--device", "cpu"]
    check("run fit", {
        "json": run(tmp_path, *tiny, "--json"),
        "human (up to date)": run(tmp_path, *tiny),
        "missing input": run(tmp_path, "fit", tmp_path / "nope.png"),
        "bad preset": run(tmp_path, "fit", bundle, "--preset", "huge"),
        "bad shape": run(tmp_path, "fit", bundle, "--shape", "cube"),
        "bad warmup": run(tmp_path, "fit", bundle, "--warmup", "1.5"),
    })


@pytest.fixture(scope="session")
def photo(tmp_path_factory) -> Path:
    """The astronaut photo (scikit-image, public domain) at 256 px."""
    from PIL import Image
    from skimage.data import astronaut

    root = tmp_path_factory.mktemp("photo")
    Image.fromarray(astronaut()).resize((256, 256), Image.LANCZOS).save(root / "astronaut.png")
    return root / "astronaut.png"


def test_track(photo, tmp_path):
    (tmp_path / "notes.txt").write_text("not a picture")
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(blank)
    fast = ["--steps", "4", "--detect-size", "256"]
    check("run track", {
        "json": run(tmp_path, "track", photo, "-o", tmp_path / "a.avatar", *fast, "--json"),
        "human (up to date)": run(tmp_path, "track", photo, "-o", tmp_path / "a.avatar", *fast),
        "text file": run(tmp_path, "track", tmp_path / "notes.txt", "-o", tmp_path / "t.avatar"),
        "missing file": run(tmp_path, "track", tmp_path / "none.jpg"),
        "bad steps": run(tmp_path, "track", photo, "--steps", "2"),
        "smplx without dir": run(tmp_path, "track", photo, "--body-model", "smplx"),
        "no person": run(tmp_path, "track", blank, "-o", tmp_path / "b.avatar"),
    })
    assert not (tmp_path / "b.avatar").exists() and not (tmp_path / "t.avatar").exists()


def test_demo(tmp_path):
    check("run demo", {
        "bad preset": run(tmp_path, "demo", "--preset", "huge", "-o", tmp_path / "d"),
    })


def test_global(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TALKAVATAR_BUNDLE", raising=False)
    check("run global", {
        "version": masked(runner.invoke(app, ["--version"]).stdout, tmp_path),
        "no bundle here": run(tmp_path, "render", "--audio", "speech.wav"),
        "unknown command": {"exit_code": runner.invoke(app, ["paint"]).exit_code},
        "unknown option": {"exit_code": runner.invoke(app, ["render", "--colour", "red"]).exit_code},
        "bad config file": run(tmp_path, "drive-audio", "x.wav", "--config", tmp_path / "none.toml"),
    })
