"""Re-tracking other videos of a bundle's person with its body shape held fixed (for ``pseudo --import-video``).

Uses the track stage's own detection and fitting (:func:`talkavatar.track.fit_frames.fit_footage` with
``shape=``); the result is a :class:`~talkavatar.bundle.artifacts.TrackedFootage` per video, which the pseudo
stage turns into pseudo-label frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle.artifacts import TrackedFootage, TrackParams
from talkavatar.core.body.anny import anny_body
from talkavatar.errors import InvalidInput, StageFailed
from talkavatar.track.camera import WORLD_TO_CAMERA
from talkavatar.track.config import TrackConfig
from talkavatar.track.fit_frames import fit_footage
from talkavatar.track.footage import Footage, load_footage
from talkavatar.track.stage import detect_all

Log = Callable[[str], None]


def load_videos(paths: list[Path], warn: Log) -> list[tuple[Path, Footage]]:
    """Decode every video first (raises :class:`InvalidInput` on an unreadable one)."""
    out = []
    for path in paths:
        footage = load_footage(path, detect_size=720)
        if footage.kind != "video":
            raise InvalidInput(f"{path}: is an image, not a video", tip="--import-video takes video files")
        for w in footage.warnings:
            warn(f"{path.name}: {w}")
        out.append((path, footage))
    return out


def retrack(footages: list[tuple[Path, Footage]], shape: np.ndarray, device, log: Log) -> list[TrackedFootage]:
    """Track each video with the body ``shape`` [S] (Anny phenotypes) held fixed."""
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
        count = len(footage.frames)
        params = TrackParams(fitted.joint_rotations.numpy(), fitted.root_translation.numpy(),
                             fitted.arkit_weights.numpy(), np.asarray(shape, np.float32),
                             np.repeat(fitted.K_work[None].astype(np.float32), count, 0),
                             np.repeat(WORLD_TO_CAMERA[None], count, 0), footage.work_size,
                             np.array(footage.frame_indices, np.int32), found, footage.fps)
        clips.append(TrackedFootage(str(path), list(footage.frames), list(fitted.masks), params))
    return clips
