"""ARKit face curves as a Live Link Face CSV (Epic's iOS app layout), written and read back.

Columns: ``Timecode`` (``HH:MM:SS:FF.mmm``: frame ``FF`` within the second at the file's frame rate, then the
sub-frame fraction), ``BlendShapeCount`` (61), the 52 ARKit weights with capitalised names (``EyeBlinkLeft`` ...
``TongueOut``), then ``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw,
RightEyePitch, RightEyeRoll``. Angles are radians in our conventions (``R = Ry(yaw) Rx(pitch) Rz(roll)``, +Y up,
the face looking +Z, pitch > 0 looks down): the head angles are the neck and head joints composed, the eye angles
the eye joints. Reading puts 40 % of the head rotation on the neck and the rest on the head; other joints rest.
The CSV carries no frame rate: readers take it from the timecodes (rows per second), or from ``fps`` when given.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path

import numpy as np

from talkavatar.bundle.atomic import write_bytes_atomic
from talkavatar.errors import InvalidInput
from talkavatar.motion.file import Motion
from talkavatar.motion.names import ARKIT_NAMES, JOINT_INDEX, JOINT_NAMES
from talkavatar.motion.rotations import (axis_angle_to_matrix, euler_to_matrix, matrix_to_axis_angle,
                                         matrix_to_euler)

CSV_BLENDSHAPES = tuple(name[0].upper() + name[1:] for name in ARKIT_NAMES)
CSV_ROTATIONS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                 "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
CSV_HEADER = ("Timecode", "BlendShapeCount", *CSV_BLENDSHAPES, *CSV_ROTATIONS)
NECK_SHARE = 0.4
STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF.mmm`` of ``frame`` at ``fps``."""
    seconds = frame / fps
    whole = int(math.floor(seconds + 1e-9))
    within = (seconds - whole) * fps
    ff = int(math.floor(within + 1e-6))
    sub = max(within - ff, 0.0)
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{int(round(sub * 1000)) % 1000:03d}"


def _parse_timecode(text: str) -> tuple[int, float]:
    """``(whole seconds, frame-within-second incl. fraction)``."""
    parts = text.strip().split(":")
    if len(parts) != 4:
        raise ValueError(f"bad timecode {text!r}")
    h, m, s = (int(p) for p in parts[:3])
    return h * 3600 + m * 60 + s, float(parts[3])


def head_and_eye_angles(joint_rotations: np.ndarray) -> np.ndarray:
    """``[T, 9]`` head (neck @ head) and eye Euler angles from ``joint_rotations [T, 55, 3]``."""
    neck = axis_angle_to_matrix(joint_rotations[:, JOINT_INDEX["neck"]])
    head = axis_angle_to_matrix(joint_rotations[:, JOINT_INDEX["head"]])
    cols = [np.stack(matrix_to_euler(neck @ head), -1)]
    for eye in ("left_eye_smplhf", "right_eye_smplhf"):
        cols.append(np.stack(matrix_to_euler(axis_angle_to_matrix(joint_rotations[:, JOINT_INDEX[eye]])), -1))
    return np.concatenate(cols, axis=1)


def save_arkit_csv(path: Path, motion: Motion) -> None:
    """Write ``motion``'s ARKit weights and head/eye rotations as a Live Link Face CSV (atomically)."""
    angles = head_and_eye_angles(motion.joint_rotations)
    lines = [",".join(CSV_HEADER)]
    count = str(len(CSV_BLENDSHAPES) + len(CSV_ROTATIONS))
    for k in range(motion.frames):
        values = [f"{v:.6f}" for v in motion.arkit_weights[k]] + [f"{v:.6f}" for v in angles[k]]
        lines.append(",".join([timecode(k, motion.fps), count, *values]))
    write_bytes_atomic(Path(path), ("\n".join(lines) + "\n").encode())


def _guess_fps(stamps: list[tuple[int, float]]) -> float:
    per_second = Counter(s for s, _ in stamps)
    seconds = sorted(per_second)
    full = [per_second[s] for s in seconds[1:-1]]          # seconds fully inside the recording
    if full:
        return float(Counter(full).most_common(1)[0][0])
    top = max(f for _, f in stamps) + 1.0
    return next((r for r in STANDARD_RATES if r >= top - 1e-6), top)


def load_arkit_csv(path: Path, fps: float | None = None) -> Motion:
    """Read a Live Link Face CSV into a :class:`Motion` (face weights, neck/head/eye rotations; body at rest)."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: cannot read CSV ({e})") from None
    if not rows or rows[0][:1] != ["Timecode"]:
        raise InvalidInput(f"{path}: not a Live Link Face CSV (first column must be Timecode)")
    header = [h.strip() for h in rows[0]]
    missing = [n for n in CSV_BLENDSHAPES if n not in header]
    if missing:
        raise InvalidInput(f"{path}: missing blendshape column(s) {missing[:5]}")
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if not body:
        raise InvalidInput(f"{path}: no frames")
    col = {name: header.index(name) for name in header}
    try:
        stamps = [_parse_timecode(r[0]) for r in body]
        weights = np.array([[float(r[col[n]]) for n in CSV_BLENDSHAPES] for r in body], np.float32)
        angles = np.array([[float(r[col[n]]) if n in col else 0.0 for n in CSV_ROTATIONS] for r in body])
    except (ValueError, IndexError) as e:
        raise InvalidInput(f"{path}: malformed row ({e})") from None
    rate = float(fps) if fps else _guess_fps(stamps)
    frames = len(body)
    joints = np.zeros((frames, len(JOINT_NAMES), 3), np.float32)
    head_total = euler_to_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    neck = matrix_to_axis_angle(head_total) * NECK_SHARE
    head = matrix_to_axis_angle(np.swapaxes(axis_angle_to_matrix(neck), -1, -2) @ head_total)
    joints[:, JOINT_INDEX["neck"]] = neck
    joints[:, JOINT_INDEX["head"]] = head
    for k, eye in enumerate(("left_eye_smplhf", "right_eye_smplhf")):
        a = angles[:, 3 + 3 * k: 6 + 3 * k]
        joints[:, JOINT_INDEX[eye]] = matrix_to_axis_angle(euler_to_matrix(a[:, 0], a[:, 1], a[:, 2]))
    return Motion(rate, joints, np.zeros((frames, 3), np.float32), np.clip(weights, 0.0, 1.0))
