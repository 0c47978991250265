"""Typed stage outputs: one reader (and writer) per artifact of the bundle, so that no stage spells a bundle path.

Readers return numpy arrays (this package imports no torch) and check what they read (hash, schema, sizes).
Shapes: T frames, S shape parameters, 55 canonical joints, 52 ARKit weights; images uint8 channels-last.

The photo view: a photo bundle's input view is its **first tracked frame** (:attr:`TrackParams.photo_frame`);
``track/mask.png`` is that frame's mask, and pseudo, fit and render read the view through :func:`read_photo_view`.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from talkavatar.bundle.store import stage_command
from talkavatar.errors import InvalidInput
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES

MANIFEST = "bundle.json"
SOURCE_IMAGE = "source/image.png"
TRACK_PARAMS = "track/params.safetensors"
TRACK_DETECTIONS = "track/detections.safetensors"
TRACK_MASK = "track/mask.png"
TRACK_RIG = "track/rig.safetensors"
TRACK_OVERLAY = "track/overlay.png"
TRACK_VIDEO = "track/video.json"
TRACK_VIDEO_PARAMS = "track/video/params.safetensors"
VIDEO_SCHEMA = "talkavatar.video"
PSEUDO_PARAMS = "pseudo/params.safetensors"
PSEUDO_TEXTURE = "pseudo/texture.png"
PSEUDO_PROXY = "pseudo/proxy.safetensors"
PSEUDO_CONTACT = "pseudo/contact.png"
FIT_AVATAR = "fit/avatar.safetensors"
FIT_RIG = "fit/rig.safetensors"
FIT_DOC = "fit/fit.json"
FIT_PREVIEW = "fit/preview.png"
FIT_CHECKPOINT = ".checkpoints/fit.safetensors"  # outside the committed stages; an interrupted fit's state
RIG_SCHEMA = "talkavatar.rig"
AVATAR_SCHEMA = "talkavatar.avatar"
PROXY_TENSOR = "vertex_offsets"
POSE_KEYS = ("joint_rotations", "root_translation", "arkit_weights")


def in_stage(rel: str) -> str:
    """The name of bundle-relative ``rel`` inside its stage directory (what a :class:`StageWriter` takes)."""
    return rel.split("/", 1)[1]


def source_input(suffix: str) -> str:
    """Bundle-relative name of the input file as given (``suffix``: its lower-case extension, e.g. ``.jpg``)."""
    return f"source/input{suffix}"


def source_video(suffix: str) -> str:
    """Bundle-relative name of the clip given with a photo (``fit PHOTO --video CLIP``)."""
    return f"source/video{suffix}"


def track_video_mask(index: int) -> str:
    """Bundle-relative name of the person mask of the tracked clip's ``index``-th tracked entry (PNG, full
    resolution, 255 = person)."""
    return f"track/video/masks/{index:06d}.png"


def pseudo_frame(index: int) -> str:
    """Bundle-relative name of pseudo frame ``index`` (RGBA PNG, alpha = person mask)."""
    return f"pseudo/frames/{index:05d}.png"


def has_output(bundle, rel: str) -> bool:
    """Whether the stage that owns ``rel`` recorded it as an output."""
    return rel in (bundle.record(rel.split("/", 1)[0]) or {}).get("outputs", {})


@dataclass(frozen=True)
class TrackParams:
    """``track/params.safetensors``: joint_rotations [T, 55, 3] (axis-angle), root_translation [T, 3] (m),
    arkit_weights [T, 52], shape [S], intrinsics [T, 3, 3] (full-resolution px), world_to_camera [T, 4, 4],
    image_size (width, height) px, frame_index [T] (frame of the input), tracked [T] bool, fps."""

    joint_rotations: np.ndarray
    root_translation: np.ndarray
    arkit_weights: np.ndarray
    shape: np.ndarray
    intrinsics: np.ndarray
    world_to_camera: np.ndarray
    image_size: tuple[int, int]
    frame_index: np.ndarray
    tracked: np.ndarray
    fps: float = 30.0

    @property
    def photo_frame(self) -> int:
        """The input view's frame: the first tracked one (0 if none is)."""
        tracked = np.flatnonzero(self.tracked)
        return int(tracked[0]) if len(tracked) else 0

    def poses(self, index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(joint_rotations, root_translation, arkit_weights) float32 at ``index`` (an int, slice or array)."""
        return tuple(np.asarray(getattr(self, k)[index], np.float32) for k in POSE_KEYS)


@dataclass(frozen=True)
class TrackedFootage:
    """Footage the track stage tracked for another stage, not into a bundle (``pseudo --import-video``): ``frames``
    T RGB images [H, W, 3] uint8 and ``masks`` T person masks [H, W] float 0..1 at the work resolution; ``params``:
    the tracked frames, intrinsics in those work pixels."""

    source: str
    frames: list[np.ndarray]
    masks: list[np.ndarray]
    params: TrackParams


def read_track_params(bundle, rel: str = TRACK_PARAMS) -> TrackParams:
    tensors, meta = bundle.read_tensors(rel, "talkavatar.track")
    count = len(tensors["joint_rotations"])
    tracked = tensors["tracked"].astype(bool) if "tracked" in tensors else np.ones(count, bool)
    frame_index = tensors["frame_index"] if "frame_index" in tensors else np.arange(count, dtype=np.int32)
    return TrackParams(*(tensors[k] for k in POSE_KEYS), tensors["shape"], tensors["intrinsics"],
                       tensors["world_to_camera"], tuple(int(v) for v in tensors["image_size"]), frame_index, tracked,
                       float(meta.get("fps", 30)))


def save_track_params(writer, params: TrackParams, shape_names, body_model: str, rel: str = TRACK_PARAMS) -> None:
    """Write ``track/params.safetensors`` (or ``rel``; ``writer``: the track stage's writer)."""
    writer.save_tensors(in_stage(rel), {
        **{k: np.asarray(getattr(params, k), np.float32) for k in POSE_KEYS},
        "shape": np.asarray(params.shape, np.float32), "intrinsics": np.asarray(params.intrinsics, np.float32),
        "world_to_camera": np.asarray(params.world_to_camera, np.float32),
        "image_size": np.array(params.image_size, np.int32), "frame_index": np.asarray(params.frame_index, np.int32),
        "tracked": np.asarray(params.tracked, np.uint8),
    }, "talkavatar.track", {"fps": f"{params.fps:g}", "joint_names": json.dumps(list(JOINT_NAMES)),
                            "arkit_names": json.dumps(list(ARKIT_NAMES)), "shape_names": json.dumps(list(shape_names)),
                            "body_model": body_model})


@dataclass(frozen=True)
class TrackedVideo:
    """The clip a bundle was tracked from (``fit VIDEO``) or given with its photo (``fit PHOTO --video CLIP``):
    ``doc`` (``track/video.json``, schema talkavatar.video: source clip, frame times, held-out frames), ``params``
    (its tracked frames, ``track/video/params.safetensors``) and ``inputs`` read."""

    doc: dict
    params: TrackParams
    inputs: tuple[str, ...]

    def mask(self, bundle, index: int) -> np.ndarray:
        """The person mask [H, W] uint8 (full resolution) of tracked entry ``index``."""
        mask = bundle.read_png(track_video_mask(index))
        return mask[..., 0] if mask.ndim == 3 else mask


def read_tracked_video(bundle) -> TrackedVideo | None:
    """``track/video.json`` and the clip's tracked frames, or None when the bundle was tracked from a photo alone."""
    if not has_output(bundle, TRACK_VIDEO):
        return None
    doc = bundle.read_json(TRACK_VIDEO, VIDEO_SCHEMA)
    params = read_track_params(bundle, TRACK_VIDEO_PARAMS)
    if len(params.tracked) != len(doc["frame_index"]):
        raise InvalidInput(f"{bundle.root}: {TRACK_VIDEO} and {TRACK_VIDEO_PARAMS} disagree on the frame count",
                           tip=f"rerun {stage_command('track', bundle.root, force=True)}")
    return TrackedVideo(doc, params, (TRACK_VIDEO, TRACK_VIDEO_PARAMS))


def save_tracked_video(writer, doc: dict, params: TrackParams, masks: list[np.ndarray], shape_names,
                       body_model: str) -> None:
    """Write ``track/video.json``, ``track/video/params.safetensors`` and the clip's full-resolution ``masks``
    (uint8 [H, W], one per tracked entry)."""
    writer.save_json(in_stage(TRACK_VIDEO), doc, VIDEO_SCHEMA)
    save_track_params(writer, params, shape_names, body_model, TRACK_VIDEO_PARAMS)
    for i, mask in enumerate(masks):
        writer.save_png(in_stage(track_video_mask(i)), mask, compress_level=6)  # as before (not measured at 1)


@dataclass(frozen=True)
class InputView:
    """The input view of a photo bundle: ``image`` [H, W, 3] uint8 sRGB, ``mask`` [H, W] uint8 (the segmenter's
    soft mask, 255 = person), ``params`` (all tracked frames) and ``frame`` (:attr:`TrackParams.photo_frame`);
    ``inputs``: the bundle-relative files read."""

    image: np.ndarray
    mask: np.ndarray
    params: TrackParams
    frame: int
    inputs: tuple[str, ...]

    @property
    def world_to_camera(self) -> np.ndarray:
        """[4, 4] of the photo's camera."""
        return np.asarray(self.params.world_to_camera[self.frame], np.float32)

    @property
    def intrinsics(self) -> np.ndarray:
        """[3, 3] K of the photo's camera in full-resolution pixels."""
        return np.asarray(self.params.intrinsics[self.frame], np.float32)

    def poses(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The photo's pose: joint_rotations [1, 55, 3], root_translation [1, 3], arkit_weights [1, 52]."""
        return self.params.poses(slice(self.frame, self.frame + 1))


def read_photo_view(bundle, by: str) -> InputView:
    """The photo, its mask and its tracked frame; :class:`InvalidInput` (exit 3) for a video bundle or sizes that
    disagree. ``by``: the command that needs it (for the message)."""
    bundle.require("track", by=by)
    if not has_output(bundle, SOURCE_IMAGE):
        raise InvalidInput(f"{bundle.root}: `talkavatar {by}` needs a photo bundle ({SOURCE_IMAGE}); this one was "
                           "tracked from a video",
                           tip="track a photo of the person (`talkavatar fit PHOTO`), then add the video to its bundle with "
                               "`talkavatar pseudo -b PHOTO.avatar --import-video VIDEO`")
    image = bundle.read_png(SOURCE_IMAGE)
    image = np.repeat(image[..., None], 3, -1) if image.ndim == 2 else image[..., :3]
    mask = bundle.read_png(TRACK_MASK)
    mask = mask[..., 0] if mask.ndim == 3 else mask
    params = read_track_params(bundle)
    width, height = params.image_size
    if image.shape[:2] != (height, width) or mask.shape != (height, width):
        raise InvalidInput(f"{bundle.root}: {SOURCE_IMAGE}, {TRACK_MASK} and {TRACK_PARAMS} disagree on the image "
                           "size", tip=f"rerun {stage_command('track', bundle.root, force=True)}")
    return InputView(image, mask, params, params.photo_frame, (SOURCE_IMAGE, TRACK_PARAMS, TRACK_MASK))


def read_detections(bundle) -> dict[str, np.ndarray] | None:
    """``track/detections.safetensors`` (MediaPipe points in full-resolution px per frame), or None if absent."""
    if not has_output(bundle, TRACK_DETECTIONS):
        return None
    return bundle.read_tensors(TRACK_DETECTIONS, "talkavatar.detections")[0]


def detected_hands(detections: dict[str, np.ndarray], frame: int) -> list[np.ndarray]:
    """The [21, 2] pixel points (x, y, full resolution) of each hand MediaPipe found in ``frame`` of
    ``detections`` (:func:`read_detections`), left then right."""
    return [detections[side][frame][:, :2].astype(np.float64) for side in ("left_hand", "right_hand")
            if side in detections and detections[f"{side}_present"][frame]]


def read_rig(bundle, rel: str = TRACK_RIG) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A baked personal rig's tensors and metadata (``talkavatar.rig``)."""
    return bundle.read_tensors(rel, RIG_SCHEMA)


@dataclass(frozen=True)
class PseudoFrames:
    """Pseudo-label frames ``index`` [K] of ``pseudo/``: ``rgba`` K images [S, S, 4] uint8, their poses and
    cameras (``params`` arrays at ``index``: joint_rotations [K, 55, 3], root_translation [K, 3], arkit_weights
    [K, 52], intrinsics [K, 3, 3], world_to_camera [K, 4, 4]), ``image_size`` (w, h) and ``inputs`` read."""

    index: np.ndarray
    rgba: list[np.ndarray]
    params: dict[str, np.ndarray]
    image_size: tuple[int, int]
    inputs: tuple[str, ...]


def read_pseudo_frames(bundle, count: int) -> PseudoFrames | None:
    """At most ``count`` pseudo frames, evenly spaced over those recorded (None: none recorded)."""
    if not has_output(bundle, PSEUDO_PARAMS):
        return None
    params, _ = bundle.read_tensors(PSEUDO_PARAMS, "talkavatar.pseudo")
    outputs = bundle.record("pseudo")["outputs"]
    available = [i for i in range(int(params["joint_rotations"].shape[0])) if pseudo_frame(i) in outputs]
    if not available:
        return None
    pick = sorted({available[int(round(j))] for j in np.linspace(0, len(available) - 1, min(count, len(available)))})

    def read(i: int) -> np.ndarray:  # hashing and PNG decoding release the GIL: frames decode in parallel
        image = bundle.read_png(pseudo_frame(i))
        if image.ndim != 3 or image.shape[2] != 4:
            raise InvalidInput(f"{bundle.root}: {pseudo_frame(i)} is not RGBA",
                               tip=f"rerun {stage_command('pseudo', bundle.root, force=True)}")
        return image

    with ThreadPoolExecutor(max_workers=image_workers()) as pool:  # 64 frames of 512²: ~0.9 s on one thread
        rgba = list(pool.map(read, pick))
    index = np.array(pick)
    keys = POSE_KEYS + ("intrinsics", "world_to_camera")
    return PseudoFrames(index, rgba, {k: np.asarray(params[k][index], np.float32) for k in keys},
                        tuple(int(v) for v in params["image_size"]),
                        (PSEUDO_PARAMS,) + tuple(pseudo_frame(i) for i in pick))


def read_pseudo_texture(bundle) -> np.ndarray | None:
    """``pseudo/texture.png``: the completed UV texture [R, R, 3] uint8 sRGB (row 0 = v 1), or None."""
    return bundle.read_png(PSEUDO_TEXTURE)[..., :3] if has_output(bundle, PSEUDO_TEXTURE) else None


def read_pseudo_proxy(bundle) -> np.ndarray | None:
    """``pseudo/proxy.safetensors``: proxy vertex offsets [V, 3] (m), or None."""
    if not has_output(bundle, PSEUDO_PROXY):
        return None
    return np.asarray(bundle.read_tensors(PSEUDO_PROXY, "talkavatar.proxy")[0][PROXY_TENSOR], np.float32)


def image_workers() -> int:
    """Threads that write, read or resize a stage's frames (PIL and zlib release the GIL): the process's thread
    share (talkavatar.core.threads sets OMP_NUM_THREADS), else the cores it may run on; at most 8."""
    workers = int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))
    return max(1, min(8, workers))


def save_pseudo(writer, frames: list[np.ndarray], params: Mapping[str, np.ndarray], metadata: Mapping[str, str],
                offsets: np.ndarray, texture: np.ndarray, contact: Callable[[], np.ndarray]) -> None:
    """Write ``pseudo/``: RGBA ``frames``, their ``params`` (``talkavatar.pseudo``), proxy ``offsets`` [V, 3],
    ``texture`` [R, R, 3] uint8 and the contact sheet ``contact()`` makes. Every PNG is compressed in one pool of
    threads (zlib and PIL's resampling release the GIL), the contact sheet made there too: its two largest images
    start first, so no image is left to compress alone at the end."""
    jobs = [lambda: writer.save_png(in_stage(PSEUDO_CONTACT), contact()),
            lambda: writer.save_png(in_stage(PSEUDO_TEXTURE), texture)]
    jobs += [partial(writer.save_png, in_stage(pseudo_frame(i)), frame) for i, frame in enumerate(frames)]
    with ThreadPoolExecutor(max_workers=image_workers()) as pool:
        for done in [pool.submit(job) for job in jobs]:
            done.result()
    writer.save_tensors(in_stage(PSEUDO_PARAMS), dict(params), "talkavatar.pseudo", dict(metadata))
    writer.save_tensors(in_stage(PSEUDO_PROXY), {PROXY_TENSOR: np.asarray(offsets, np.float32)}, "talkavatar.proxy",
                        {"vertex_count": str(offsets.shape[0])})


def read_avatar(bundle, by: str) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    """The fitted avatar: ((rig tensors, metadata), (avatar tensors, metadata)) after checking the fit stage is
    present, fresh and unchanged on disk."""
    bundle.require("fit", by=by)
    return read_rig(bundle, FIT_RIG), bundle.read_tensors(FIT_AVATAR, AVATAR_SCHEMA)


def save_fit(writer, avatar_tensors: tuple[dict, dict], rig_tensors: tuple[dict, dict], doc: Any,
             preview: np.ndarray) -> None:
    """Write ``fit/``: the avatar and its rig (tensors, metadata), ``fit.json`` and the preview PNG."""
    writer.save_tensors(in_stage(FIT_RIG), rig_tensors[0], RIG_SCHEMA, rig_tensors[1])
    writer.save_tensors(in_stage(FIT_AVATAR), avatar_tensors[0], AVATAR_SCHEMA, avatar_tensors[1])
    writer.save_json(in_stage(FIT_DOC), doc, "talkavatar.fit")
    writer.save_png(in_stage(FIT_PREVIEW), preview)
