"""Evaluating a rendered clip: identity against the photo, control accuracy against the motion, lip sync against the
speech. Each metric runs when its input is given (``photo``, ``motion`` + bundle, audio: ``audio`` or the clip's
own sound track); a metric that cannot run is reported with the reason instead of a number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.eval.config import EvalConfig
from talkavatar.eval.control import ControlErrors, asked_landmarks, control_errors
from talkavatar.eval.frames import load_video
from talkavatar.eval.identity import INSTALL_TIP, IdentityScores, compare_identity, unavailable_reason
from talkavatar.eval.lipsync import LipSync, lip_sync, mouth_opening, speech_envelope
from talkavatar.errors import InvalidInput, MissingDependency, UsageError

Log = Callable[[str], None]
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


def _read_photo(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise InvalidInput(f"{path}: cannot read the photo ({e})") from None


def _render_cameras(bundle: Path, avatar, poses, config: EvalConfig, full_size: tuple[int, int], frames: int):
    """The cameras `talkavatar render` used for a clip of ``full_size`` (w, h): its camera path, same settings."""
    from talkavatar.render.camera_path import CameraPath, Framing

    width, height = full_size
    if config.render.camera == "input":
        from talkavatar.bundle import Bundle
        from talkavatar.render.stage import input_camera_path

        path = input_camera_path(Bundle.open(Path(bundle)), avatar, width, height, frames)
    else:
        first = avatar.pose(*(p[:1] for p in poses))
        framing = Framing.of_points(first.means[0].detach().to("cpu", torch.float64))
        path = CameraPath.around("front", framing, width=width, height=height, frames=frames, yaw=config.render.yaw,
                                 pitch=config.render.pitch, distance=config.render.distance)
    return path.at(torch.arange(frames))


def evaluate_clip(video: Path, config: EvalConfig, *, audio: Path | None = None, photo: Path | None = None,
                  motion: Path | None = None, bundle: Path | None = None, log: Log = print) -> ClipEvaluation:
    """Measure a rendered clip (see the module docstring). ``bundle`` is needed with ``motion``."""
    from talkavatar.track.stage import detect_all

    timings: dict[str, float] = {}
    t = time.perf_counter()
    footage = load_video(video, config.track.detect_size, config.track.max_frames)
    frames = footage.frames
    result = ClipEvaluation(Path(video), footage.fps, len(frames), timings=timings)
    picks = np.unique(np.linspace(0, len(frames) - 1, min(SHEET_FRAMES, len(frames))).round().astype(int))
    result.sheet = [(int(i), frames[i]) for i in picks]
    timings["load"] = time.perf_counter() - t

    t = time.perf_counter()
    _identity(result, photo, frames, config)
    timings["identity"] = time.perf_counter() - t
    t = time.perf_counter()
    pcm = _speech(result, audio, video)
    timings["audio"] = time.perf_counter() - t
    t = time.perf_counter()
    detections = (detect_all(footage, config.track.model_complexity, log) if (motion is not None or pcm is not None)
                  else [])
    timings["detect"] = time.perf_counter() - t

    if motion is not None:
        t = time.perf_counter()
        result.control = _control(Path(motion), bundle, footage, detections, config)
        timings["control"] = time.perf_counter() - t
    else:
        result.skipped["control"] = "no --motion given"

    # lip sync
    if pcm is not None:
        t = time.perf_counter()
        opening = np.array([mouth_opening(d.face) if d.face_present else np.nan for d in detections])
        result.opening, result.envelope = opening, speech_envelope(pcm)
        if np.isfinite(opening).sum() < 3:
            result.skipped["lip_sync"] = "MediaPipe found a face in fewer than 3 frames"
        else:
            result.lipsync = lip_sync(opening, footage.fps, result.envelope, config.max_lag_ms)
        timings["lip_sync"] = time.perf_counter() - t
    return result


def _identity(result: ClipEvaluation, photo: Path | None, frames: list[np.ndarray], config: EvalConfig) -> None:
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
        scores = compare_identity(_read_photo(Path(photo)), frames[::step])
    except ValueError as e:
        result.skipped["identity"] = f"{photo}: {e}"
        return
    result.identity = replace(scores, frames=scores.frames * step)


def _control(motion: Path, bundle: Path | None, footage, detections, config: EvalConfig) -> ControlErrors:
    """Control accuracy of the clip ``footage`` against ``motion`` played from its start at the clip's frame rate
    on the avatar of ``bundle``, seen through the render's camera (``config.render.camera`` etc.)."""
    from talkavatar.eval.reenact import load_avatar
    from talkavatar.motion.any import load_motion_any
    from talkavatar.render.timeline import Timeline

    if bundle is None:
        raise UsageError("control accuracy (--motion) needs the avatar bundle the clip was rendered from",
                         tip="pass -b BUNDLE")
    if not motion.is_file():
        raise InvalidInput(f"{motion}: no such motion file")
    avatar = load_avatar(bundle)
    count = len(footage.frames)
    poses = Timeline(load_motion_any(motion), footage.fps, 0.0, count).poses(np.arange(count))
    cameras = _render_cameras(bundle, avatar, poses, config, footage.full_size, count)
    cameras = type(cameras)(cameras.world_to_camera, _to_work(cameras.K, footage.scale), *footage.work_size)
    asked, height = asked_landmarks(avatar.rig, *poses, cameras)
    return control_errors(avatar.rig, asked, height, detections, footage.work_size)


def _speech(result: ClipEvaluation, audio: Path | None, video: Path) -> np.ndarray | None:
    """16 kHz int16 PCM of ``audio``, else of the clip's own sound track (None, noted in ``result``, if it has
    none)."""
    from talkavatar.audio.load import load_pcm

    source = Path(audio) if audio is not None else Path(video)
    try:
        pcm = load_pcm(source)
    except InvalidInput as e:
        if audio is not None:
            raise
        result.skipped["lip_sync"] = f"no --audio given and the clip has no readable sound ({e.message})"
        return None
    result.audio = source
    return pcm


def _to_work(K: torch.Tensor, scale: float) -> torch.Tensor:
    """Intrinsics of full-resolution pixels -> work pixels (``full = work * scale``, pixel centres at +0.5)."""
    K = K.clone()
    K[:, :2] /= scale
    return K
