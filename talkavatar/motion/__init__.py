"""Motion: canonical joint and blendshape names and the motion file format (no torch)."""

from talkavatar.motion.file import Motion, load_motion, save_motion
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES, JOINT_PARENTS

__all__ = ["Motion", "load_motion", "save_motion", "ARKIT_NAMES", "JOINT_NAMES", "JOINT_PARENTS"]
