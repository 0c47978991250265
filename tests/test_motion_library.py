"""The motion library: enough distinct clips of the right length, natural joint limits, hands out of the torso,
smooth monotone interpolation, and the pseudo-label sampler's root rotations."""

from __future__ import annotations

import numpy as np
import pytest

from talkavatar.motion.file import Motion, load_motion, save_motion
from talkavatar.motion.library import clips, motions
from talkavatar.motion.library.anatomy import ARM_LIMITS, AXIAL_LIMITS, JOINT_LIMITS_DEG, joint_limits_deg
from talkavatar.motion.library.keyframes import Clip, keys, monotone_cubic
from talkavatar.motion.library.sampling import sample_poses
from talkavatar.motion.skeleton import hand_torso_depth
from talkavatar.motion.names import JOINT_INDEX

ALL = motions(30.0)


def test_at_least_forty_distinct_clips_of_three_to_eight_seconds():
    cs = clips()
    assert len(cs) >= 40
    assert len({c.name for c in cs}) == len(cs)
    families = {c.family for c in cs}
    assert {"gesture", "head", "expression", "rest"} <= families
    for c in cs:
        assert 3.0 <= c.seconds <= 8.0, c.name
        m = ALL[c.name]
        assert isinstance(m, Motion) and m.fps == 30.0
        assert m.frames == round(c.seconds * 30)
    # distinct: no two clips produce the same motion
    flat = {name: np.concatenate([m.joint_rotations.ravel(), m.arkit_weights.ravel()]) for name, m in ALL.items()}
    names = list(flat)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if flat[a].shape == flat[b].shape:
                assert not np.allclose(flat[a], flat[b]), (a, b)


def test_the_families_ask_for_covers_talking_gestures_and_faces():
    names = " ".join(c.name for c in clips())
    for word in ("beat", "palm", "point", "counting", "shrug", "chest", "rest", "nod", "tilt", "turn", "talk",
                 "vowels", "smile", "brows", "blink", "surprise"):
        assert word in names, word


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_clip_respects_the_joint_limit_table(name):
    limits = np.radians(joint_limits_deg())  # [55, 3, 2]
    r = ALL[name].joint_rotations.astype(np.float64)
    tol = 1e-4
    low, high = r < limits[None, ..., 0] - tol, r > limits[None, ..., 1] + tol
    bad = np.argwhere((low | high).any(0))
    assert len(bad) == 0, [(int(j), int(a)) for j, a in bad]
    assert np.all(np.abs(r[:, [JOINT_INDEX[n] for n in ("left_hip", "right_knee", "pelvis")]]) == 0)
    w = ALL[name].arkit_weights
    assert w.min() >= 0 and w.max() <= 1


@pytest.mark.parametrize("name", sorted(ALL))
def test_hands_stay_out_of_the_torso(name):
    assert hand_torso_depth(ALL[name].joint_rotations).max() < 0.0


def test_limit_table_is_symmetric_and_anatomical():
    limits = joint_limits_deg()
    for name in JOINT_LIMITS_DEG:
        if name.startswith("left_"):
            left, right = limits[JOINT_INDEX[name]], limits[JOINT_INDEX["right_" + name[5:]]]
            assert np.allclose(left[0], right[0])
            assert np.allclose(left[1], -right[1][::-1]) and np.allclose(left[2], -right[2][::-1])
    elbow = limits[JOINT_INDEX["left_elbow"]]
    assert elbow[1, 1] == 0  # flexion only: no hyper-extension
    assert set(ARM_LIMITS) and set(AXIAL_LIMITS)


def test_channel_values_stay_inside_the_anatomical_ranges():
    for c in clips():
        for channel, track in c.channels.items():
            if channel.startswith(("left.", "right.")):
                lo, hi = ARM_LIMITS[channel.split(".", 1)[1]]
            elif channel in AXIAL_LIMITS:
                lo, hi = AXIAL_LIMITS[channel]
            else:
                lo, hi = 0.0, 1.0
            values = np.array(track.values)
            assert values.min() >= lo - 1e-9 and values.max() <= hi + 1e-9, (c.name, channel)


def test_monotone_cubic_never_overshoots_and_holds_the_ends():
    t = np.array([0.0, 1.0, 1.5, 3.0])
    v = np.array([0.0, 1.0, 1.0, -0.5])
    at = np.linspace(-1, 4, 501)
    y = monotone_cubic(t, v, at)
    assert y.max() <= 1.0 + 1e-12 and y.min() >= -0.5 - 1e-12
    assert np.allclose(monotone_cubic(t, v, t), v)
    assert y[0] == 0.0 and y[-1] == -0.5
    assert np.all(np.abs(np.diff(y)) < 0.05)  # smooth: no jumps between samples
    with pytest.raises(ValueError):
        keys((0, 0), (0, 1))


def test_unknown_channels_are_refused():
    with pytest.raises(ValueError, match="unknown channels"):
        Clip("bad", "gesture", 3.0, {"left.elbo": keys((0, 0.1), (1, 0.2))}).sample()


def test_sampled_poses_have_the_paper_root_rotations():
    poses = sample_poses(400, seed=3)
    assert poses.joint_rotations.shape == (400, 55, 3) and poses.arkit_weights.shape == (400, 52)
    from talkavatar.motion.rotations import axis_angle_to_matrix

    m = axis_angle_to_matrix(poses.joint_rotations[:, 0].astype(np.float64))
    forward = m[:, :, 2]  # where the body's +Z (facing direction) goes
    yaw = np.degrees(np.arctan2(forward[:, 0], forward[:, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-forward[:, 1], -1, 1)))
    assert np.abs(yaw).max() <= 10.01 and np.abs(pitch).max() <= 30.01
    assert np.abs(yaw).max() > 8 and np.abs(pitch).max() > 25  # the ranges are used
    again = sample_poses(400, seed=3)
    assert np.array_equal(again.joint_rotations, poses.joint_rotations) and again.sources == poses.sources


def test_the_sampler_draws_frames_of_the_whole_clips():
    """sample_poses samples only the frames it draws: each is the whole clip's frame, bit for bit."""
    from talkavatar.motion.library.sampling import HEAD_JOINTS

    poses = sample_poses(24, seed=5)
    others = [j for j in range(1, 55) if j not in HEAD_JOINTS]  # 0: the random root rotation
    for i, source in enumerate(poses.sources):
        (body, b), (head, h), (face, f) = ((name, int(frame)) for name, frame in
                                           (part.split("@") for part in source.split("+")))
        drawn, body_r, head_r = poses.joint_rotations[i], ALL[body].joint_rotations[b], ALL[head].joint_rotations[h]
        assert np.array_equal(drawn[others], body_r[others])
        assert np.array_equal(drawn[HEAD_JOINTS], body_r[HEAD_JOINTS]) or \
            np.array_equal(drawn[HEAD_JOINTS], head_r[HEAD_JOINTS])
        assert np.array_equal(poses.arkit_weights[i], ALL[face].arkit_weights[f])
    some = clips()[0]
    assert np.array_equal(some.sample(30.0, [7, 2]).joint_rotations, ALL[some.name].joint_rotations[[7, 2]])


def test_a_clip_round_trips_through_the_motion_file(tmp_path):
    m = ALL["beat_left"]
    save_motion(tmp_path / "beat.motion.safetensors", m)
    back = load_motion(tmp_path / "beat.motion.safetensors")
    assert np.array_equal(back.joint_rotations, m.joint_rotations) and back.fps == 30.0
