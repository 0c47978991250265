"""Writing the stage's files: ``source/`` (the input as given, plus the upright full-resolution image) and
``track/`` (parameters, detections, masks, rig, overlay)."""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES
from talkavatar.track.camera import WORLD_TO_CAMERA


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
    from talkavatar.bundle import sha256_file
    from talkavatar.core.body.smplx import find_model_file

    path = find_model_file(model_dir, "neutral")
    return {"name": "smplx", "variant": path.name, "sha256": sha256_file(path)}


def write_source(writer, input_path: Path, footage) -> None:
    suffix = input_path.suffix.lower() or ".bin"
    writer.copy_file(f"input{suffix}", input_path)
    if footage.kind == "image" and footage.full_frame is not None:
        writer.save_png("image.png", footage.full_frame)


def write_track(writer, footage, detections, fitted, body, config) -> None:

    scale = footage.scale
    count = len(detections)
    K_full = fitted.K_work.copy()
    K_full[:2] *= scale
    writer.save_tensors("params.safetensors", {
        "joint_rotations": fitted.joint_rotations.numpy().astype(np.float32),
        "root_translation": fitted.root_translation.numpy().astype(np.float32),
        "arkit_weights": fitted.arkit_weights.numpy().astype(np.float32),
        "shape": fitted.shape.numpy().astype(np.float32),
        "intrinsics": np.repeat(K_full[None].astype(np.float32), count, 0),
        "world_to_camera": np.repeat(WORLD_TO_CAMERA[None], count, 0),
        "image_size": np.array(footage.full_size, np.int32),
        "frame_index": np.array(footage.frame_indices, np.int32),
        "tracked": fitted.tracked.astype(np.uint8),
    }, "talkavatar.track", {"fps": f"{footage.fps:g}", "joint_names": json.dumps(list(JOINT_NAMES)),
                            "arkit_names": json.dumps(list(ARKIT_NAMES)), "shape_names": json.dumps(list(body.shape_names)),
                            "body_model": body.name})
    full_xyz = np.array([scale, scale, scale], np.float32)
    writer.save_tensors("detections.safetensors", {
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
    full_w, full_h = footage.full_size

    def full_mask(m: np.ndarray) -> np.ndarray:
        from PIL import Image

        img = Image.fromarray((np.clip(m, 0, 1) * 255 + 0.5).astype(np.uint8))
        if img.size != (full_w, full_h):
            img = img.resize((full_w, full_h), Image.BILINEAR)
        return np.asarray(img)

    writer.save_png("mask.png", full_mask(fitted.masks[int(np.flatnonzero(fitted.tracked)[0])]))
    if footage.kind == "video":
        for i, m in enumerate(fitted.masks):
            writer.save_png(f"masks/{i:06d}.png", full_mask(m))
    if body.name == "anny":  # Anny's licence allows baking the person's rig in; SMPL-X's does not (DESIGN.md)
        from talkavatar.core.body.mouth import with_mouth_interior

        with_mouth_interior(fitted.rig).save(writer.path("rig.safetensors"))  # teeth, tongue, cavity for later stages
    writer.save_png("overlay.png", fitted.overlay)
    writer.metrics.update(fitted.metrics)
    writer.body_model = body_model_reference(body.name) if body.name == "anny" else smplx_reference(config.smplx_dir)
