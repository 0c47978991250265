"""Drawing pseudo-label poses from the library: a body clip frame, a head clip frame and an expression clip frame
composed into one pose, plus a random root rotation (pitch within +-30 degrees, yaw within +-10 degrees, as One
Shot One Talk samples them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkavatar.motion.library import clips
from talkavatar.motion.names import JOINT_INDEX
from talkavatar.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle

HEAD_JOINTS = [JOINT_INDEX["neck"], JOINT_INDEX["head"]]


@dataclass(frozen=True)
class SampledPoses:
    """joint_rotations [N, 55, 3] (pelvis = the random root rotation, axis-angle); arkit_weights [N, 52];
    sources: N strings "body_clip@frame+head_clip@frame+expression_clip@frame"."""

    joint_rotations: np.ndarray
    arkit_weights: np.ndarray
    sources: list[str]


def root_rotation(pitch: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Root rotations [N, 3] axis-angle: yaw about +Y after pitch about +X (radians, [N] each)."""
    zero = np.zeros_like(pitch)
    return matrix_to_axis_angle(axis_angle_to_matrix(np.stack([zero, yaw, zero], -1))
                                @ axis_angle_to_matrix(np.stack([pitch, zero, zero], -1)))


def sample_poses(count: int, seed: int, fps: float = 30.0, pitch_degrees: float = 30.0,
                 yaw_degrees: float = 10.0) -> SampledPoses:
    if count == 0:
        return SampledPoses(np.zeros((0, 55, 3), np.float32), np.zeros((0, 52), np.float32), [])
    rng = np.random.default_rng(seed)
    library = {c.name: c for c in clips()}
    families: dict[str, list[str]] = {}
    for c in library.values():
        families.setdefault(c.family, []).append(c.name)
    body_names = families["gesture"] + families["rest"]
    draws = []  # per pose: ((body clip, frame), (head clip, frame), (expression clip, frame))
    for _ in range(count):
        names = (body_names[rng.integers(len(body_names))], families["head"][rng.integers(len(families["head"]))],
                 families["expression"][rng.integers(len(families["expression"]))])
        draws.append(tuple((name, int(rng.integers(library[name].frame_count(fps)))) for name in names))
    # only the drawn frames of the clips drawn are sampled (each as in the whole clip: the library has ~60 clips)
    wanted: dict[str, list[int]] = {}
    for pose in draws:
        for name, frame in pose:
            wanted.setdefault(name, []).append(frame)
    frames = {name: sorted(set(picked)) for name, picked in wanted.items()}
    sampled = {name: library[name].sample(fps, picked) for name, picked in frames.items()}

    def at(name: str, frame: int) -> int:
        return frames[name].index(frame)

    rotations, weights, sources = [], [], []
    for (body, b), (head, h), (face, f) in draws:
        r = sampled[body].joint_rotations[at(body, b)].copy()
        head_r = sampled[head].joint_rotations[at(head, h)]
        if np.abs(r[HEAD_JOINTS]).max() < 1e-6:  # the body clip leaves the head alone
            r[HEAD_JOINTS] = head_r[HEAD_JOINTS]
        rotations.append(r)
        weights.append(sampled[face].arkit_weights[at(face, f)])
        sources.append(f"{body}@{b}+{head}@{h}+{face}@{f}")
    rotations = np.stack(rotations).astype(np.float64)
    pitch = np.radians(rng.uniform(-pitch_degrees, pitch_degrees, count))
    yaw = np.radians(rng.uniform(-yaw_degrees, yaw_degrees, count))
    rotations[:, 0] = root_rotation(pitch, yaw)
    return SampledPoses(rotations.astype(np.float32), np.stack(weights).astype(np.float32), sources)
