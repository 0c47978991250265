"""Frames of a video as the metrics need them: loaded (through track's footage loader), resized, as tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from talkavatar.errors import InvalidInput


def load_video(path: Path, detect_size: int, max_frames: int | None, start: int = 0, stride: int = 1):
    """A :class:`talkavatar.track.footage.Footage` of the video at ``path``: frames ``start``, ``start + stride``, …
    (at most ``max_frames``, at most ``detect_size`` px on the longer side). Raises :class:`InvalidInput` for a
    missing or unreadable file, a still image, or a ``start`` past the last frame."""
    from talkavatar.track.footage import load_footage

    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such video file")
    try:
        footage = load_footage(path, detect_size=detect_size, max_frames=max_frames, start=start, stride=stride)
    except InvalidInput as e:
        if start > 0 and "no frames" in str(e):
            raise InvalidInput(f"{path}: no frame at or after frame {start}", tip="lower --start") from None
        raise
    if footage.kind != "video":
        raise InvalidInput(f"{path}: a still image, not a video", tip="pass a video file (mp4, webm, mov, ...)")
    return footage


def fit_size(width: int, height: int, longer_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is ``longer_side``, rounded to even numbers."""
    s = longer_side / max(width, height)
    return max(2, 2 * round(width * s / 2)), max(2, 2 * round(height * s / 2))


def resized(images: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """``images`` [B, H, W, C] (uint8 0..255 or float 0..1) -> float32 [B, h, w, C] in 0..1 at ``size`` = (w, h),
    area-averaged when shrinking."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    w, h = size
    if x.shape[1:3] == (h, w):
        return x
    y = F.interpolate(x.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return y.permute(0, 2, 3, 1).clamp(0, 1)
