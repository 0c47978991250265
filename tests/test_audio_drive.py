"""drive-audio end to end: the stage function and the CLI (outputs, errors, determinism, silence, config)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.audio.drive import drive_audio
from talkavatar.cli import app
from talkavatar.motion import load_motion, load_motion_any
from talkavatar.motion.names import ARKIT_INDEX, JOINT_INDEX
from talkavatar.audio.visemes import CLOSE_CHANNEL, MOUTH_CHANNELS, REST_CLOSE
from tests.audio_fixtures import speech_like, write_wav

runner = CliRunner()


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("drive") / "talk.wav", speech_like(6.0, 22050, seed=4), 22050)


def test_motion_has_the_contract_shapes_and_ranges(speech):
    # The formant "speech" is no language: auto would send it to the language-independent recogniser; the contract
    # is checked on the English path here, the other paths in test_audio_languages.py.
    result = drive_audio(speech, fps=25, seed=1, style="lively", language="en")
    m = result.motion
    assert m.frames == round(6.0 * 25) and m.fps == 25
    assert m.joint_rotations.shape == (m.frames, 55, 3) and m.arkit_weights.shape == (m.frames, 52)
    assert m.root_translation.shape == (m.frames, 3)
    assert np.isfinite(m.joint_rotations).all() and np.isfinite(m.arkit_weights).all()
    assert m.arkit_weights.min() >= 0 and m.arkit_weights.max() <= 1
    assert m.arkit_weights[:, ARKIT_INDEX["jawOpen"]].max() > 0.2        # the mouth moves when there is speech
    assert m.audio["sha256"] and m.audio["offset_seconds"] == 0.0
    # Smooth: speeds a person can reach (< 8 rad/s) and no jitter (no zig-zag: two velocity reversals in a row
    # of more than 0.005 rad per frame each).
    for joint in ("head", "neck", "left_shoulder", "right_elbow", "left_wrist"):
        d = np.diff(m.joint_rotations[:, JOINT_INDEX[joint]].astype(np.float64), axis=0)
        assert np.abs(d).max() * m.fps < 8.0, joint
        big = np.abs(d) > 0.005
        zigzag = (d[:-2] * d[1:-1] < 0) & (d[1:-1] * d[2:] < 0) & big[:-2] & big[1:-1] & big[2:]
        assert not zigzag.any(), joint


def test_same_seed_same_motion_other_seed_differs(speech):
    a = drive_audio(speech, seed=7).motion
    b = drive_audio(speech, seed=7).motion
    c = drive_audio(speech, seed=8).motion
    assert np.array_equal(a.joint_rotations, b.joint_rotations)
    assert np.array_equal(a.arkit_weights, b.arkit_weights)
    assert not np.array_equal(a.joint_rotations, c.joint_rotations)
    # The lips follow the audio, not the seed.
    assert np.array_equal(a.arkit_weights[:, MOUTH_CHANNELS], c.arkit_weights[:, MOUTH_CHANNELS])


def test_silent_file_gives_a_still_face_with_closed_mouth(tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(3 * 16000, np.float32))
    result = drive_audio(path, style="lively")
    w = result.motion.arkit_weights
    rest = np.zeros(len(MOUTH_CHANNELS))
    rest[MOUTH_CHANNELS.index(CLOSE_CHANNEL)] = REST_CLOSE                              # lips together, still
    assert np.abs(w[:, MOUTH_CHANNELS] - rest).max() < 1e-6 and REST_CLOSE > 0
    assert result.gestures == [] and result.accents == []
    head = result.motion.joint_rotations[:, JOINT_INDEX["head"]]
    assert np.abs(head).max() < 0.15                                       # only slow idle sway


def test_no_gestures_keeps_arms_at_rest(speech):
    with_gestures = drive_audio(speech, style="lively", seed=2)
    without = drive_audio(speech, style="lively", seed=2, gestures=False)
    assert with_gestures.gestures and not without.gestures
    elbow = without.motion.joint_rotations[:, JOINT_INDEX["left_elbow"]]
    assert np.ptp(elbow, axis=0).max() < 0.15


def test_cli_writes_motion_and_reports_json(tmp_path, speech):
    out = tmp_path / "talk.motion.safetensors"
    result = runner.invoke(app, ["drive-audio", str(speech), "-o", str(out), "--fps", "30", "--seed", "3",
                                 "--style", "calm", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["output"] == str(out) and record["frames"] == 180 and record["lip_sync"] == "recognition"
    assert set(record["timings_s"]) >= {"decode", "phones", "visemes", "gestures", "write"}
    assert load_motion(out).frames == 180


def test_an_up_to_date_motion_is_skipped_and_force_makes_it_again(tmp_path, speech):
    out = tmp_path / "talk.motion.safetensors"
    args = ["drive-audio", str(speech), "-o", str(out), "--seed", "3", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    made = out.stat().st_mtime_ns, out.read_bytes()
    again = runner.invoke(app, args)                                   # same audio, settings and output: skipped
    assert again.exit_code == 0, again.output
    assert f"{out}: drive-audio is up to date (use --force to redo)" in again.stderr
    skipped, record = json.loads(again.stdout), json.loads(first.stdout)
    assert skipped["skipped"] and not record["skipped"] and skipped["timings_s"] == {}
    assert {k: skipped[k] for k in ("output", "frames", "phones", "gestures")} == \
        {k: record[k] for k in ("output", "frames", "phones", "gestures")}
    assert (out.stat().st_mtime_ns, out.read_bytes()) == made             # not rewritten
    forced = runner.invoke(app, args + ["--force"])
    assert forced.exit_code == 0 and not json.loads(forced.stdout)["skipped"]
    assert out.stat().st_mtime_ns != made[0] and out.read_bytes() == made[1]  # rewritten, same seed: same bytes
    other = runner.invoke(app, args[:-3] + ["--seed", "4", "--json"])   # another setting: made again
    assert not json.loads(other.stdout)["skipped"] and out.read_bytes() != made[1]
    out.write_bytes(b"edited")                                           # an output changed since: made again
    redo = runner.invoke(app, args[:-3] + ["--seed", "4", "--json"])
    assert not json.loads(redo.stdout)["skipped"] and load_motion(out).frames == 180


def test_cli_default_output_name_and_arkit_csv(tmp_path, speech, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["drive-audio", str(speech), "--format", "arkit-csv", "--no-gestures"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "talk.csv"
    header = (tmp_path / "talk.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"] and len(header) == 2 + 52 + 9
    back = load_motion_any(tmp_path / "talk.csv")
    assert back.frames == 180 and back.fps == 30.0
    result = runner.invoke(app, ["drive-audio", str(speech)])
    assert result.exit_code == 0 and (tmp_path / "talk.motion.safetensors").is_file()


def test_cli_transcript_from_text_or_file(tmp_path, speech):
    words = tmp_path / "words.txt"
    words.write_text("hello there how are you\n")
    for value in ("hello there how are you", str(words)):
        result = runner.invoke(app, ["drive-audio", str(speech), "--transcript", value, "-o",
                                     str(tmp_path / "t.motion.safetensors"), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["lip_sync"] in ("alignment", "recognition")


@pytest.mark.parametrize("content", [b"", b"RIFF....WAVEfmt definitely not audio" * 20])
def test_cli_bad_audio_exits_3_with_one_line(tmp_path, content):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    result = runner.invoke(app, ["drive-audio", str(bad), "-o", str(tmp_path / "x.motion.safetensors")])
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "tip:" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.motion.safetensors").exists()


def test_cli_bad_settings_exit_2(tmp_path, speech):
    assert runner.invoke(app, ["drive-audio", str(speech), "--style", "wild"]).exit_code == 2
    assert runner.invoke(app, ["drive-audio", str(speech), "--format", "bvh"]).exit_code == 2
    assert runner.invoke(app, ["drive-audio", str(speech), "--fps", "0"]).exit_code == 2
    assert runner.invoke(app, ["drive-audio", str(speech), "-o", str(tmp_path / "no" / "x.csv")]).exit_code == 2


def test_config_file_then_flags(tmp_path, speech):
    cfg = tmp_path / "talk.toml"
    cfg.write_text('[drive-audio]\nfps = 20.0\nstyle = "lively"\n')
    out = tmp_path / "c.motion.safetensors"
    result = runner.invoke(app, ["drive-audio", str(speech), "--config", str(cfg), "-o", str(out), "--json"])
    assert json.loads(result.stdout)["fps"] == 20.0
    result = runner.invoke(app, ["drive-audio", str(speech), "--config", str(cfg), "--fps", "24", "-o", str(out),
                                 "--json"])
    assert json.loads(result.stdout)["fps"] == 24.0


def test_cli_options_match_config_fields():
    result = runner.invoke(app, ["drive-audio", "--help"], terminal_width=200)
    for field in dataclasses.fields(DriveAudioConfig):
        assert f"--{field.name}" in result.stdout, field.name
    for option in ("--output", "--transcript", "--no-gestures", "--json", "--config"):
        assert option in result.stdout
