"""The render stage: a bundle's avatar plus speech or motion becomes a video, a PNG sequence and/or a PLY file.

Steps: open the bundle and load ``fit/`` (hash-checked) -> motion from ``--motion`` (motion file or ARKit CSV) or
from ``--audio`` through drive-audio -> the clip's :class:`Timeline` -> a :class:`CameraPath` -> frames produced in
batches on the device (:class:`FrameProducer`) and encoded by ffmpeg in a writer thread (:func:`encode`) with the
audio muxed in sync (:mod:`talkavatar.render.audio_track`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle import Bundle
from talkavatar.core.avatar import AVATAR_FILE, RIG_FILE, SCHEMA as AVATAR_SCHEMA, Avatar
from talkavatar.core.body.rig import SCHEMA as RIG_SCHEMA, Rig
from talkavatar.errors import InvalidInput, StageFailed, UsageError
from talkavatar.motion.file import Motion
from talkavatar.render.audio_track import AudioTrack
from talkavatar.render.background import Background
from talkavatar.render.camera_path import CameraPath, Framing
from talkavatar.core.device import resolve_device
from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.render.config import RenderConfig
from talkavatar.render.frames import FrameProducer
from talkavatar.render.pipeline import encode
from talkavatar.render.ply import write_ply
from talkavatar.render.timeline import Timeline
from talkavatar.render.video import VideoSink, input_pixel_format

Log = Callable[[str], None]
SUFFIXES = {".mp4": "mp4", ".webm": "webm"}
TRACK_PARAMS = "track/params.safetensors"
TRACK_DETECTIONS = "track/detections.safetensors"
DEFAULT_FPS = 30.0


@dataclass
class RenderResult:
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

    def as_dict(self) -> dict:
        return {"output": None if self.output is None else str(self.output), "format": self.format,
                "frames": self.frames, "fps": self.fps, "width": self.width, "height": self.height,
                "seconds": round(self.seconds, 4), "audio": None if self.audio is None else str(self.audio),
                "ply": None if self.ply is None else str(self.ply), "backend": self.backend, "device": self.device,
                "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
                "total_s": round(self.total_seconds, 4),
                "realtime_factor": round(self.seconds / self.total_seconds, 2) if self.total_seconds > 0 else None,
                "warnings": self.warnings}


def load_avatar(bundle: Bundle) -> Avatar:
    """The bundle's fitted avatar, after checking the fit stage is present, fresh and unchanged on disk."""
    bundle.require("fit", by="render")
    rig_tensors, rig_meta = bundle.read_tensors(f"fit/{RIG_FILE}", RIG_SCHEMA)
    tensors, metadata = bundle.read_tensors(f"fit/{AVATAR_FILE}", AVATAR_SCHEMA)
    try:
        return Avatar.from_tensors(Rig.from_tensors(rig_tensors, rig_meta), tensors, metadata)
    except (ValueError, KeyError) as e:
        raise InvalidInput(f"{bundle.root}/fit: the avatar does not fit its rig ({e})",
                           tip=f"rerun `talkavatar fit -b {bundle.root} --force`") from None


def open_bundle(path: Path) -> tuple[Bundle, Avatar]:
    if not Path(path).is_dir():
        raise InvalidInput(f"no avatar bundle at {path}", tip="make one with `talkavatar fit PHOTO`")
    bundle = Bundle.open(path)
    return bundle, load_avatar(bundle)


def input_camera_path(bundle: Bundle, avatar: Avatar, width: int, height: int, frames: int) -> CameraPath:
    """``--camera input``: the camera ``track`` fitted to the photo (frame 0), seeing the motion's body where the
    photo shows the person.

    The tracked frame places the body with a global rotation ``R`` about the rig's root joint ``p`` and a translation
    ``t``; a motion's root moves relative to that, so the camera is composed with ``x -> R (x - p) + p + t``.
    """
    bundle.require("track", by="render --camera input")
    tensors, _ = bundle.read_tensors(TRACK_PARAMS, "talkavatar.track")
    size = tuple(int(v) for v in tensors["image_size"])
    rotation = axis_angle_to_matrix(torch.from_numpy(tensors["joint_rotations"][0, 0].copy()).double())
    pivot = avatar.rig.joints[0].detach().cpu().double()
    body_to_world = torch.eye(4, dtype=torch.float64)
    body_to_world[:3, :3] = rotation
    body_to_world[:3, 3] = pivot - rotation @ pivot + torch.from_numpy(tensors["root_translation"][0].copy()).double()
    world_to_camera = torch.from_numpy(tensors["world_to_camera"][0].copy()).double() @ body_to_world
    return CameraPath.from_input(world_to_camera, torch.from_numpy(tensors["intrinsics"][0].copy()), size,
                                 width=width, height=height, frames=frames)


def tracked_view(bundle: Bundle, avatar: Avatar):
    """(joint_rotations [1, 55, 3], root_translation [1, 3], arkit_weights [1, 52], Cameras) of the photo as
    ``track`` fitted it (its first tracked frame), or None when the bundle has no ``track/``."""
    from talkavatar.core.cameras import Cameras

    if TRACK_PARAMS not in (bundle.record("track") or {}).get("outputs", {}):
        return None
    t, _ = bundle.read_tensors(TRACK_PARAMS, "talkavatar.track")
    i = int(np.flatnonzero(t["tracked"])[0]) if "tracked" in t and t["tracked"].any() else 0
    w, h = (int(v) for v in t["image_size"])
    camera = Cameras(torch.from_numpy(t["world_to_camera"][i:i + 1].copy()),
                     torch.from_numpy(t["intrinsics"][i:i + 1].copy()), w, h)
    return tuple(torch.from_numpy(t[k][i:i + 1].copy()) for k in ("joint_rotations", "root_translation",
                                                                   "arkit_weights")) + (camera,)


def auto_camera_path(bundle: Bundle, avatar: Avatar, config: RenderConfig, timeline: Timeline,
                     log: Log) -> CameraPath:
    """``--camera auto`` (:mod:`talkavatar.render.framing`): what the tracked photo showed, framed over the clip;
    the whole body when the bundle has no ``track/``."""
    from talkavatar.render.framing import frame_size, front_distance, hidden_parts, plan_shot, shown_vertices

    rig = avatar.rig
    view = tracked_view(bundle, avatar)
    if view is None:
        shown = torch.ones(rig.vertices.shape[0], dtype=torch.bool)
        log("camera auto: no track/ in the bundle, framing the whole body")
    else:
        jr, rt, aw, camera = view
        hidden = []
        if TRACK_DETECTIONS in (bundle.record("track") or {}).get("outputs", {}):
            d, _ = bundle.read_tensors(TRACK_DETECTIONS, "talkavatar.detections")
            hidden = hidden_parts(d["body"][0], d["body_visibility"][0], camera.width, camera.height)
        shown = shown_vertices(rig, jr.to(rig.device), rt.to(rig.device), aw.to(rig.device),
                               camera.to(rig.device), hidden).cpu()
    shot = plan_shot(rig, shown, timeline.poses, timeline.frames, timeline.fps)
    width, height = config.size(frame_size(shot.half_size))
    distance = config.distance or front_distance(shot.half_size, width, height)
    box = 2 * shot.half_size
    log(f"camera auto: frames {box[0]:.2f} x {box[1]:.2f} m of the body ({100 * float(shown.double().mean()):.0f}% "
        f"of it was in the photo) at {width}x{height}, {distance:.2f} m away")
    return CameraPath.following(shot.centers, distance, width=width, height=height, yaw=config.yaw,
                                pitch=config.pitch)


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


def check_writable(path: Path) -> None:
    """Create ``path``'s directory if missing and make sure a file can be written there (exit 1 if not)."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as e:
        raise StageFailed(f"cannot write {path} ({e.strerror or e})",
                          tip="choose an output path in a writable directory (-o)") from None


def motion_audio(motion: Motion, motion_path: Path, warn: Log) -> tuple[Path, float] | None:
    """The audio a motion file names (path, offset seconds), when it is there unchanged. A relative path is
    looked up from the working directory, then beside the motion file."""
    from talkavatar.bundle import sha256_file

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


def obtain_motion(audio: Path | None, motion: Path | None, fps: float | None, *, drive, transcript: str | None,
                  log: Log, warn: Log, timings: dict[str, float]
                  ) -> tuple[Motion | None, float | None, tuple[Path, float] | None, float | None]:
    """(motion, its audio's length in seconds or None, (audio file, offset) to mux or None, fps to render at).

    ``audio``: drive-audio makes the motion at ``fps`` (default 30) and the audio is muxed. ``motion``: a motion
    file or ARKit CSV, rendered at ``fps`` (default its own rate), with the audio it names when that is present.
    """
    if audio is not None:
        from talkavatar.audio.drive import drive_audio

        fps = fps or DEFAULT_FPS
        t0 = time.perf_counter()
        kwargs = {} if drive is None else {"seed": drive.seed, "style": drive.style, "gestures": drive.gestures}
        result = drive_audio(Path(audio), transcript=transcript, fps=fps, **kwargs)
        for message in result.warnings:
            warn(message)
        timings["drive_audio"] = time.perf_counter() - t0
        log(f"drive-audio: {result.seconds:.1f} s of speech -> {result.motion.frames} frames "
            f"({timings['drive_audio']:.2f} s)")
        return result.motion, result.seconds, (Path(audio), 0.0), fps
    if motion is not None:
        from talkavatar.motion.any import load_motion_any

        if not Path(motion).is_file():
            raise InvalidInput(f"{motion}: no such motion file")
        loaded = load_motion_any(Path(motion))  # a CSV's rate comes from its timecodes, not --fps
        return loaded, None, motion_audio(loaded, Path(motion), warn), fps or loaded.fps
    return None, None, None, fps


def run_render(bundle_path: Path, config: RenderConfig, *, audio: Path | None = None, motion: Path | None = None,
               output: Path | None = None, export_ply: Path | None = None, drive=None,
               transcript: str | None = None, device: str | None = None, log: Log = print, warn: Log = print,
               synchronize: bool = False, backend: str = "auto") -> RenderResult:
    """Render (see the module docstring). ``drive`` is a ``DriveAudioConfig`` for ``audio`` (its fps is ignored:
    the motion is made at the render's fps). Without ``audio`` and ``motion`` only ``export_ply`` is written, in
    the rest pose. ``synchronize`` makes the per-phase CUDA timings exact (benchmarks)."""
    started = time.perf_counter()
    if audio is not None and motion is not None:
        raise UsageError("give --audio or --motion, not both")
    if audio is None and motion is None and export_ply is None:
        raise UsageError("nothing to render: give --audio FILE or --motion FILE (or --export-ply FILE)",
                         tip="e.g. talkavatar render --audio speech.wav")
    fmt = choose_format(config, output)
    width, height = config.size()  # auto may choose another size once it knows the framing
    background = Background.parse(config.background, width, height)
    if background.transparent and fmt == "mp4":
        raise UsageError("an mp4 (H.264) has no alpha channel for --background transparent",
                         tip="use --format png (RGBA frames) or --format webm (VP9 with alpha)")
    if fmt != "png" and (width % 2 or height % 2):
        raise UsageError(f"{fmt} needs an even width and height, got {width}x{height}")
    dev = resolve_device(device)
    timings: dict[str, float] = {}
    warnings: list[str] = []

    def _warn(message: str) -> None:
        warnings.append(message)
        warn(message)

    t0 = time.perf_counter()
    bundle, avatar = open_bundle(bundle_path)
    avatar = avatar.to(dev, torch.float32)
    timings["load"] = time.perf_counter() - t0
    out_path = None
    if audio is not None or motion is not None:
        out_path = Path(output) if output is not None else default_output(audio or motion, fmt)
        check_writable(out_path)  # before minutes of work, not after

    the_motion, total_seconds, audio_source, fps = obtain_motion(
        audio, motion, config.fps, drive=drive, transcript=transcript, log=log, warn=_warn, timings=timings)
    track: AudioTrack | None = None

    ply_path = None
    if the_motion is None:  # PLY only, rest pose
        the_motion = Motion.still(1)
    length = total_seconds if total_seconds is not None else the_motion.seconds
    if config.start >= length:
        raise UsageError(f"--start {config.start:g} s is past the end of the motion ({length:.2f} s)")
    timeline = Timeline.of(the_motion, fps or DEFAULT_FPS, config.start, config.duration, total_seconds)

    first = avatar.pose(*(t.to(dev) for t in timeline.poses([0])))
    if export_ply is not None:
        write_ply(Path(export_ply), first)
        ply_path = Path(export_ply)
        log(f"wrote {ply_path} ({avatar.count} Gaussians)")
    if audio is None and motion is None:
        timings["total"] = time.perf_counter() - started
        return RenderResult(None, fmt, 0, timeline.fps, width, height, 0.0, None, ply_path, "",
                            str(dev), timings, time.perf_counter() - started, warnings)

    if config.camera == "auto":
        cameras = auto_camera_path(bundle, avatar, config, timeline, log)
        if (cameras.width, cameras.height) != (width, height) and background.kind == "image":
            background = Background.parse(config.background, cameras.width, cameras.height)
        width, height = cameras.width, cameras.height
    elif config.camera == "input":
        cameras = input_camera_path(bundle, avatar, width, height, timeline.frames)
    else:
        framing = Framing.of_points(first.means[0].detach().to("cpu", torch.float64))
        cameras = CameraPath.around(config.camera, framing, width=width, height=height,
                                    frames=timeline.frames, yaw=config.yaw, pitch=config.pitch,
                                    distance=config.distance, orbit_degrees=config.orbit_degrees)
    if audio_source is not None:
        track = AudioTrack(audio_source[0], audio_source[1] + timeline.start, timeline.seconds)
    producer = FrameProducer(avatar, timeline, cameras, background,
                             pixel_format=input_pixel_format(fmt, background.transparent), batch=config.batch,
                             device=dev, backend=backend, synchronize=synchronize)
    log(f"render: {timeline.frames} frames at {timeline.fps:g} fps, {width}x{height}, "
        f"{avatar.count} Gaussians on {dev} -> {out_path}")
    t0 = time.perf_counter()
    try:
        with VideoSink(out_path, format=fmt, width=width, height=height, fps=timeline.fps,
                       transparent=background.transparent, audio=track) as sink:
            encode_busy = encode(producer, sink)
            t_frames = time.perf_counter() - t0
    except torch.cuda.OutOfMemoryError:
        raise StageFailed(f"out of GPU memory rendering {config.batch} frames of {width}x{height} "
                          "at once", tip="lower --batch (or the resolution)") from None
    timings["frames_and_encode"] = time.perf_counter() - t0
    timings["encode_tail"] = timings["frames_and_encode"] - t_frames
    timings["posing"] = producer.timings.posing
    timings["raster"] = producer.timings.raster
    timings["convert"] = producer.timings.convert
    timings["encode_writer_busy"] = encode_busy
    total = time.perf_counter() - started
    timings["total"] = total
    return RenderResult(out_path, fmt, sink.frames, timeline.fps, width, height, timeline.seconds,
                        None if track is None else track.path, ply_path, producer.timings.backend, str(dev),
                        timings, total, warnings)
