"""The track stage: input → detections → fitted body → bundle ``source/`` and ``track/``.

Everything that can fail on the user's input (reading it, finding a person) happens before the bundle is touched,
so a failed run leaves nothing behind (or the previous bundle state intact).
"""

from __future__ import annotations

import shlex
import shutil
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from talkavatar.bundle import Bundle, artifacts, sha256_file
from talkavatar.bundle.lock import LOCK_NAME
from talkavatar.bundle.store import check_target, exclusive
from talkavatar.config import as_record
from talkavatar.core.body.anny import anny_body
from talkavatar.core.body.smplx import SMPLXBody
from talkavatar.core.threads import one_thread
from talkavatar.errors import InvalidInput, StageFailed, UsageError
from talkavatar.runner import StageContext, commit, stderr_log, stderr_warn, up_to_date
from talkavatar.track.config import TrackConfig
from talkavatar.track.detect import Detection, HolisticDetector
from talkavatar.track.fit_frames import fit_footage
from talkavatar.track.footage import Footage, load_footage
from talkavatar.track.outputs import write_clip, write_source, write_track
from talkavatar.track.video import TrackedClip, check_presence, load_clip

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrackResult:
    bundle: Path
    frames: int
    tracked: int
    keypoint_error_pct: dict[str, float | None]
    mask_iou: float
    seconds: float
    skipped: bool = False
    people: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        picked = next((p["person"] for p in self.people if p["picked"]), None)
        return {"bundle": str(self.bundle), "frames": self.frames, "tracked_frames": self.tracked,
                "keypoint_error_pct": self.keypoint_error_pct, "mask_iou": self.mask_iou,
                "seconds": self.seconds, "skipped": self.skipped, "person": picked, "people": self.people,
                "rejected_landmarks": self.rejected}


def default_bundle_path(input_path: Path) -> Path:
    """``<stem>.avatar`` in the working directory."""
    return Path.cwd() / f"{Path(input_path).stem}.avatar"


def bundle_source(bundle_path: Path) -> Path:
    """The photo or video a bundle was tracked from (its copy in ``source/``)."""
    found = sorted((Path(bundle_path) / "source").glob("input.*"))
    if not found:
        raise InvalidInput(f"{bundle_path}: the bundle holds no source photo or video to track",
                           tip=f"`talkavatar track PHOTO -o {shlex.quote(str(bundle_path))}`")
    return found[0]


def detect_all(footage: Footage, model_complexity: int, log: Log, person: int | None = None) -> list[Detection]:
    """The main person (or person number ``person``, 1-based left to right) of every frame."""
    detections = []
    with HolisticDetector(model_complexity, check=footage.kind == "image") as detector:
        for i, frame in enumerate(footage.frames):
            detections.append(detector.detect(frame, person))
            if footage.kind == "video" and (i % 25 == 0 or i == len(footage.frames) - 1):
                log(f"detected {i + 1}/{len(footage.frames)} frames")
    return detections


def _load_body(config: TrackConfig, device):
    if config.body_model == "anny":
        return anny_body(str(device))

    return SMPLXBody(config.smplx_dir, device=device)


def run_track(input_path: Path, bundle_path: Path | None, config: TrackConfig, device: str | None = None,
              force: bool = False, log: Log = stderr_log, warn: Log = stderr_warn,
              photo_on_cpu: bool = False) -> TrackResult:
    """Track ``input_path`` into the bundle at ``bundle_path`` (default ``<stem>.avatar``). ``input_path`` may be a
    bundle: its source is tracked again (into itself unless ``bundle_path`` says otherwise).

    ``photo_on_cpu``: track a single photo on the CPU whatever ``device`` says (its small optimisation op by op is
    bound by kernel launches: on the H100 machine the CPU took 5.2 s where CUDA took 8.8 s; on CUDA each stage's
    steps now replay a CUDA graph, :data:`talkavatar.track.fitting.GRAPHED_STEPS`; benchmarks/RESULTS.md)."""
    input_path = Path(input_path)
    if (input_path / "bundle.json").is_file():  # a bundle: track its source photo or video again
        bundle_path = Path(bundle_path) if bundle_path is not None else input_path
        input_path = bundle_source(input_path)
    bundle_path = Path(bundle_path) if bundle_path is not None else default_bundle_path(input_path)
    check_target(bundle_path)  # before the work, not after it
    with exclusive(bundle_path, log=log):
        return _run_track(input_path, bundle_path, config, device, force, log, warn, photo_on_cpu)


def _run_track(input_path: Path, bundle_path: Path, config: TrackConfig, device: str | None, force: bool,
               log: Log, warn: Log, photo_on_cpu: bool) -> TrackResult:
    ctx = StageContext(device, log, warn)
    record = as_record(config)
    footage = load_footage(input_path, config.detect_size, config.stride, config.max_frames)
    if footage.kind == "video" and config.video is not None:
        raise UsageError("--video goes with a photo; INPUT is already a video",
                         tip="`talkavatar fit VIDEO` alone, or `talkavatar fit PHOTO --video VIDEO`")
    held = decoded = None
    if footage.kind == "video":
        footage, held, decoded = load_clip(input_path, config, warn, footage)
    else:
        for w in footage.warnings:
            warn(w)
    digest = sha256_file(input_path)
    clip_digest = sha256_file(config.video) if config.video is not None and Path(config.video).is_file() else None
    if not force and (bundle_path / artifacts.MANIFEST).is_file():
        done = _up_to_date(Bundle.open(bundle_path), digest, clip_digest, record)
        if done is not None:
            log(f"{bundle_path}: track is up to date (use --force to redo)")
            return done
    if config.video is not None and clip_digest is None:
        raise InvalidInput(f"{config.video}: no such video file", tip="check the --video path")

    log(f"{input_path.name}: {footage.kind}, {footage.full_size[0]}x{footage.full_size[1]} px"
        + (f", {len(footage.frames)} frames" if footage.kind == "video" else "")
        + (f" (the last {held.frames} held out for evaluation)" if held is not None and held.frames else ""))
    with ctx.timed("detect"):
        detections = detect_all(footage, config.model_complexity, log, config.person)
    found = np.array([d.found for d in detections])
    if not found.any():
        raise StageFailed(f"{input_path}: no person detected" + (" in any frame" if footage.kind == "video" else ""),
                          tip="use a photo or video where the person's face and shoulders are visible")
    _say_who(detections, config.person, warn)
    if footage.kind == "video":
        check_presence(found, input_path, warn)
    fitted, body, clip = _fit(footage, detections, input_path, config, ctx, held, decoded, photo_on_cpu)

    existed = (bundle_path / "bundle.json").exists()
    bundle = Bundle.create(bundle_path)
    try:
        _write(bundle, input_path, (digest, clip_digest), footage, detections, fitted, body, clip, config, record, ctx)
    except BaseException:
        if not existed:  # we made it: leave nothing behind but the lock file, which exclusive() removes
            for path in bundle_path.iterdir():
                if path.name != LOCK_NAME:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        raise
    m = fitted.metrics
    return TrackResult(bundle_path, len(footage.frames), int(found.sum()), m["keypoint_error_pct"], m["mask_iou"],
                       round(ctx.seconds, 2), people=m["people"], rejected=m["rejected_landmarks"])


def _fit(footage: Footage, detections: list[Detection], input_path: Path, config: TrackConfig, ctx: StageContext,
         held, decoded, photo_on_cpu: bool):
    """(fitted, body model, the tracked clip or None): the input's frames fitted; a video input is also the clip
    (:class:`~talkavatar.track.video.TrackedClip`); ``config.video`` is tracked with the photo's shape."""
    if photo_on_cpu and footage.kind == "image" and config.video is None:
        ctx.on(torch.device("cpu"))
    with ctx.timed("load_model"):
        body = _load_body(config, ctx.device)
    # on the CPU, one torch thread: a photo's fit and a clip's frame-by-frame fit are batches of one frame, too small
    # for a second thread (single_face at load ~4: 2.27 s CPU a frame with two threads, 0.57 s with one)
    with one_thread() if ctx.device.type == "cpu" else nullcontext():
        fitted = fit_footage(body, footage, detections, config, ctx.device, ctx.log, ctx.timings)
        clip = None
        if footage.kind == "video":
            clip = TrackedClip(input_path, footage, detections, fitted, held, decoded, "clip")
        elif config.video is not None:
            with ctx.timed("clip"):
                clip = _track_clip(body, Path(config.video), fitted.shape, config, ctx)
    ctx.used(f"{ctx.device.type}:torch")
    return fitted, body, clip


def _track_clip(body, path: Path, shape: torch.Tensor, config: TrackConfig, ctx: StageContext) -> TrackedClip:
    """Track the clip at ``path`` with the body ``shape`` [S] (the photo's) held fixed."""
    footage, held, decoded = load_clip(path, config, ctx.warn)
    ctx.log(f"{path.name}: video, {footage.full_size[0]}x{footage.full_size[1]} px, {len(footage.frames)} frames "
            "tracked with the photo's shape" + (f", the last {held.frames} held out" if held.frames else ""))
    detections = detect_all(footage, config.model_complexity, ctx.log, config.person)
    check_presence(np.array([d.found for d in detections]), path, ctx.warn)
    fitted = fit_footage(body, footage, detections, config, ctx.device, ctx.log, {}, shape=shape)
    return TrackedClip(path, footage, detections, fitted, held, decoded, "photo")


def _say_who(detections: list[Detection], person: int | None, warn: Log) -> None:
    """Warn when several people are in view (who is tracked, how to pick another) and when the detector needed an
    image variant to find the person."""
    first = next(d for d in detections if d.found)
    if first.people > 1:
        picked = next(p["person"] for p in first.everyone if p["picked"])
        how = "as asked" if person is not None else "the main one: largest, most central, most complete"
        warn(f"{first.people} people in view; tracking person {picked} ({how}); track/overlay.png numbers them, "
             "--person N picks another")
    if first.variant != "as given":
        warn(f"the person was found on the {first.variant} image")


def _up_to_date(bundle, digest: str, clip_digest: str | None, record: dict) -> TrackResult | None:
    """The runner's rule (:func:`talkavatar.runner.up_to_date`), and the input file (and clip) are the ones
    tracked."""
    track = up_to_date(bundle, "track", record)
    source = bundle.record("source")
    if track is None or source is None or source["config"].get("sha256") != digest \
            or source["config"].get("video_sha256") != clip_digest:
        return None
    m = track.get("metrics", {})
    return TrackResult(bundle.root, m.get("frames", 1), m.get("tracked_frames", 1), m.get("keypoint_error_pct", {}),
                       m.get("mask_iou", float("nan")), 0.0, skipped=True, people=m.get("people", []),
                       rejected=m.get("rejected_landmarks", []))


def _write(bundle, input_path, digests, footage, detections, fitted, body, clip, config, record, ctx) -> None:
    source = StageContext(ctx.device_name, ctx.log, ctx.warn_to)
    source.used("cpu")
    about = {"original_name": input_path.name, "kind": footage.kind, "sha256": digests[0],
             "width": footage.full_size[0], "height": footage.full_size[1], "fps": footage.fps}
    if digests[1] is not None:
        about.update(video_name=Path(config.video).name, video_sha256=digests[1])
    commit(bundle, "source", about, [], source, lambda writer: write_source(writer, input_path, footage, fitted,
                                                                            config.video))

    def write(writer) -> None:
        write_track(writer, footage, detections, fitted, body, config)
        if clip is not None:
            write_clip(writer, clip, body, digests[1] or digests[0], config.video is not None)

    inputs = [artifacts.source_input(_suffix(input_path))]
    if config.video is not None:
        inputs.append(artifacts.source_video(_suffix(Path(config.video))))
    commit(bundle, "track", record, inputs, ctx, write)


def _suffix(path: Path) -> str:
    return path.suffix.lower() or ".bin"
