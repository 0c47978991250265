"""Live Link Face CSV: write, read back, frame-rate detection, errors; load_motion_any on both formats."""

from __future__ import annotations

import numpy as np
import pytest

from talkavatar.errors import InvalidInput
from talkavatar.motion import Motion, load_motion_any, save_motion
from talkavatar.motion.arkit_csv import CSV_HEADER, head_and_eye_angles, load_arkit_csv, save_arkit_csv, timecode
from talkavatar.motion.names import JOINT_INDEX


def _motion(frames: int, fps: float, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    m = Motion.still(frames, fps)
    m.arkit_weights[:] = rng.uniform(0, 1, m.arkit_weights.shape)
    for joint, scale in (("neck", 0.1), ("head", 0.2), ("left_eye_smplhf", 0.15), ("right_eye_smplhf", 0.15)):
        m.joint_rotations[:, JOINT_INDEX[joint]] = rng.normal(0, scale, (frames, 3))
    return m


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
def test_round_trip_keeps_weights_head_and_eyes(tmp_path, fps):
    m = _motion(int(2.5 * fps), fps)
    path = tmp_path / "face.csv"
    save_arkit_csv(path, m)
    back = load_arkit_csv(path)
    assert back.fps == fps and back.frames == m.frames
    assert np.abs(back.arkit_weights - m.arkit_weights).max() < 1e-6
    assert np.abs(head_and_eye_angles(back.joint_rotations) - head_and_eye_angles(m.joint_rotations)).max() < 1e-5
    assert np.allclose(back.joint_rotations[:, JOINT_INDEX["left_elbow"]], 0)


def test_layout_is_live_link_face(tmp_path):
    path = tmp_path / "face.csv"
    save_arkit_csv(path, _motion(3, 30.0))
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(CSV_HEADER) and len(CSV_HEADER) == 63
    assert lines[0].startswith("Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft")
    assert lines[0].endswith("MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,"
                             "BrowOuterUpRight,CheekPuff,CheekSquintLeft,CheekSquintRight,NoseSneerLeft,"
                             "NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,"
                             "LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll")
    assert lines[2].split(",")[:2] == ["00:00:00:01.000", "61"]


def test_timecodes():
    assert timecode(0, 30) == "00:00:00:00.000"
    assert timecode(45, 30) == "00:00:01:15.000"
    assert timecode(30 * 3661, 30) == "01:01:01:00.000"


def test_short_clip_rate_from_the_caller(tmp_path):
    path = tmp_path / "short.csv"
    save_arkit_csv(path, _motion(10, 50.0))
    assert load_motion_any(path, fps=50.0).fps == 50.0


def test_bad_csv_is_invalid_input(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(InvalidInput):
        load_arkit_csv(bad)
    path = tmp_path / "face.csv"
    save_arkit_csv(path, _motion(5, 30.0))
    rows = path.read_text().splitlines()
    rows[3] = rows[3].replace(",", ",x", 5)
    path.write_text("\n".join(rows))
    with pytest.raises(InvalidInput, match="malformed"):
        load_arkit_csv(path)


def test_load_motion_any_reads_safetensors_too(tmp_path):
    m = _motion(12, 30.0)
    save_motion(tmp_path / "a.motion.safetensors", m)
    back = load_motion_any(tmp_path / "a.motion.safetensors")
    assert np.array_equal(back.arkit_weights, m.arkit_weights)
