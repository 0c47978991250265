"""The render stage: a bundle's avatar plus speech or motion becomes a video, a PNG sequence and/or a PLY file.

Steps: open the bundle and load ``fit/`` (hash-checked) -> the :class:`Performance`: a motion file or ARKit CSV
(``--motion``), or the motion drive-audio made of ``--audio`` (the pipeline runs it) -> the clip's :class:`Timeline` -> a :class:`CameraPath` -> frames produced in
batches on the device (:class:`FrameProducer`) and encoded by ffmpeg in a writer thread (:func:`encode`) with the
audio muxed in sync (:mod:`talkavatar.render.audio_track`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle import Bundle, artifacts, sha256_file
from talkavatar.bundle.atomic import probe_writable
from talkavatar.core.avatar import Avatar, read_avatar
from talkavatar.core.body.parts import hidden_parts
from talkavatar.core.cameras import Cameras
from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.errors import InvalidInput, StageFailed, UsageError
from talkavatar.motion.any import load_motion_any
from talkavatar.motion.file import Motion
from talkavatar.progress import progress
from talkavatar.render.audio_track import AudioTrack
from talkavatar.render.background import Background
from talkavatar.render.camera_path import CameraPath, Framing
from talkavatar.render.config import RenderConfig
from talkavatar.render.frames import FrameProducer
from talkavatar.render.framing import (frame_size, front_distance, plan_shot, seen_side_yaw, shown_vertices,
                                      tracked_pose)
from talkavatar.render.pipeline import encode
from talkavatar.core.splats.ply import write_ply
from talkavatar.render.timeline import Timeline
from talkavatar.render.video import VideoSink, input_pixel_format
from talkavatar.runner import StageContext, stderr_warn

Log = Callable[[str], None]
SUFFIXES = {".mp4": "mp4", ".webm": "webm"}
DEFAULT_FPS = 30.0


@dataclass(frozen=True)
class RenderResult:
    """``output`` written (``format``): ``frames`` at ``fps``, ``width`` x ``height`` px, ``seconds`` of video, the
    ``audio`` muxed in, the ``ply`` written, the ``backend`` that rasterized on ``device``, seconds per phase
    (``timings``), the whole run's ``total_seconds``, the ``warnings`` given; ``skipped``: the output was up to date
    (the figures are the run's that made it; no timings)."""

    output: Path | None
    format: str
    frames: int
    fps: float
    width: int
    height: int
    seconds: float
    audio: Path | None
    ply: Path | None
    backend: str
    device: str
    timings: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    skipped: bool = False

    @classmethod
    def reused(cls, made: dict) -> "RenderResult":
        """The result of an up-to-date video, from the ``as_dict()`` of the run that made it (no timings)."""
        paths = {k: None if made[k] is None else Path(made[k]) for k in ("output", "audio", "ply")}
        return cls(paths["output"], made["format"], made["frames"], made["fps"], made["width"], made["height"],
                   made["seconds"], paths["audio"], paths["ply"], made["backend"], made["device"],
                   warnings=list(made["warnings"]), skipped=True)

    def as_dict(self) -> dict:
        return {"output": None if self.output is None else str(self.output), "format": self.format,
                "frames": self.frames, "fps": self.fps, "width": self.width, "height": self.height,
                "seconds": round(self.seconds, 4), "audio": None if self.audio is None else str(self.audio),
                "ply": None if self.ply is None else str(self.ply), "backend": self.backend, "device": self.device,
                "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
                "total_s": round(self.total_seconds, 4),
                "realtime_factor": round(self.seconds / self.total_seconds, 2) if self.total_seconds > 0 else None,
                "warnings": self.warnings, "skipped": self.skipped}


def open_bundle(path: Path) -> tuple[Bundle, Avatar]:
    if not Path(path).is_dir():
        raise InvalidInput(f"no avatar bundle at {path}", tip="make one with `talkavatar fit PHOTO`")
    bundle = Bundle.open(path)
    return bundle, read_avatar(bundle, by="render")


def input_camera_path(bundle: Bundle, avatar: Avatar, width: int, height: int, frames: int) -> CameraPath:
    """``--camera input``: the camera ``track`` fitted to the photo (its photo frame,
    :attr:`~talkavatar.bundle.artifacts.TrackParams.photo_frame`), seeing the motion's body where the photo shows
    the person.

    The tracked frame places the body with a global rotation ``R`` about the rig's root joint ``p`` and a translation
    ``t``; a motion's root moves relative to that, so the camera is composed with ``x -> R (x - p) + p + t``.
    """
    bundle.require("track", by="render --camera input")
    params = artifacts.read_track_params(bundle)
    t = params.photo_frame
    rotation = axis_angle_to_matrix(torch.from_numpy(params.joint_rotations[t, 0].copy()).double())
    pivot = avatar.rig.joints[0].detach().cpu().double()
    body_to_world = torch.eye(4, dtype=torch.float64)
    body_to_world[:3, :3] = rotation
    body_to_world[:3, 3] = pivot - rotation @ pivot + torch.from_numpy(params.root_translation[t].copy()).double()
    world_to_camera = torch.from_numpy(params.world_to_camera[t].copy()).double() @ body_to_world
    return CameraPath.from_input(world_to_camera, torch.from_numpy(params.intrinsics[t].copy()), params.image_size,
                                 width=width, height=height, frames=frames)


def tracked_view(bundle: Bundle):
    """(joint_rotations [1, 55, 3], root_translation [1, 3], arkit_weights [1, 52], Cameras, hidden parts) of the
    photo as ``track`` fitted it (its photo frame), or None when the bundle has no ``track/``. Hidden parts: those
    the detector did not see (:func:`~talkavatar.core.body.parts.hidden_parts`)."""
    if not artifacts.has_output(bundle, artifacts.TRACK_PARAMS):
        return None
    params = artifacts.read_track_params(bundle)
    t = params.photo_frame
    w, h = params.image_size
    camera = Cameras(torch.from_numpy(params.world_to_camera[t:t + 1].copy()),
                     torch.from_numpy(params.intrinsics[t:t + 1].copy()), w, h)
    detections = artifacts.read_detections(bundle)
    hidden = [] if detections is None else hidden_parts(detections["body"][t], detections["body_visibility"][t], w, h)
    return tuple(torch.from_numpy(a.copy()) for a in params.poses(slice(t, t + 1))) + (camera, hidden)


def auto_camera_path(bundle: Bundle, avatar: Avatar, config: RenderConfig, timeline: Timeline, device,
                     log: Log) -> CameraPath:
    """``--camera auto`` (:mod:`talkavatar.render.framing`): what the tracked photo showed, framed over the clip;
    the whole body when the bundle has no ``track/``. ``config``: as asked (sides left open take the framing's
    aspect, at the device's default long side)."""
    rig = avatar.rig
    view = tracked_view(bundle)
    side = 0.0
    if view is None:
        shown = torch.ones(rig.vertices.shape[0], dtype=torch.bool)
        log("camera auto: no track/ in the bundle, framing the whole body")
    else:
        jr, rt, aw, camera, hidden = view
        jr, rt, aw, camera = jr.to(rig.device), rt.to(rig.device), aw.to(rig.device), camera.to(rig.device)
        posed = tracked_pose(rig, jr, rt, aw)
        shown = shown_vertices(rig, posed, camera, hidden).cpu()
        side = seen_side_yaw(rig, posed, camera)
    shot = plan_shot(rig, shown, timeline.poses, timeline.frames, timeline.fps)
    aspect = frame_size(shot.half_size)
    sized = config.sized(torch.device(device).type, aspect[0] / aspect[1])
    width, height = sized.width, sized.height
    yaw = config.yaw + side
    distance = config.distance or front_distance(shot.half_size, width, height, yaw=yaw)
    box = 2 * shot.half_size
    log(f"camera auto: frames {box[0]:.2f} x {box[1]:.2f} m of the body ({100 * float(shown.double().mean()):.0f}% "
        f"of it was in the photo) at {width}x{height}, {distance:.2f} m away"
        + (f", turned {side:+.0f} degrees towards the side of the face the photo saw" if side else ""))
    return CameraPath.following(shot.centers, distance, width=width, height=height, yaw=yaw, pitch=config.pitch)


def render_frames(avatar: Avatar, joint_rotations: torch.Tensor, root_translation: torch.Tensor,
                  arkit_weights: torch.Tensor, world_to_camera: torch.Tensor, K: torch.Tensor,
                  image_size: tuple[int, int], size: tuple[int, int], device, batch: int = 8) -> np.ndarray:
    """These T poses of the avatar seen by one camera, over black: uint8 [T, h, w, 3] sRGB at ``size`` (w, h).

    Poses: ``joint_rotations`` [T, 55, 3], ``root_translation`` [T, 3], ``arkit_weights`` [T, 52]. Camera:
    ``world_to_camera`` [4, 4] and intrinsics ``K`` [3, 3] in pixels of an ``image_size`` (w, h) picture, rescaled
    to ``size``. Rendered ``batch`` frames at a time on ``device`` (what eval's self-reenactment compares)."""
    frames = int(joint_rotations.shape[0])
    motion = Motion(DEFAULT_FPS, joint_rotations.numpy(), root_translation.numpy(), arkit_weights.numpy())
    timeline = Timeline(motion, DEFAULT_FPS, 0.0, frames)
    w, h = size
    cameras = CameraPath.from_input(world_to_camera, K, image_size, width=w, height=h, frames=frames)
    producer = FrameProducer(avatar, timeline, cameras, Background.parse("black", w, h), pixel_format="rgb24",
                             batch=batch, device=device)
    return np.concatenate([b.pixels.cpu().numpy() for b in producer]).reshape(frames, h, w, 3)


def choose_format(config: RenderConfig, output: Path | None) -> str:
    """``--format``, else from ``-o``'s suffix (.mp4, .webm; anything else is a PNG folder), else mp4."""
    if config.format is not None:
        return config.format
    if output is None:
        return "mp4"
    return SUFFIXES.get(output.suffix.lower(), "png")


def default_output(source: Path | None, format: str) -> Path:
    """``<source stem>.mp4`` / ``.webm`` / ``-frames/`` in the working directory."""
    stem = source.name.split(".")[0] if source is not None else "avatar"
    return Path.cwd() / (f"{stem}-frames" if format == "png" else f"{stem}.{format}")


def check_output(path: Path, fmt: str) -> None:
    """Before any work, make sure ``path`` can be written as ``fmt`` (else exit 3, one line): a video must not name
    a folder, a PNG sequence (a folder) not a file, and the place must be writable."""
    if fmt == "png" and path.exists() and not path.is_dir():
        raise InvalidInput(f"{path} is a file; --format png writes a folder of frames",
                           tip="choose another -o path, or -o NAME.mp4 for a video")
    if fmt != "png" and path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a {fmt} file", tip=f"name a file: -o {path / ('talk.' + fmt)}")
    probe_writable(path.parent)


def sized_for(config: RenderConfig, bundle: Bundle, device: torch.device, log: Log) -> RenderConfig:
    """``config`` with the size and batch it leaves open chosen for ``device`` and the framing (the photo's aspect
    for ``--camera input``, else portrait 9:16); says what it chose."""
    if None not in (config.width, config.height, config.batch):
        return config
    aspect = 9 / 16
    if config.camera == "input" and bundle.record("track") is not None:
        width, height = artifacts.read_track_params(bundle).image_size
        aspect = width / height
    sized = config.sized(device.type, aspect)
    if config.camera != "auto":  # auto says its size once it knows the framing
        log(f"render: {sized.width}x{sized.height}, batch {sized.batch} for {device.type}"
            + ("" if device.type == "cuda" else " (a GPU renders 1080x1920; choose with --width/--height)"))
    return sized


def _reported(batches, shown):
    """The frame batches, telling ``shown`` (a progress reporter) how many frames are done."""
    for batch in batches:
        yield batch
        shown.update(batch.first + batch.pixels.shape[0])


def motion_audio(motion: Motion, motion_path: Path, warn: Log) -> tuple[Path, float] | None:
    """The audio a motion file names (path, offset seconds), when it is there unchanged. A relative path is
    looked up from the working directory, then beside the motion file."""
    ref = motion.audio
    if not ref or not ref.get("path"):
        return None
    path = Path(ref["path"])
    if not path.is_absolute() and not path.is_file() and (motion_path.parent / path).is_file():
        path = motion_path.parent / path
    if not path.is_file():
        warn(f"the motion's audio {path} is not there; rendering without sound")
        return None
    if ref.get("sha256") and sha256_file(path) != ref["sha256"]:
        warn(f"the motion's audio {path} changed since the motion was made; rendering without sound")
        return None
    return path, float(ref.get("offset_seconds") or 0.0)


@dataclass(frozen=True)
class Performance:
    """What the avatar performs: ``motion``; ``sound``: (audio file, offset in seconds) muxed in sync, or None;
    ``seconds``: the clip's length (None: the motion's); ``fps``: the rate to render at; ``name``: the file whose
    stem names the default output (None: ``avatar``)."""

    motion: Motion
    sound: tuple[Path, float] | None
    seconds: float | None
    fps: float
    name: Path | None


def performance(motion: Path | Motion, fps: float | None, sound: Path | None = None, seconds: float | None = None,
                warn: Log = stderr_warn) -> Performance:
    """A :class:`Performance` of a motion file or ARKit CSV (at ``fps``, default its own rate, with the audio it
    names when that is present), or of a :class:`Motion` made from the speech ``sound`` lasting ``seconds``."""
    if isinstance(motion, Motion):
        return Performance(motion, None if sound is None else (Path(sound), 0.0), seconds, fps or motion.fps,
                           None if sound is None else Path(sound))

    if not Path(motion).is_file():
        raise InvalidInput(f"{motion}: no such motion file")
    loaded = load_motion_any(Path(motion))  # a CSV's rate comes from its timecodes, not --fps
    return Performance(loaded, motion_audio(loaded, Path(motion), warn), None, fps or loaded.fps, Path(motion))


def run_render(bundle_path: Path, config: RenderConfig, performed: Performance | None, ctx: StageContext, *,
               output: Path | None = None, export_ply: Path | None = None, synchronize: bool = False,
               backend: str = "auto") -> RenderResult:
    """Render ``performed`` with the avatar of ``bundle_path`` (see the module docstring). Without a performance
    only ``export_ply`` is written, in the rest pose. ``synchronize`` makes the per-phase CUDA timings exact
    (benchmarks). Timings and warnings go to ``ctx`` (its clock started before the motion was made)."""
    if performed is None and export_ply is None:
        raise UsageError("nothing to render: give --audio FILE or --motion FILE (or --export-ply FILE)",
                         tip="e.g. talkavatar render --audio speech.wav")
    fmt = choose_format(config, output)
    with ctx.timed("load"):
        bundle, avatar = open_bundle(bundle_path)
        avatar = avatar.to(ctx.device, torch.float32)
    requested = config  # auto sizes what it leaves open once it knows the framing
    config = sized_for(config, bundle, ctx.device, ctx.log)
    background = Background.parse(config.background, config.width, config.height)
    if background.transparent and fmt == "mp4":
        raise UsageError("an mp4 (H.264) has no alpha channel for --background transparent",
                         tip="use --format png (RGBA frames) or --format webm (VP9 with alpha)")
    if fmt != "png" and (config.width % 2 or config.height % 2):
        raise UsageError(f"{fmt} needs an even width and height, got {config.width}x{config.height}")
    out_path = None
    if performed is not None:
        out_path = Path(output) if output is not None else default_output(performed.name, fmt)
        check_output(out_path, fmt)  # before minutes of work, not after
    motion = performed.motion if performed is not None else Motion.still(1)  # PLY only: the rest pose
    length = performed.seconds if performed is not None and performed.seconds is not None else motion.seconds
    if config.start >= length:
        raise UsageError(f"--start {config.start:g} s is past the end of the motion ({length:.2f} s)")
    fps = performed.fps if performed is not None else (config.fps or DEFAULT_FPS)
    timeline = Timeline.of(motion, fps, config.start, config.duration, None if performed is None else performed.seconds)
    first = avatar.pose(*(t.to(ctx.device) for t in timeline.poses([0])))
    ply_path = None
    if export_ply is not None:
        write_ply(Path(export_ply), first)
        ply_path = Path(export_ply)
        ctx.log(f"wrote {ply_path} ({avatar.count} Gaussians)")
    if performed is None:
        ctx.timings["total"] = ctx.seconds
        return RenderResult(None, fmt, 0, timeline.fps, config.width, config.height, 0.0, None, ply_path, "",
                            str(ctx.device), dict(ctx.timings), ctx.seconds, list(ctx.warnings))
    cameras = _camera_path(requested if config.camera == "auto" else config, bundle, avatar, first, timeline, ctx)
    if (cameras.width, cameras.height) != (config.width, config.height):
        config = replace(config, width=cameras.width, height=cameras.height)
        if background.kind == "image":
            background = Background.parse(config.background, config.width, config.height)
    track = None if performed.sound is None else \
        AudioTrack(performed.sound[0], performed.sound[1] + timeline.start, timeline.seconds)
    producer = FrameProducer(avatar, timeline, cameras, background,
                             pixel_format=input_pixel_format(fmt, background.transparent), batch=config.batch,
                             device=ctx.device, backend=backend, synchronize=synchronize)
    ctx.log(f"render: {timeline.frames} frames at {timeline.fps:g} fps, {config.width}x{config.height}, "
            f"{avatar.count} Gaussians on {ctx.device} -> {out_path}")
    frames = _encode(producer, out_path, fmt, config, timeline, background, track, ctx)
    ctx.used(producer.timings.backend)
    ctx.timings["total"] = ctx.seconds
    return RenderResult(out_path, fmt, frames, timeline.fps, config.width, config.height, timeline.seconds,
                        None if track is None else track.path, ply_path, ctx.backend, str(ctx.device),
                        dict(ctx.timings), ctx.timings["total"], list(ctx.warnings))


def _camera_path(config: RenderConfig, bundle: Bundle, avatar: Avatar, first, timeline: Timeline,
                 ctx: StageContext) -> CameraPath:
    if config.camera == "auto":
        return auto_camera_path(bundle, avatar, config, timeline, ctx.device, ctx.log)
    width, height = config.width, config.height
    if config.camera == "input":
        return input_camera_path(bundle, avatar, width, height, timeline.frames)
    framing = Framing.of_points(first.means[0].detach().to("cpu", torch.float64))
    return CameraPath.around(config.camera, framing, width=width, height=height, frames=timeline.frames,
                             yaw=config.yaw, pitch=config.pitch, distance=config.distance,
                             orbit_degrees=config.orbit_degrees)


def _encode(producer: FrameProducer, out_path: Path, fmt: str, config: RenderConfig, timeline: Timeline,
            background: Background, track: AudioTrack | None, ctx: StageContext) -> int:
    """Produce and encode every frame into ``out_path``; the phases' seconds go to ``ctx.timings``. Returns the
    frames written."""
    t0 = time.perf_counter()
    try:
        with VideoSink(out_path, format=fmt, width=config.width, height=config.height, fps=timeline.fps,
                       transparent=background.transparent, audio=track, crf=config.crf) as sink, \
                progress("render", timeline.frames, "frames", faster="a smaller --width/--height, --duration, or a "
                                                                   "GPU") as shown:
            encode_busy = encode(_reported(producer, shown), sink)
            t_frames = time.perf_counter() - t0
    except torch.cuda.OutOfMemoryError:
        raise StageFailed(f"out of GPU memory rendering {config.batch} frames of {config.width}x{config.height} "
                          "at once", tip="lower --batch (or the resolution)") from None
    ctx.timings["frames_and_encode"] = time.perf_counter() - t0
    ctx.timings["encode_tail"] = ctx.timings["frames_and_encode"] - t_frames
    ctx.timings["posing"] = producer.timings.posing
    ctx.timings["raster"] = producer.timings.raster
    ctx.timings["convert"] = producer.timings.convert
    ctx.timings["encode_writer_busy"] = encode_busy
    return sink.frames
