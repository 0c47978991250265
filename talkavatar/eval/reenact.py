"""Self-reenactment: the avatar re-plays a reference video of its person and is compared with it frame by frame.

1. Load the video (``max_frames``), detect the person with MediaPipe Holistic in every frame.
2. Track the frames with the shape held to the bundle's rig (:func:`talkavatar.track.fixed_shape.track_with_rig`):
   per-frame pose, expression, placement, and the fixed tracking camera.
3. Render the avatar with those poses and that camera over black (render's frame producer), at ``size`` px.
4. Compare inside the person mask of each reference frame: PSNR, SSIM, L1 and the perceptual distance
   (:mod:`talkavatar.eval.image_metrics`).
Steps 1-3 are the track and render stages' (:func:`talkavatar.pipeline.evaluate.self_reenactment` runs them); this
module holds the result and step 4.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from talkavatar.core.cameras import Cameras
from talkavatar.core.losses import perceptual_distance
from talkavatar.eval.control import ControlErrors, asked_landmarks, control_errors
from talkavatar.eval.expression import expression_fidelity
from talkavatar.eval.frames import resized
from talkavatar.eval.image_metrics import ImageScores, image_scores

SHEET_FRAMES = 6


@dataclass
class Reenactment:
    """Per-frame ``scores`` of T frames, ``tracked`` [T] bool, the compared size (w, h), a few ``sheet`` frames
    (index, reference, render, mask) for the contact sheet, ``track_errors``: how far the tracked poses' landmarks
    lie from MediaPipe's on the reference (as control accuracy measures it), seconds spent per phase, and
    ``frame_indices`` [T]: each evaluated frame's index in the video of ``video_fps`` frames per second (``fps`` is
    the evaluated frames' rate). ``regions``: the papers' protocol (:mod:`talkavatar.eval.regions`) per region and
    frame; ``face_measures``: (real, rendered) [T, 3] independent Face Mesh measures (:mod:`talkavatar.eval.expression`)."""

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
    regions: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    face_measures: tuple[np.ndarray, np.ndarray] | None = None
    refined: dict | None = None  # the figures after eval --refine-poses (pipeline.evaluate.refined_figures)

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
                "hard_mask": self._region_summary(),
                "expression": None if self.face_measures is None else expression_fidelity(*self.face_measures),
                **({"refined": self.refined} if self.refined is not None else {}),
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()}}

    def _region_summary(self) -> dict:
        """{region: {psnr_db, ssim, l1, frames}}: means over the tracked frames where the region is not empty."""
        out = {}
        for region, scores in self.regions.items():
            keep = self.tracked & np.isfinite(scores["psnr"])
            mean = lambda v: round(float(v[keep].mean()), 4) if keep.any() else None  # noqa: E731
            out[region] = {"psnr_db": mean(scores["psnr"]), "ssim": mean(scores["ssim"]), "l1": mean(scores["l1"]),
                           "frames": int(keep.sum())}
        return out


def perceptual_network(kind: str, device):
    """The perceptual distance of ``kind`` (None for "none")."""
    if kind == "none":
        return None

    return perceptual_distance(kind, device)


def tracking_errors(rig, track, seen: dict, found: np.ndarray, size: tuple[int, int]) -> ControlErrors:
    """How far the tracked poses' landmarks (through the tracking camera) lie from MediaPipe's on the reference
    frames of ``size`` (w, h) (``seen``, ``found``: as :func:`~talkavatar.eval.control.control_errors` takes
    them): control accuracy with the tracked poses as the motion."""
    count = len(found)
    cameras = Cameras(torch.from_numpy(track.world_to_camera).expand(count, 4, 4).contiguous(),
                      torch.from_numpy(track.K).expand(count, 3, 3).contiguous(), *size)
    asked, height = asked_landmarks(rig, track.joint_rotations, track.root_translation, track.arkit_weights, cameras)
    return control_errors(asked, height, seen, found)


def reenactment_scores(rendered: np.ndarray, reference: np.ndarray, masks: np.ndarray, size: tuple[int, int],
                       device, perceptual) -> tuple[ImageScores, list]:
    """Scores of T ``rendered`` [T, h, w, 3] uint8 frames against the ``reference`` frames [T, H, W, 3] uint8
    inside the person ``masks`` [T, H, W] float 0..1, all compared at ``size`` (w, h); and the contact sheet's
    (index, reference, render, mask) rows."""
    reference = resized(reference, size)
    masks = resized(masks[..., None].astype(np.float32), size)[..., 0]
    scores = image_scores(resized(rendered, size).to(device), reference.to(device), masks.to(device), perceptual)
    picks = np.unique(np.linspace(0, len(rendered) - 1, min(SHEET_FRAMES, len(rendered))).round().astype(int))
    to_u8 = lambda x: (x.numpy() * 255).round().astype(np.uint8)  # noqa: E731
    return scores, [(int(i), to_u8(reference[i]), rendered[i], to_u8(masks[i])) for i in picks]
