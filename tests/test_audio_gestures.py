"""drive-audio's gestures (the motion library's stroke gestures on accents), checked with a small forward
kinematics (no mesh in this branch)."""

from __future__ import annotations

import numpy as np
import pytest

from talkavatar.audio.gestures import (FIELDS, REPEAT_WINDOW_S, REST, STYLES, gesture_motion, library_gestures,
                                       schedule, side_rotations)
from talkavatar.motion.library import clip as library_clip
from talkavatar.motion.library.anatomy import ARM_LIMITS, ARM_REST
from talkavatar.audio.prosody import Accent
from talkavatar.motion.names import JOINT_INDEX
from talkavatar.motion.rotations import axis_angle_to_matrix, compose_axis_angle, matrix_to_axis_angle
from talkavatar.motion.skeleton import REST_JOINTS, forward_kinematics, hand_torso_depth

def _arm(**channels: float) -> np.ndarray:
    """An arm pose array (FIELDS order): rest with ``channels`` replaced."""
    return np.array([channels.get(f, ARM_REST[f]) for f in FIELDS])


def _pose(params_by_side: dict[str, np.ndarray]) -> np.ndarray:
    rot = np.zeros((1, 55, 3))
    for side, pose in params_by_side.items():
        for name, value in side_rotations(pose[None], side).items():
            rot[0, JOINT_INDEX[name]] = value
    return rot


def _world_rotation(rot: np.ndarray, joint: str) -> np.ndarray:
    from talkavatar.motion.names import JOINT_PARENTS
    chain, j = [], JOINT_INDEX[joint]
    while j >= 0:
        chain.append(j)
        j = JOINT_PARENTS[j]
    out = np.eye(3)
    for j in reversed(chain):
        out = out @ axis_angle_to_matrix(rot[0, j])
    return out


def test_rest_skeleton_is_a_t_pose_with_left_at_plus_x():
    j = JOINT_INDEX
    assert REST_JOINTS[j["left_wrist"], 0] > 0.5 and REST_JOINTS[j["right_wrist"], 0] < -0.5
    assert abs(REST_JOINTS[j["left_wrist"], 1] - REST_JOINTS[j["left_shoulder"], 1]) < 0.05   # arms horizontal
    assert REST_JOINTS[j["head"], 1] > REST_JOINTS[j["neck"], 1] > REST_JOINTS[j["pelvis"], 1]


def test_lowering_the_left_arm_is_a_negative_z_rotation():
    rot = np.zeros((1, 55, 3))
    rot[0, JOINT_INDEX["left_shoulder"], 2] = -np.radians(70)
    rot[0, JOINT_INDEX["right_shoulder"], 2] = +np.radians(70)
    pos = forward_kinematics(rot)[0]
    for side, sign in (("left", 1), ("right", -1)):
        shoulder, wrist = pos[JOINT_INDEX[f"{side}_shoulder"]], pos[JOINT_INDEX[f"{side}_wrist"]]
        assert wrist[1] < shoulder[1] - 0.4                     # hangs down
        assert sign * (wrist[0] - shoulder[0]) > 0.1            # still on its own side
        assert abs(wrist[2]) < 0.05


def test_rest_pose_hangs_relaxed_beside_the_body():
    rest = _pose({"left": REST, "right": REST})
    pos = forward_kinematics(rest)
    j = JOINT_INDEX
    for side in ("left", "right"):
        assert pos[0, j[f"{side}_wrist"], 1] < pos[0, j["spine1"], 1]         # hands below the belly
    assert (hand_torso_depth(rest) < 0).all()


def test_bending_the_elbow_brings_the_forearm_forward_and_supination_turns_the_palm_up():
    for side in ("left", "right"):
        bent = dict(down=1.3, forward=0.2, inward=0.0, elbow=1.5, twist=0.0)
        rot = _pose({side: _arm(**bent)})
        pos = forward_kinematics(rot)[0]
        elbow, wrist = pos[JOINT_INDEX[f"{side}_elbow"]], pos[JOINT_INDEX[f"{side}_wrist"]]
        assert wrist[2] - elbow[2] > 0.2
        palm_up = _world_rotation(_pose({side: _arm(**{**bent, "twist": 1.4})}), f"{side}_wrist")
        palm_neutral = _world_rotation(rot, f"{side}_wrist")
        down = np.array([0.0, -1.0, 0.0])                              # palm normal in the T-pose
        assert (palm_up @ down)[1] > 0.5 > abs((palm_neutral @ down)[1])


def test_gestures_are_the_librarys_and_respect_joint_limits_and_start_and_end_at_rest():
    gestures = library_gestures()
    assert len({c.name for c in gestures}) == len(gestures) >= 10
    for clip in gestures:
        library_clip(clip.name)                          # one source: every gesture is a library clip
        assert list(clip.times) == sorted(clip.times) and clip.start < 0 < clip.end
        for poses in (clip.left, clip.right):
            if poses is None:
                continue
            assert np.array_equal(poses[0], REST) and np.array_equal(poses[-1], REST)
            for pose in poses:
                for name, value in zip(FIELDS, pose):
                    lo, hi = ARM_LIMITS[name]
                    assert lo <= value <= hi, (clip.name, name, value)


def test_a_stroke_apex_is_the_library_clips_stroke_pose():
    clip = next(c for c in library_gestures() if c.name == "point_forward_left")
    lib = library_clip("point_forward_left")
    apex = {f: clip.left[2, k] for k, f in enumerate(FIELDS)}
    # The library clip reaches the same pose at its first stroke keyframe (its second keyframe after rest).
    assert all(abs(lib.channels[f"left.{f}"].values[2] - v) < 1e-9 for f, v in apex.items())
    assert clip.right is None


def test_mirroring_matches_a_reflected_skeleton():
    pose = library_gestures()[3].left[2]
    left = forward_kinematics(_pose({"left": pose}))[0]
    right = forward_kinematics(_pose({"right": pose}))[0]
    for part in ("elbow", "wrist", "middle3"):
        l, r = left[JOINT_INDEX[f"left_{part}"]], right[JOINT_INDEX[f"right_{part}"]]
        assert np.allclose(l * [-1, 1, 1], r, atol=1e-9)


def _accents(seconds: float, every: float = 0.45) -> list[Accent]:
    rng = np.random.default_rng(0)
    return [Accent(float(t), float(rng.uniform(0.4, 1.0)), 0.0) for t in np.arange(0.5, seconds - 0.5, every)]


@pytest.mark.parametrize("style", ["calm", "lively"])
def test_hands_never_enter_the_torso_and_no_clip_repeats_within_10_s(style):
    fps, seconds = 30.0, 60.0
    joints, _, placements = gesture_motion(_accents(seconds), int(seconds * fps), fps, style,
                                              np.random.default_rng(5))
    assert len(placements) >= 10
    assert (hand_torso_depth(joints) < 0).all()
    for i, p in enumerate(placements):
        for q in placements[:i]:
            assert q.clip.name != p.clip.name or p.stroke - q.stroke >= REPEAT_WINDOW_S


def test_strokes_peak_on_their_accents():
    fps, seconds = 50.0, 30.0
    joints, root, placements = gesture_motion(_accents(seconds, 0.7), int(seconds * fps), fps, "lively",
                                              np.random.default_rng(1))
    pos = forward_kinematics(joints, root)
    near = 0
    for p in placements:
        side = "left" if p.clip.left is not None else "right"
        w = pos[:, JOINT_INDEX[f"{side}_wrist"]]
        lo, hi = int((p.stroke - 0.35) * fps), int((p.stroke + 0.35) * fps)
        speed = np.linalg.norm(np.diff(w[lo - 1:hi + 1], axis=0), axis=1)
        near += abs((lo + np.argmax(speed)) / fps - p.stroke) <= 0.15
    assert near >= 0.8 * len(placements)


def test_lively_gestures_more_and_bigger_than_calm():
    accents = _accents(60.0)
    calm = schedule(accents, 60.0, STYLES["calm"], np.random.default_rng(0))
    lively = schedule(accents, 60.0, STYLES["lively"], np.random.default_rng(0))
    assert len(lively) > len(calm)
    assert np.mean([p.amplitude for p in lively]) > np.mean([p.amplitude for p in calm])


def test_rotation_helpers_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(200, 3))
    v *= (rng.uniform(0, np.pi - 1e-3, 200) / np.linalg.norm(v, axis=1))[:, None]
    assert np.allclose(matrix_to_axis_angle(axis_angle_to_matrix(v)), v, atol=1e-8)
    a, b = v[:1], v[1:2]
    composed = axis_angle_to_matrix(compose_axis_angle(a, b))
    assert np.allclose(composed, axis_angle_to_matrix(a) @ axis_angle_to_matrix(b))
