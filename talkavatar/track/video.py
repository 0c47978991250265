"""A clip of the person for ``fit VIDEO`` and ``fit PHOTO --video CLIP``: its held-out tail, the presence check,
the photo frame of a video, and the ``track/video.json`` record (the track stage does the tracking).

``fit VIDEO``: the track stage fits the clip's frames with one shared shape and temporally smooth poses
(:func:`talkavatar.track.fit_frames.fit_footage`); its first tracked frame becomes the bundle's photo
(``source/image.png``). ``fit PHOTO --video CLIP``: the photo is tracked as usual, then the clip with the photo's
shape held fixed (the same fit with an empty shape space). Either way the last ``holdout`` fraction of the clip is
never tracked nor fitted: ``talkavatar eval --held-out`` scores the avatar on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from talkavatar.errors import InvalidInput, StageFailed
from talkavatar.ffmpeg import decode_frames, probe_video
from talkavatar.track.config import TrackConfig
from talkavatar.track.detect import Detection
from talkavatar.track.footage import Footage, load_footage, variable_frame_rate

Log = Callable[[str], None]


@dataclass(frozen=True)
class HeldOut:
    """The clip's tail kept out of tracking: ``first_frame`` (clip frame number, None: nothing held out),
    ``frames`` (count), ``first_time`` (s)."""

    first_frame: int | None
    frames: int
    first_time: float | None

    def as_dict(self) -> dict:
        return {"first_frame": self.first_frame, "frames": self.frames, "first_time": self.first_time}


@dataclass
class TrackedClip:
    """A clip's footage (held-out tail removed), detections and :class:`~talkavatar.track.fit_frames.Fitted`;
    ``decoded``: frames decoded before the split; ``shape_from``: "clip" or "photo"."""

    path: Path
    footage: Footage
    detections: list[Detection]
    fitted: object
    held_out: HeldOut
    decoded: int
    shape_from: str


def split_holdout(footage: Footage, fraction: float) -> tuple[Footage, HeldOut]:
    """(the footage without its last ``fraction`` of frames, what was held out); at least one frame stays."""
    count = len(footage.frames)
    held = min(count - 1, int(math.floor(count * fraction + 1e-9)))
    if held <= 0:
        return footage, HeldOut(None, 0, None)
    keep = count - held
    times = footage.times or [i / max(footage.fps, 1e-6) for i in range(count)]
    out = replace(footage, frames=footage.frames[:keep], frame_indices=footage.frame_indices[:keep],
                  times=times[:keep])
    return out, HeldOut(int(footage.frame_indices[keep]), held, round(float(times[keep]), 6))


def load_clip(path: Path, config: TrackConfig, warn: Log, footage: Footage | None = None
              ) -> tuple[Footage, HeldOut, int]:
    """The clip at ``path`` (or its already decoded ``footage``) as footage to track, its held-out tail removed;
    what was held out and how many frames were decoded. Raises :class:`InvalidInput` for a still image or an
    unreadable file."""
    if footage is None:
        footage = load_footage(path, config.detect_size, config.stride, config.max_frames)
    if footage.kind != "video":
        raise InvalidInput(f"{path}: a still image, not a video", tip="--video takes a video file (mp4, mov, webm, ...)")
    for w in footage.warnings:
        warn(f"{Path(path).name}: {w}")
    decoded = len(footage.frames)
    footage, held = split_holdout(footage, config.holdout)
    return footage, held, decoded


def check_presence(found: np.ndarray, path: Path, warn: Log) -> None:
    """Fail when nobody is in the clip; warn how long the person was out of the picture."""
    if not found.any():
        raise StageFailed(f"{path}: no person detected in any frame of the clip",
                          tip="film the person's face and shoulders (the whole clip was searched)")
    if not found.all():
        gaps = np.diff(np.concatenate([[0], (~found).astype(np.int8), [0]]))
        longest = int((np.flatnonzero(gaps == -1) - np.flatnonzero(gaps == 1)).max())
        warn(f"no person in {int((~found).sum())} of {len(found)} frames (longest stretch {longest} frames): their "
             "poses are interpolated and they are never fitted to")


def photo_frame(path: Path, frame: int) -> np.ndarray:
    """Frame number ``frame`` of the clip at full resolution, upright: [H, W, 3] uint8."""
    info = probe_video(path)
    frames, _, errors = decode_frames(path, info, f"eq(n\\,{frame})", 1)
    if not frames:
        raise InvalidInput(f"{path}: cannot decode frame {frame} ({errors.strip()[-200:] or 'no such frame'})")
    return frames[0]


def video_record(clip: TrackedClip, source_rel: str, digest: str) -> dict:
    """The ``track/video.json`` document (schema talkavatar.video) of a tracked clip."""
    f = clip.footage
    times = f.times or [i / max(f.fps, 1e-6) for i in range(len(f.frames))]
    return {"format": "talkavatar.video", "source": source_rel, "sha256": digest, "width": f.full_size[0],
            "height": f.full_size[1], "fps": round(float(f.fps), 6), "rotation": int(f.rotation),
            "variable_frame_rate": variable_frame_rate(times), "shape_from": clip.shape_from,
            "frames": clip.decoded, "frame_index": [int(i) for i in f.frame_indices],
            "times": [round(float(t), 6) for t in times], "tracked": int(clip.fitted.tracked.sum()),
            "held_out": clip.held_out.as_dict()}
