"""Evaluating a rendered clip: identity against the photo, control accuracy against the motion, lip sync against the
speech. Each metric runs when its input is given (``photo``, ``motion`` + bundle, audio: ``audio`` or the clip's
own sound track); a metric that cannot run is reported with the reason instead of a number. The pipeline
(:mod:`talkavatar.pipeline.evaluate`) reads the clip and the speech, detects the landmarks and computes the render's
cameras; this module measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from talkavatar.errors import InvalidInput, MissingDependency, UsageError
from talkavatar.eval.config import EvalConfig
from talkavatar.eval.control import ControlErrors
from talkavatar.eval.identity import INSTALL_TIP, IdentityScores, compare_identity, unavailable_reason
from talkavatar.eval.lipsync import LipSync, lip_sync, mouth_opening, speech_envelope

SHEET_FRAMES = 6


@dataclass
class ClipEvaluation:
    """What was measured on a clip of T frames at ``fps``. A metric is None when it did not run; ``skipped`` says
    why. ``opening`` [T] mouth opening (nan: no face), ``envelope`` [F] at 100/s; ``sheet``: (index, frame)."""

    video: Path
    fps: float
    frames: int
    identity: IdentityScores | None = None
    control: ControlErrors | None = None
    lipsync: LipSync | None = None
    opening: np.ndarray | None = None
    envelope: np.ndarray | None = None
    audio: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    sheet: list[tuple[int, np.ndarray]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        out: dict = {"mode": "rendered clip", "video": str(self.video), "frames": self.frames, "fps": self.fps}
        if self.identity is not None:
            i = self.identity
            out["identity"] = {"distance": _mean(i.distance), "cosine": _mean(i.cosine),
                               "frames_compared": int(len(i.frames)), "frames_without_face": i.missed,
                               "same_person_below": 0.6}
        if self.control is not None:
            out["control_error_pct_of_height"] = {p: _round(v) for p, v in self.control.mean().items()}
            out["control_missed_frames"] = self.control.missed
        if self.lipsync is not None:
            s = self.lipsync
            out["lip_sync"] = {"audio": str(self.audio), "correlation": _round(s.correlation),
                               "best_correlation": _round(s.best_correlation), "best_lag_ms": _round(s.best_lag_ms),
                               "frames_with_face": s.frames_used}
        if self.skipped:
            out["unavailable"] = dict(self.skipped)
        out["timings_s"] = {k: round(v, 3) for k, v in self.timings.items()}
        return out


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def read_photo(path: Path) -> np.ndarray:
    """The photo at ``path`` as [H, W, 3] uint8 RGB (EXIF orientation applied)."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise InvalidInput(f"{path}: cannot read the photo ({e})") from None


def sheet_frames(frames: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """Up to ``SHEET_FRAMES`` evenly spaced (index, frame) pairs for the contact sheet."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(SHEET_FRAMES, len(frames))).round().astype(int))
    return [(int(i), frames[i]) for i in picks]


def measure_identity(result: ClipEvaluation, photo: Path | None, frames: list[np.ndarray],
                     config: EvalConfig) -> None:
    """Face identity of every ``identity_every``-th frame against ``photo`` into ``result`` (or why not)."""
    if config.identity and photo is None:
        raise UsageError("--identity needs --photo PHOTO (the picture the avatar was made from)")
    if photo is None or config.identity is False:
        result.skipped["identity"] = "no --photo given" if photo is None else "--no-identity"
        return
    problem = unavailable_reason()
    if problem is not None:
        if config.identity:
            raise MissingDependency(f"face identity needs dlib: {problem}", tip=INSTALL_TIP)
        result.skipped["identity"] = f"dlib is not available ({problem}); {INSTALL_TIP}"
        return
    step = config.identity_every
    try:
        scores = compare_identity(read_photo(Path(photo)), frames[::step])
    except ValueError as e:
        result.skipped["identity"] = f"{photo}: {e}"
        return
    result.identity = replace(scores, frames=scores.frames * step)


def measure_lip_sync(result: ClipEvaluation, faces: list[np.ndarray | None], loudness_db: np.ndarray,
                     config: EvalConfig) -> None:
    """Lip sync of the T frames' Face Mesh points ``faces`` (None: no face found) against the speech's loudness
    per 10 ms ``loudness_db`` [F] into ``result``."""
    opening = np.array([mouth_opening(face) if face is not None else np.nan for face in faces])
    result.opening, result.envelope = opening, speech_envelope(loudness_db)
    if np.isfinite(opening).sum() < 3:
        result.skipped["lip_sync"] = "MediaPipe found a face in fewer than 3 frames"
    else:
        result.lipsync = lip_sync(opening, result.fps, result.envelope, config.max_lag_ms)
