"""``--import-video FILE``: frames of another video of the same person (an external generator's output, or real
footage) re-tracked with the bundle's body shape held fixed and added as pseudo-labels (origin 1), as One Shot One
Talk re-tracks its diffusion frames.

Uses the track stage's own detection and fitting (:func:`talkavatar.track.fit_frames.fit_footage` with
``shape=``). Frames are letterboxed into the pseudo frames' square size; alpha is the person mask. Frames where
no person is found are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkavatar.errors import InvalidInput, StageFailed


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


def load_videos(paths: list[Path], warn) -> list:
    """Decode every video first (raises :class:`InvalidInput` on an unreadable one)."""
    from talkavatar.track.footage import load_footage

    out = []
    for path in paths:
        footage = load_footage(path, detect_size=720)
        if footage.kind != "video":
            raise InvalidInput(f"{path}: is an image, not a video", tip="--import-video takes video files")
        for w in footage.warnings:
            warn(f"{path.name}: {w}")
        out.append((path, footage))
    return out


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit [H, W, C] into [size, size, C] (centred, black bars) -> (image, scale, x offset, y offset)."""
    from PIL import Image

    h, w = image.shape[:2]
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))
    out = np.zeros((size, size) + image.shape[2:], np.uint8)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out, nw / w, float(x0), float(y0)


def retrack(footages: list, shape: np.ndarray, size: int, device, log) -> list[ImportedClip]:
    import torch

    from talkavatar.core.body.anny import anny_body
    from talkavatar.track.camera import WORLD_TO_CAMERA
    from talkavatar.track.config import TrackConfig
    from talkavatar.track.fit_frames import fit_footage
    from talkavatar.track.stage import detect_all

    body = anny_body(str(device))
    if len(shape) != len(body.default_shape):
        raise InvalidInput(f"the bundle's shape has {len(shape)} parameters but the body model has "
                           f"{len(body.default_shape)}", tip="track the photo again with the anny body model: `talkavatar track PHOTO --body-model anny`")
    clips = []
    for path, footage in footages:
        log(f"re-tracking {path.name}: {len(footage.frames)} frames, shape fixed")
        detections = detect_all(footage, 1, log)
        found = np.array([d.found for d in detections])
        if not found.any():
            raise StageFailed(f"{path}: no person detected in any frame",
                              tip="import a video that shows the person's face and shoulders")
        fitted = fit_footage(body, footage, detections, TrackConfig(), device, log, {},
                             shape=torch.from_numpy(np.asarray(shape, np.float32)))
        keep = np.flatnonzero(found)
        frames, ks = [], []
        for t in keep:
            mask = (np.clip(fitted.masks[t], 0, 1) * 255 + 0.5).astype(np.uint8)
            rgba = np.concatenate([footage.frames[t], mask[..., None]], -1)
            boxed, s, x0, y0 = letterbox(rgba, size)
            frames.append(boxed)
            k = fitted.K_work.astype(np.float64).copy()
            k[:2] *= s
            k[0, 2] += x0
            k[1, 2] += y0
            ks.append(k)
        clips.append(ImportedClip(str(path), fitted.joint_rotations.numpy()[keep],
                                  fitted.root_translation.numpy()[keep], fitted.arkit_weights.numpy()[keep],
                                  np.stack(ks).astype(np.float32),
                                  np.repeat(WORLD_TO_CAMERA[None], len(keep), 0), frames))
    return clips
