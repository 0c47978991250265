"""Open any motion the project reads: ``*.motion.safetensors`` or a Live Link Face ARKit CSV."""

from __future__ import annotations

from pathlib import Path

from talkavatar.motion.arkit_csv import load_arkit_csv
from talkavatar.motion.file import Motion, load_motion


def load_motion_any(path: Path, fps: float | None = None) -> Motion:
    """A :class:`Motion` from ``path``, chosen by suffix (``.csv`` -> ARKit CSV; else safetensors).

    ``fps`` overrides the frame rate of a CSV (which stores none); it is ignored for safetensors files.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return load_arkit_csv(path, fps)
    return load_motion(path)
