"""Motion: canonical joint and blendshape names and the motion file format (no torch)."""

from talkavatar.motion.any import load_motion_any
from talkavatar.motion.arkit_csv import load_arkit_csv, save_arkit_csv
from talkavatar.motion.file import Motion, load_motion, save_motion
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES, JOINT_PARENTS

__all__ = ["Motion", "load_motion", "save_motion", "load_motion_any", "load_arkit_csv", "save_arkit_csv",
           "ARKIT_NAMES", "JOINT_NAMES", "JOINT_PARENTS"]
