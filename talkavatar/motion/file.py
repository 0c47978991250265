"""The motion file (``*.motion.safetensors``): body-model-agnostic talking motion.

Tensors (float32): ``joint_rotations`` [T, 55, 3] local axis-angle per canonical joint (radians),
``root_translation`` [T, 3] metres, ``arkit_weights`` [T, 52] in 0..1. Metadata: ``fps``, ``joint_names`` and
``arkit_names`` (JSON lists, the canonical orders of :mod:`talkavatar.motion.names`), optional ``audio``
(JSON ``{"path", "sha256", "offset_seconds"}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from talkavatar.bundle.tensors import load_tensors, save_tensors
from talkavatar.errors import InvalidInput
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES

SCHEMA = "talkavatar.motion"


@dataclass
class Motion:
    """A motion of ``T`` frames at ``fps``; see the module docstring for shapes and units."""

    fps: float
    joint_rotations: np.ndarray
    root_translation: np.ndarray
    arkit_weights: np.ndarray
    audio: dict | None = field(default=None)

    @property
    def frames(self) -> int:
        return int(self.joint_rotations.shape[0])

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    @classmethod
    def still(cls, frames: int, fps: float = 30.0) -> "Motion":
        """A rest pose held for ``frames`` frames."""
        return cls(fps, np.zeros((frames, len(JOINT_NAMES), 3), np.float32), np.zeros((frames, 3), np.float32),
                   np.zeros((frames, len(ARKIT_NAMES)), np.float32))


def save_motion(path: Path, motion: Motion) -> None:
    if not motion.fps > 0:
        raise ValueError("fps must be positive")
    metadata = {"fps": repr(float(motion.fps)), "joint_names": json.dumps(JOINT_NAMES),
                "arkit_names": json.dumps(ARKIT_NAMES)}
    if motion.audio is not None:
        metadata["audio"] = json.dumps(motion.audio)
    save_tensors(Path(path), {
        "joint_rotations": motion.joint_rotations.astype(np.float32),
        "root_translation": motion.root_translation.astype(np.float32),
        "arkit_weights": motion.arkit_weights.astype(np.float32),
    }, SCHEMA, metadata)


def load_motion(path: Path) -> Motion:
    tensors, metadata = load_tensors(Path(path), SCHEMA)
    if json.loads(metadata["joint_names"]) != list(JOINT_NAMES) or \
            json.loads(metadata["arkit_names"]) != list(ARKIT_NAMES):
        raise InvalidInput(f"{path}: joint or blendshape names differ from the canonical order")
    try:
        fps = float(metadata["fps"])
    except ValueError:
        fps = -1.0
    if not fps > 0:
        raise InvalidInput(f"{path}: fps must be a positive number, got {metadata['fps']!r}")
    audio = json.loads(metadata["audio"]) if "audio" in metadata else None
    return Motion(fps, tensors["joint_rotations"], tensors["root_translation"], tensors["arkit_weights"], audio)
