"""The track stage: input → detections → fitted body → bundle ``source/`` and ``track/``.

Everything that can fail on the user's input (reading it, finding a person) happens before the bundle is touched,
so a failed run leaves nothing behind (or the previous bundle state intact).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from talkavatar.config import as_record
from talkavatar.errors import StageFailed
from talkavatar.track.config import TrackConfig
from talkavatar.track.detect import Detection
from talkavatar.track.footage import Footage

Log = Callable[[str], None]
GROUPS = ("body", "face", "left_hand", "right_hand")


@dataclass
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


def detect_all(footage: Footage, model_complexity: int, log: Log, person: int | None = None) -> list[Detection]:
    """The main person (or person number ``person``, 1-based left to right) of every frame."""
    from talkavatar.track.detect import HolisticDetector

    detections = []
    with HolisticDetector(model_complexity) as detector:
        for i, frame in enumerate(footage.frames):
            detections.append(detector.detect(frame, person))
            if footage.kind == "video" and (i % 25 == 0 or i == len(footage.frames) - 1):
                log(f"detected {i + 1}/{len(footage.frames)} frames")
    return detections


def _load_body(config: TrackConfig, device):
    if config.body_model == "anny":
        from talkavatar.core.body.anny import anny_body

        return anny_body(str(device))
    from talkavatar.core.body.smplx import SMPLXBody

    return SMPLXBody(config.smplx_dir, device=device)


def run_track(input_path: Path, bundle_path: Path | None, config: TrackConfig, device: str | None = None,
              force: bool = False, log: Log = print, warn: Log = print, photo_on_cpu: bool = False) -> TrackResult:
    """Track ``input_path`` into the bundle at ``bundle_path`` (default ``<stem>.avatar``).

    ``photo_on_cpu``: track a single photo on the CPU whatever ``device`` says (its small optimisation is bound by
    kernel launches: on the H100 machine the CPU takes 5.2 s where CUDA takes 8.8 s; benchmarks/RESULTS.md)."""
    from talkavatar.bundle import Bundle, sha256_file
    from talkavatar.track.footage import load_footage

    t0 = time.perf_counter()
    input_path = Path(input_path)
    bundle_path = Path(bundle_path) if bundle_path is not None else default_bundle_path(input_path)
    record = as_record(config)

    footage = load_footage(input_path, config.detect_size, config.stride, config.max_frames)
    for w in footage.warnings:
        warn(w)
    digest = sha256_file(input_path)
    if not force and (bundle_path / "bundle.json").is_file():
        previous = Bundle.open(bundle_path)
        done = _up_to_date(previous, digest, record)
        if done is not None:
            log(f"{bundle_path}: track is up to date (use --force to redo)")
            return done

    log(f"{input_path.name}: {footage.kind}, {footage.full_size[0]}x{footage.full_size[1]} px"
        + (f", {len(footage.frames)} frames" if footage.kind == "video" else ""))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    detections = detect_all(footage, config.model_complexity, log, config.person)
    timings["detect"] = time.perf_counter() - t
    found = np.array([d.found for d in detections])
    if not found.any():
        raise StageFailed(f"{input_path}: no person detected",
                          tip="use a photo where the person's face and shoulders are visible")
    _say_who(detections, config.person, warn)
    if footage.kind == "video" and not found.all():
        warn(f"no person in {int((~found).sum())} of {len(found)} frames; their parameters are interpolated")

    import torch

    from talkavatar.core.device import resolve_device
    from talkavatar.track.fit_frames import fit_footage

    dev = torch.device("cpu") if photo_on_cpu and footage.kind == "image" else resolve_device(device)
    t = time.perf_counter()
    body = _load_body(config, dev)
    timings["load_model"] = time.perf_counter() - t
    fitted = fit_footage(body, footage, detections, config, dev, log, timings)

    existed = bundle_path.exists()
    bundle = Bundle.create(bundle_path)
    try:
        _write(bundle, input_path, digest, footage, detections, fitted, body, config, record, timings, dev)
    except BaseException:
        if not existed:
            shutil.rmtree(bundle_path, ignore_errors=True)  # we made it: leave nothing behind
        raise
    seconds = round(time.perf_counter() - t0, 2)
    m = fitted.metrics
    return TrackResult(bundle_path, len(footage.frames), int(found.sum()), m["keypoint_error_pct"], m["mask_iou"],
                       seconds, people=m["people"], rejected=m["rejected_landmarks"])


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


def _up_to_date(bundle, digest: str, record: dict) -> TrackResult | None:
    track = bundle.record("track")
    source = bundle.record("source")
    if track is None or source is None or track["config"] != record or bundle.stale_inputs("track"):
        return None
    if source["config"].get("sha256") != digest:
        return None
    m = track.get("metrics", {})
    return TrackResult(bundle.root, m.get("frames", 1), m.get("tracked_frames", 1), m.get("keypoint_error_pct", {}),
                       m.get("mask_iou", float("nan")), 0.0, skipped=True, people=m.get("people", []),
                       rejected=m.get("rejected_landmarks", []))


def _write(bundle, input_path, digest, footage, detections, fitted, body, config, record, timings, device) -> None:
    from talkavatar.track.outputs import write_source, write_track

    with bundle.write_stage("source", {"original_name": input_path.name, "kind": footage.kind, "sha256": digest,
                                       "width": footage.full_size[0], "height": footage.full_size[1],
                                       "fps": footage.fps}) as writer:
        write_source(writer, input_path, footage)
    with bundle.write_stage("track", record, inputs=[f"source/input{_suffix(input_path)}"]) as writer:
        write_track(writer, footage, detections, fitted, body, config)
        writer.timings.update(timings)
        writer.backend = f"{device.type}:torch"


def _suffix(path: Path) -> str:
    return path.suffix.lower() or ".bin"
