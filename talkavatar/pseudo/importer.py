"""``--import-video FILE``: frames of another video of the same person (an external generator's output, or real
footage) re-tracked with the bundle's body shape held fixed and added as pseudo-labels (origin 1), as One Shot One
Talk re-tracks its diffusion frames.

The re-tracking is the track stage's (:func:`talkavatar.track.retrack.retrack`); the pipeline hands it to the
pseudo stage as a :data:`Retrack` function. Here its frames are letterboxed into the pseudo frames' square size;
alpha is the person mask. Frames where no person is found are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from talkavatar.bundle.artifacts import TrackedFootage

Retrack = Callable[[np.ndarray, object, Callable[[str], None]], list[TrackedFootage]]
"""(shape [S], torch device, log) -> the imported videos re-tracked with that body shape held fixed."""


@dataclass
class ImportedClip:
    """joint_rotations [T, 55, 3]; root_translation [T, 3]; arkit_weights [T, 52]; intrinsics [T, 3, 3];
    world_to_camera [T, 4, 4]; frames: T RGBA uint8 [S, S, 4]."""

    source: str
    joint_rotations: np.ndarray
    root_translation: np.ndarray
    arkit_weights: np.ndarray
    intrinsics: np.ndarray
    world_to_camera: np.ndarray
    frames: list[np.ndarray]


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit [H, W, C] into [size, size, C] (centred, black bars) -> (image, scale, x offset, y offset)."""
    h, w = image.shape[:2]
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    out = np.zeros((size, size) + image.shape[2:], np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out, nw / w, float(x0), float(y0)


def imported_clip(clip: TrackedFootage, size: int) -> ImportedClip:
    """The tracked frames of ``clip`` as ``size``² RGBA pseudo frames with matching intrinsics."""
    keep = np.flatnonzero(clip.params.tracked)
    frames, ks = [], []
    for t in keep:
        mask = (np.clip(clip.masks[t], 0, 1) * 255 + 0.5).astype(np.uint8)
        rgba = np.concatenate([clip.frames[t], mask[..., None]], -1)
        boxed, s, x0, y0 = letterbox(rgba, size)
        frames.append(boxed)
        k = clip.params.intrinsics[t].astype(np.float64).copy()
        k[:2] *= s
        k[0, 2] += x0
        k[1, 2] += y0
        ks.append(k)
    p = clip.params
    return ImportedClip(clip.source, p.joint_rotations[keep], p.root_translation[keep], p.arkit_weights[keep],
                        np.stack(ks).astype(np.float32), p.world_to_camera[keep], frames)
