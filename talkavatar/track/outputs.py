"""Writing the stage's files: ``source/`` (the input as given, plus the upright full-resolution image) and
``track/`` (parameters, detections, masks, rig, overlay)."""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from talkavatar.bundle import sha256_file
from talkavatar.bundle.artifacts import (SOURCE_IMAGE, TRACK_DETECTIONS, TRACK_MASK, TRACK_OVERLAY, TRACK_RIG,
                                         TrackParams, in_stage, save_track_params, save_tracked_video, source_input,
                                         source_video)
from talkavatar.core.body.mouth import with_mouth_interior
from talkavatar.core.body.smplx import find_model_file
from talkavatar.track.camera import WORLD_TO_CAMERA
from talkavatar.track.video import photo_frame, video_record


@functools.cache
def body_model_reference(name: str) -> dict:
    """{name, variant, sha256} of an installed body-model package: the hash of its wheel RECORD, which lists the
    sha256 of every file it installed (the files themselves are never copied into a bundle)."""
    dist = metadata.distribution(name)
    record = dist.read_text("RECORD") or ""
    return {"name": name, "variant": f"{name} {dist.version} (local_changes=default, facial_actions=all)",
            "sha256": hashlib.sha256(record.encode()).hexdigest()}


def smplx_reference(model_dir) -> dict:
    """{name, variant, sha256} of the user's SMPL-X model file (referenced by hash, never copied)."""
    path = find_model_file(model_dir, "neutral")
    return {"name": "smplx", "variant": path.name, "sha256": sha256_file(path)}


def write_source(writer, input_path: Path, footage, fitted, video: Path | None) -> None:
    """The input as given and its upright full-resolution photo (a video's: its first tracked frame); the clip given
    with a photo (``video``) as ``source/video.EXT``."""
    writer.copy_file(in_stage(source_input(_suffix(input_path))), input_path)
    if footage.kind == "image" and footage.full_frame is not None:
        writer.save_png(in_stage(SOURCE_IMAGE), footage.full_frame)
    elif footage.kind == "video":
        first = int(np.flatnonzero(fitted.tracked)[0])
        writer.save_png(in_stage(SOURCE_IMAGE), photo_frame(input_path, footage.frame_indices[first]))
    if video is not None:
        writer.copy_file(in_stage(source_video(_suffix(Path(video)))), Path(video))


def _suffix(path: Path) -> str:
    return path.suffix.lower() or ".bin"


def full_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A work-resolution mask [h, w] float 0..1 as uint8 at the input's full ``size`` (w, h)."""
    img = Image.fromarray((np.clip(mask, 0, 1) * 255 + 0.5).astype(np.uint8))
    if img.size != tuple(size):
        img = img.resize(tuple(size), Image.BILINEAR)
    return np.asarray(img)


def fitted_params(footage, fitted) -> TrackParams:
    """The fitted frames of ``footage`` with intrinsics in full-resolution pixels."""
    count = len(footage.frames)
    K_full = fitted.K_work.copy()
    K_full[:2] *= footage.scale
    return TrackParams(fitted.joint_rotations.numpy(), fitted.root_translation.numpy(), fitted.arkit_weights.numpy(),
                       fitted.shape.numpy(), np.repeat(K_full[None].astype(np.float32), count, 0),
                       np.repeat(WORLD_TO_CAMERA[None], count, 0), footage.full_size,
                       np.array(footage.frame_indices, np.int32), fitted.tracked, footage.fps)


def write_clip(writer, clip, body, digest: str, with_photo: bool) -> None:
    """``track/video.json``, the clip's params and full-resolution masks (:func:`save_tracked_video`)."""
    suffix = _suffix(clip.path)
    source = source_video(suffix) if with_photo else source_input(suffix)
    params = fitted_params(clip.footage, clip.fitted)
    masks = [full_mask(m, clip.footage.full_size) for m in clip.fitted.masks]
    save_tracked_video(writer, video_record(clip, source, digest), params, masks, body.shape_names, body.name)


def write_track(writer, footage, detections, fitted, body, config) -> None:
    scale = footage.scale
    save_track_params(writer, fitted_params(footage, fitted), body.shape_names, body.name)
    full_xyz = np.array([scale, scale, scale], np.float32)
    writer.save_tensors(in_stage(TRACK_DETECTIONS), {
        "body": np.stack([d.body * full_xyz for d in detections]).astype(np.float32),
        "body_visibility": np.stack([d.body_visibility for d in detections]).astype(np.float32),
        "face": np.stack([d.face * full_xyz for d in detections]).astype(np.float32),
        "left_hand": np.stack([d.left_hand * full_xyz for d in detections]).astype(np.float32),
        "right_hand": np.stack([d.right_hand * full_xyz for d in detections]).astype(np.float32),
        "detected": np.array([d.found for d in detections], np.uint8),
        "face_present": np.array([d.face_present for d in detections], np.uint8),
        "left_hand_present": np.array([d.left_hand_present for d in detections], np.uint8),
        "right_hand_present": np.array([d.right_hand_present for d in detections], np.uint8),
        "people": np.array([d.people for d in detections], np.int32),
    }, "talkavatar.detections", {"detector": f"mediapipe {metadata.version('mediapipe')} holistic "
                                             f"(model_complexity {config.model_complexity})"})
    first = int(np.flatnonzero(fitted.tracked)[0])
    writer.save_png(in_stage(TRACK_MASK), full_mask(fitted.masks[first], footage.full_size))
    if body.name == "anny":  # Anny's licence allows baking the person's rig in; SMPL-X's does not (DESIGN.md)

        with_mouth_interior(fitted.rig).save(writer.path(in_stage(TRACK_RIG)))  # teeth, tongue, cavity for later stages
    writer.save_png(in_stage(TRACK_OVERLAY), fitted.overlay)
    writer.metrics.update(fitted.metrics)
    writer.body_model = body_model_reference(body.name) if body.name == "anny" else smplx_reference(config.smplx_dir)
