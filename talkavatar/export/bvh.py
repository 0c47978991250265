"""Body motion as Biovision Hierarchy (``.bvh``): the canonical SMPL-X skeleton with the person's proportions.

HIERARCHY: the 55 canonical joints (:data:`talkavatar.motion.names.JOINT_NAMES`, SMPL-X naming) rooted at
``pelvis``; each joint's ``OFFSET`` is its rest position relative to its parent in metres, taken from the person's
rig in the canonical T-pose (+Y up, facing +Z); leaves end in an ``End Site`` with a zero offset. The root has
``Xposition Yposition Zposition Zrotation Xrotation Yrotation`` channels, every other joint
``Zrotation Xrotation Yrotation``: Euler angles in degrees composed as ``R = Rz(z) Rx(x) Ry(y)`` (the usual BVH
reading: channels apply in the order listed), each joint's rotation local to its parent with world-aligned rest
axes, exactly the motion file's axis-angle. MOTION: one line per motion frame at the motion's rate; the root
position is the rest pelvis plus the motion's root translation.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from talkavatar.motion.file import Motion
from talkavatar.motion.names import JOINT_NAMES, JOINT_PARENTS

EULER_ORDER = "ZXY"  # scipy's intrinsic order: R = Rz @ Rx @ Ry


def bvh_text(motion: Motion, rest_joints: np.ndarray) -> str:
    """The BVH file of ``motion`` on a skeleton whose canonical rest joints are ``rest_joints`` [55, 3] metres."""
    rest = np.asarray(rest_joints, np.float64)
    lines = ["HIERARCHY"]
    _joint_lines(0, rest, 0, lines)
    frames = motion.frames
    euler = Rotation.from_rotvec(np.asarray(motion.joint_rotations, np.float64).reshape(-1, 3)).as_euler(
        EULER_ORDER, degrees=True).reshape(frames, len(JOINT_NAMES), 3)
    root = rest[0] + np.asarray(motion.root_translation, np.float64)
    order = _depth_first()
    table = np.concatenate([root, euler[:, order].reshape(frames, -1)], 1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in table]
    return "\n".join(lines) + "\n"


def _children(joint: int) -> list[int]:
    return [j for j, p in enumerate(JOINT_PARENTS) if p == joint]


def _depth_first(joint: int = 0) -> list[int]:
    """Joints in the order the HIERARCHY lists them (which is the order of the MOTION columns)."""
    out = [joint]
    for child in _children(joint):
        out += _depth_first(child)
    return out


def _joint_lines(joint: int, rest: np.ndarray, depth: int, lines: list[str]) -> None:
    pad = "  " * depth
    parent = JOINT_PARENTS[joint]
    offset = rest[joint] - (rest[parent] if parent >= 0 else 0.0)
    lines.append(f"{pad}{'ROOT' if parent < 0 else 'JOINT'} {JOINT_NAMES[joint]}")
    lines.append(f"{pad}{{")
    lines.append(f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
    channels = "Zrotation Xrotation Yrotation"
    lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {channels}" if parent < 0
                 else f"{pad}  CHANNELS 3 {channels}")
    children = _children(joint)
    for child in children:
        _joint_lines(child, rest, depth + 1, lines)
    if not children:
        lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0.000000 0.000000 0.000000", f"{pad}  }}"]
    lines.append(f"{pad}}}")
