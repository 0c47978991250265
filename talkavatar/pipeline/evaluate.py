"""``talkavatar eval``: eval's measurements fed by the track stage (video loading, MediaPipe detection, tracking
with the shape held fixed), the render stage (frames, camera paths) and drive-audio's speech analysis.

:func:`self_reenactment` (``--video``) and :func:`evaluate_clip` (``--render``); :func:`evaluate_input` is the
command: one of them, the optional report, and the summary.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.audio.load import load_pcm
from talkavatar.audio.prosody import prosody_of
from talkavatar.bundle import Bundle, artifacts
from talkavatar.core.avatar import read_avatar
from talkavatar.core.body.landmark_groups import GroupedLandmarks
from talkavatar.errors import InvalidInput, StageFailed, UsageError
from talkavatar.eval.config import EvalConfig
from talkavatar.eval.control import ControlErrors, asked_landmarks, control_errors
from talkavatar.eval.expression import face_mesh_points, measures
from talkavatar.eval.frames import fit_size, resized
from talkavatar.eval.regions import HARD, region_scores
from talkavatar.fit.data import Poses
from talkavatar.fit.refine import refine_to_frames
from talkavatar.eval.reenact import Reenactment, perceptual_network, reenactment_scores, tracking_errors
from talkavatar.eval.rendered import ClipEvaluation, measure_identity, measure_lip_sync, sheet_frames
from talkavatar.eval.report import write_clip_report, write_reenactment_report
from talkavatar.motion.any import load_motion_any
from talkavatar.render.camera_path import CameraPath, Framing
from talkavatar.render.stage import input_camera_path, render_frames
from talkavatar.render.timeline import Timeline
from talkavatar.runner import StageContext, stderr_log
from talkavatar.track.fit_frames import seen_landmarks
from talkavatar.track.fixed_shape import track_with_rig
from talkavatar.track.footage import Footage, load_footage
from talkavatar.track.stage import detect_all

Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalResult:
    """``summary``: the figures (the command's ``--json`` document); ``report``: files written; ``measured``: the
    per-frame figures (:class:`~talkavatar.eval.reenact.Reenactment` or
    :class:`~talkavatar.eval.rendered.ClipEvaluation`)."""

    summary: dict
    report: tuple[Path, ...]
    measured: Reenactment | ClipEvaluation


def evaluate_input(bundle: Path | None, config: EvalConfig, *, video: Path | None = None, render: Path | None = None,
                   audio: Path | None = None, photo: Path | None = None, motion: Path | None = None,
                   report: Path | None = None, device: str | None = None, log: Log = stderr_log) -> EvalResult:
    """Self-reenactment of ``video`` by the avatar of ``bundle``, or the measures of the clip ``render``."""
    check_mode(video, render, audio, photo, motion)
    if video is not None:
        measured = self_reenactment(bundle, video, config, device=StageContext(device).device, log=log)
        written = write_reenactment_report(measured, report) if report is not None else []
    else:
        measured = evaluate_clip(render, config, audio=audio, photo=photo, motion=motion, bundle=bundle, log=log)
        written = write_clip_report(measured, report) if report is not None else []
    summary = measured.summary()
    if written:
        summary["report"] = [str(p) for p in written]
    return EvalResult(summary, tuple(written), measured)


def check_mode(video: Path | None, render: Path | None, audio: Path | None, photo: Path | None,
               motion: Path | None) -> None:
    """One of ``video`` (self-reenactment) and ``render`` (a clip); ``audio``, ``photo``, ``motion`` go with
    ``render``. Raises :class:`UsageError` otherwise."""
    if (video is None) == (render is None):
        raise UsageError("give --video REFERENCE (self-reenactment) or --render CLIP (a rendered clip), one of them",
                         tip="e.g. talkavatar eval --video person.mp4, or talkavatar eval --render talk.mp4 "
                             "--audio speech.wav")
    if video is not None and any(x is not None for x in (audio, photo, motion)):
        raise UsageError("--audio, --photo and --motion go with --render, not --video")


def held_out_clip(bundle_path: Path, config: EvalConfig) -> tuple[Path, EvalConfig]:
    """``eval --held-out``: the bundle's clip (``track/video.json``) and ``config`` starting at its first held-out
    frame (the tail ``fit --holdout`` kept out of tracking and fitting). Raises :class:`UsageError` when the bundle
    holds no clip or held nothing out."""
    if bundle_path is None or not (Path(bundle_path) / "bundle.json").is_file():
        raise InvalidInput(f"no avatar bundle at {bundle_path}", tip="make one with `talkavatar fit VIDEO`")
    bundle = Bundle.open(Path(bundle_path))
    video = artifacts.read_tracked_video(bundle)
    first = None if video is None else video.doc["held_out"]["first_frame"]
    if first is None:
        raise UsageError(f"{bundle.root} holds no held-out frames of a clip",
                         tip="fit it from a video with `talkavatar fit VIDEO --holdout 0.3`, or pass --video REFERENCE")
    return bundle.root / video.doc["source"], dataclasses.replace(config, start=first + config.start)


def load_video(path: Path, detect_size: int, max_frames: int | None, start: int = 0, stride: int = 1) -> Footage:
    """The video at ``path``: frames ``start``, ``start + stride``, … (at most ``max_frames``, at most
    ``detect_size`` px on the longer side). Raises :class:`InvalidInput` for a missing or unreadable file, a still
    image, or a ``start`` past the last frame."""
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


def open_avatar(bundle_path: Path | None):
    """The bundle and its fitted avatar (fit stage required, fresh)."""
    if bundle_path is None or not Path(bundle_path).is_dir():
        raise InvalidInput(f"no avatar bundle at {bundle_path}", tip="make one with `talkavatar fit PHOTO`")
    bundle = Bundle.open(Path(bundle_path))
    return bundle, read_avatar(bundle, by="eval")


def self_reenactment(bundle_path: Path, video: Path, config: EvalConfig, device="cpu", log: Log = stderr_log
                     ) -> Reenactment:
    """The avatar of ``bundle_path`` replays ``video`` (tracked with the shape held to its rig) and is compared with
    it frame by frame (:mod:`talkavatar.eval.reenact`)."""
    ctx = StageContext(log=log).on(torch.device(device))
    with ctx.timed("load"):
        bundle, avatar = open_avatar(bundle_path)
        footage = load_video(video, config.track.detect_size, config.track.max_frames, config.start, config.track.stride)
        perceptual = perceptual_network(config.perceptual, ctx.device)
        focal = config.track.focal or photo_focal(bundle, footage)
        if focal is not None and config.track.focal is None:
            log(f"tracking camera: the bundle's photo focal length, {focal:.0f} px at {footage.full_size[0]}x"
                f"{footage.full_size[1]}")
    with ctx.timed("detect"):
        detections = detect_all(footage, config.track.model_complexity, log)
    with ctx.timed("track"):
        try:
            track = track_with_rig(avatar.rig, footage, detections, steps=config.track.steps, focal=focal,
                                   seed=config.track.seed, log=log)
        except ValueError as e:
            raise StageFailed(f"{video}: {e}", tip="the reference video must show the bundle's person") from None
    seen, found = seen_landmarks(detections, GroupedLandmarks(avatar.rig.landmarks), footage.work_size)
    track_errors = tracking_errors(avatar.rig, track, seen, found, footage.work_size)
    log(f"tracked {int(track.tracked.sum())}/{len(track.tracked)} frames with the shape held to the bundle's")
    size = fit_size(*footage.work_size, config.size)
    with ctx.timed("render"):
        renders = render_frames(avatar, track.joint_rotations, track.root_translation, track.arkit_weights,
                                torch.from_numpy(track.world_to_camera), torch.from_numpy(track.K), footage.work_size,
                                size, ctx.device, config.render.batch)
    with ctx.timed("metrics"):
        scores, sheet = reenactment_scores(renders, np.stack(footage.frames), np.stack(track.masks), size,
                                           ctx.device, perceptual)
    with ctx.timed("face_mesh"):
        reference = (resized(np.stack(footage.frames), size).numpy() * 255).round().astype(np.uint8)
        real_faces, render_faces = face_mesh_points(list(reference)), face_mesh_points(list(renders))
    with ctx.timed("regions"):
        regions = region_scores(renders, np.stack(footage.frames), np.stack(track.masks), real_faces, size,
                                ctx.device)
    refined = None
    if config.refine_poses:
        with ctx.timed("refine_poses"):
            refined = refined_figures(avatar, track, footage, size, real_faces, config, ctx.device)
    return Reenactment(Path(video), Path(bundle_path), footage.fps, size, scores, track.tracked, sheet, track_errors,
                       ctx.timings, list(footage.frame_indices), footage.fps * config.track.stride, regions,
                       (measures(real_faces), measures(render_faces)), refined)


def refined_figures(avatar, track, footage: Footage, size: tuple[int, int], faces: list, config: EvalConfig,
                    device) -> dict:
    """The self-reenactment figures after ``config.refine_poses`` steps of :func:`talkavatar.fit.refine.
    refine_to_frames` on the tracked poses (against each frame matted by its hard person mask, at ``size``): PSNR
    and SSIM in the soft mask, and the hard-mask regions' (means over the tracked frames; ``faces``: the real
    frames' Face Mesh points, as :func:`~talkavatar.eval.regions.region_scores` takes them)."""
    count, (w, h) = len(track.tracked), size
    w2c, K = torch.from_numpy(track.world_to_camera), torch.from_numpy(track.K)
    cameras = CameraPath.from_input(w2c, K, footage.work_size, width=w, height=h, frames=count).at(
        torch.arange(count), device=device)
    frames, masks = np.stack(footage.frames), np.stack(track.masks)
    hard = (resized(masks[..., None].astype(np.float32), size)[..., 0] >= HARD).float()
    poses = Poses(track.joint_rotations, track.root_translation, track.arkit_weights).to(device, torch.float32)
    with torch.enable_grad():
        moved = refine_to_frames(avatar.to(device, torch.float32), poses, cameras, resized(frames, size).to(device),
                                 hard.to(device), config.refine_poses)
    renders = render_frames(avatar, *(t.cpu() for t in (moved.joint_rotations, moved.root_translation,
                                                         moved.arkit_weights)), w2c, K, footage.work_size, size,
                            device, config.render.batch)
    scores, _ = reenactment_scores(renders, frames, masks, size, device, None)
    regions = region_scores(renders, frames, masks, faces, size, device)

    def mean(values: np.ndarray) -> float | None:  # over the tracked frames where the region is not empty
        ok = track.tracked & np.isfinite(values)
        return round(float(values[ok].mean()), 4) if ok.any() else None

    return {"steps": config.refine_poses, "psnr_db": mean(scores.psnr), "ssim": mean(scores.ssim),
            "hard_mask": {r: {"psnr_db": mean(v["psnr"]), "ssim": mean(v["ssim"])} for r, v in regions.items()}}


def photo_focal(bundle: Bundle, footage: Footage) -> float | None:
    """The focal length of the bundle's tracked photo in pixels of ``footage``'s full resolution (scaled by the
    longer sides): the reference of a self-reenactment comes from the photo's camera, and ``track`` fits a
    close-up's focal length. None when the track stage recorded none."""
    if bundle.record("track") is None:
        return None
    params = artifacts.read_track_params(bundle)
    return float(params.intrinsics[params.photo_frame][0, 0]) * max(footage.full_size) / max(params.image_size)


def evaluate_clip(video: Path, config: EvalConfig, *, audio: Path | None = None, photo: Path | None = None,
                  motion: Path | None = None, bundle: Path | None = None, log: Log = stderr_log) -> ClipEvaluation:
    """Measure a rendered clip (:mod:`talkavatar.eval.rendered`). ``bundle`` is needed with ``motion``."""
    ctx = StageContext(log=log)
    with ctx.timed("load"):
        footage = load_video(video, config.track.detect_size, config.track.max_frames)
        frames = footage.frames
        result = ClipEvaluation(Path(video), footage.fps, len(frames), timings=ctx.timings)
        result.sheet = sheet_frames(frames)
    with ctx.timed("identity"):
        measure_identity(result, photo, frames, config)
    with ctx.timed("audio"):
        pcm = _speech(result, audio, video)
    with ctx.timed("detect"):
        detections = detect_all(footage, config.track.model_complexity, log) if (motion is not None or pcm is not None) \
            else []
    if motion is not None:
        with ctx.timed("control"):
            result.control = _control(Path(motion), bundle, footage, detections, config)
    else:
        result.skipped["control"] = "no --motion given"
    if pcm is not None:
        with ctx.timed("lip_sync"):
            faces = [d.face if d.face_present else None for d in detections]
            measure_lip_sync(result, faces, prosody_of(pcm).loudness_db, config)
    return result


def _render_cameras(bundle: Bundle, avatar, poses, config: EvalConfig, full_size: tuple[int, int], frames: int):
    """The cameras `talkavatar render` used for a clip of ``full_size`` (w, h): its camera path, same settings."""
    width, height = full_size
    if config.render.camera == "input":
        path = input_camera_path(bundle, avatar, width, height, frames)
    else:
        first = avatar.pose(*(p[:1] for p in poses))
        framing = Framing.of_points(first.means[0].detach().to("cpu", torch.float64))
        path = CameraPath.around("front", framing, width=width, height=height, frames=frames, yaw=config.render.yaw,
                                 pitch=config.render.pitch, distance=config.render.distance)
    return path.at(torch.arange(frames))


def _control(motion: Path, bundle_path: Path | None, footage: Footage, detections, config: EvalConfig
             ) -> ControlErrors:
    """Control accuracy of the clip ``footage`` against ``motion`` played from its start at the clip's frame rate
    on the avatar of ``bundle_path``, seen through the render's camera (``config.render.camera`` etc.)."""
    if bundle_path is None:
        raise UsageError("control accuracy (--motion) needs the avatar bundle the clip was rendered from",
                         tip="pass -b BUNDLE")
    if not motion.is_file():
        raise InvalidInput(f"{motion}: no such motion file")
    bundle, avatar = open_avatar(bundle_path)
    count = len(footage.frames)
    poses = Timeline(load_motion_any(motion), footage.fps, 0.0, count).poses(np.arange(count))
    cameras = _render_cameras(bundle, avatar, poses, config, footage.full_size, count)
    K = cameras.K.clone()
    K[:, :2] /= footage.scale  # full-resolution pixels -> work pixels (full = work * scale, centres at +0.5)
    cameras = type(cameras)(cameras.world_to_camera, K, *footage.work_size)
    asked, height = asked_landmarks(avatar.rig, *poses, cameras)
    seen, found = seen_landmarks(detections, GroupedLandmarks(avatar.rig.landmarks), footage.work_size)
    return control_errors(asked, height, seen, found)


def _speech(result: ClipEvaluation, audio: Path | None, video: Path) -> np.ndarray | None:
    """16 kHz int16 PCM of ``audio``, else of the clip's own sound track (None, noted in ``result``, if it has
    none)."""
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
