"""Self-reenactment: the avatar re-plays a reference video of its person and is compared with it frame by frame.

1. Load the video (``max_frames``), detect the person with MediaPipe Holistic in every frame.
2. Track the frames with the shape held to the bundle's rig (:func:`talkavatar.track.fixed_shape.track_with_rig`):
   per-frame pose, expression, placement, and the fixed tracking camera.
3. Render the avatar with those poses and that camera over black (render's frame producer), at ``size`` px.
4. Compare inside the person mask of each reference frame: PSNR, SSIM, L1 and the perceptual distance
   (:mod:`talkavatar.eval.image_metrics`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.eval.config import EvalConfig
from talkavatar.eval.control import ControlErrors, asked_landmarks, control_errors
from talkavatar.eval.frames import fit_size, load_video, resized
from talkavatar.eval.image_metrics import ImageScores, image_scores
from talkavatar.errors import InvalidInput, StageFailed

Log = Callable[[str], None]
SHEET_FRAMES = 6


@dataclass
class Reenactment:
    """Per-frame ``scores`` of T frames, ``tracked`` [T] bool, the compared size (w, h), a few ``sheet`` frames
    (index, reference, render, mask) for the contact sheet, ``track_errors``: how far the tracked poses' landmarks
    lie from MediaPipe's on the reference (as control accuracy measures it), seconds spent per phase, and
    ``frame_indices`` [T]: each evaluated frame's index in the video of ``video_fps`` frames per second (``fps`` is
    the evaluated frames' rate)."""

    video: Path
    bundle: Path
    fps: float
    size: tuple[int, int]
    scores: ImageScores
    tracked: np.ndarray
    sheet: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]
    track_errors: ControlErrors
    timings: dict[str, float] = field(default_factory=dict)
    frame_indices: list[int] = field(default_factory=list)
    video_fps: float | None = None

    @property
    def times(self) -> np.ndarray:
        """[T] seconds into the video of each evaluated frame."""
        if not self.frame_indices or not self.video_fps:
            return np.arange(len(self.tracked)) / self.fps
        return np.asarray(self.frame_indices, np.float64) / self.video_fps

    def summary(self) -> dict:
        """Means over the tracked frames (PSNR: +inf only if every one of them is identical)."""
        s, keep = self.scores, self.tracked
        psnr = s.psnr[keep & ~np.isnan(s.psnr)]
        mean = lambda v: None if v is None or not keep.any() else float(v[keep].mean())  # noqa: E731
        return {"mode": "self-reenactment", "video": str(self.video), "bundle": str(self.bundle),
                "frames": int(len(s.psnr)), "tracked_frames": int(keep.sum()), "size": list(self.size),
                "frame_indices": [int(i) for i in self.frame_indices],
                "psnr_db": float(psnr.mean()) if psnr.size else None, "ssim": mean(s.ssim), "l1": mean(s.l1),
                "perceptual": mean(s.perceptual), "perceptual_kind": s.perceptual_kind, "masked": True,
                "track_error_pct_of_height": {p: (None if v is None else round(v, 3))
                                              for p, v in self.track_errors.mean().items()},
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()}}


def load_avatar(bundle_path: Path):
    """The bundle's fitted avatar (fit stage required, fresh)."""
    from talkavatar.bundle import Bundle
    from talkavatar.render.stage import load_avatar as read_avatar

    if not Path(bundle_path).is_dir():
        raise InvalidInput(f"no avatar bundle at {bundle_path}", tip="make one with `talkavatar fit PHOTO`")
    bundle = Bundle.open(Path(bundle_path))
    bundle.require("fit", by="eval")
    return read_avatar(bundle)


def perceptual_network(kind: str, device):
    """The perceptual distance of ``kind`` (None for "none")."""
    if kind == "none":
        return None
    from talkavatar.core.losses import perceptual_distance

    return perceptual_distance(kind, device)


def render_poses(avatar, joint_rotations: torch.Tensor, root_translation: torch.Tensor, arkit_weights: torch.Tensor,
                 fps: float, world_to_camera: np.ndarray, K: np.ndarray, image_size: tuple[int, int],
                 size: tuple[int, int], device, batch: int) -> np.ndarray:
    """uint8 [T, h, w, 3] sRGB renders over black of T poses through one camera (``K`` for ``image_size`` (w, h),
    rescaled to ``size``)."""
    from talkavatar.motion.file import Motion
    from talkavatar.render.background import Background
    from talkavatar.render.camera_path import CameraPath
    from talkavatar.render.frames import FrameProducer
    from talkavatar.render.timeline import Timeline

    motion = Motion(fps, joint_rotations.numpy(), root_translation.numpy(), arkit_weights.numpy())
    timeline = Timeline(motion, fps, 0.0, motion.frames)
    w, h = size
    cameras = CameraPath.from_input(torch.from_numpy(world_to_camera), torch.from_numpy(K), image_size, width=w,
                                    height=h, frames=motion.frames)
    producer = FrameProducer(avatar, timeline, cameras, Background.parse("black", w, h), pixel_format="rgb24",
                             batch=batch, device=device)
    return np.concatenate([b.pixels.cpu().numpy() for b in producer]).reshape(motion.frames, h, w, 3)


def tracking_errors(rig, track, detections, size: tuple[int, int]) -> ControlErrors:
    """How far the tracked poses' landmarks (through the tracking camera) lie from MediaPipe's on the reference
    frames of ``size`` (w, h): control accuracy with the tracked poses as the motion."""
    count = len(detections)
    cameras = Cameras(torch.from_numpy(track.world_to_camera).expand(count, 4, 4).contiguous(),
                      torch.from_numpy(track.K).expand(count, 3, 3).contiguous(), *size)
    asked, height = asked_landmarks(rig, track.joint_rotations, track.root_translation, track.arkit_weights, cameras)
    return control_errors(rig, asked, height, detections, size)


def self_reenactment(bundle_path: Path, video: Path, config: EvalConfig, device="cpu", log: Log = print
                     ) -> Reenactment:
    """Run the self-reenactment of ``video`` with the avatar of ``bundle_path`` (see the module docstring)."""
    from talkavatar.track.fixed_shape import track_with_rig
    from talkavatar.track.stage import detect_all

    timings: dict[str, float] = {}
    t = time.perf_counter()
    avatar = load_avatar(bundle_path)
    footage = load_video(video, config.track.detect_size, config.track.max_frames, config.start, config.track.stride)
    perceptual = perceptual_network(config.perceptual, device)
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    detections = detect_all(footage, config.track.model_complexity, log)
    timings["detect"] = time.perf_counter() - t
    t = time.perf_counter()
    try:
        track = track_with_rig(avatar.rig, footage, detections, steps=config.track.steps, focal=config.track.focal,
                               seed=config.track.seed, log=log)
    except ValueError as e:
        raise StageFailed(f"{video}: {e}", tip="the reference video must show the bundle's person") from None
    timings["track"] = time.perf_counter() - t
    track_errors = tracking_errors(avatar.rig, track, detections, footage.work_size)
    log(f"tracked {int(track.tracked.sum())}/{len(track.tracked)} frames with the shape held to the bundle's")

    t = time.perf_counter()
    work = footage.work_size
    size = fit_size(*work, config.size)
    renders = render_poses(avatar, track.joint_rotations, track.root_translation, track.arkit_weights,
                           footage.fps, track.world_to_camera, track.K, work, size, device, config.render.batch)
    timings["render"] = time.perf_counter() - t
    t = time.perf_counter()
    reference = resized(np.stack(footage.frames), size)
    masks = resized(np.stack(track.masks)[..., None].astype(np.float32), size)[..., 0]
    rendered = resized(renders, size)
    scores = image_scores(rendered.to(device), reference.to(device), masks.to(device), perceptual)
    timings["metrics"] = time.perf_counter() - t
    picks = np.unique(np.linspace(0, len(renders) - 1, min(SHEET_FRAMES, len(renders))).round().astype(int))
    to_u8 = lambda x: (x.numpy() * 255).round().astype(np.uint8)  # noqa: E731
    sheet = [(int(i), to_u8(reference[i]), renders[i], to_u8(masks[i])) for i in picks]
    return Reenactment(Path(video), Path(bundle_path), footage.fps, size, scores, track.tracked, sheet, track_errors,
                       timings, list(footage.frame_indices), footage.fps * config.track.stride)
