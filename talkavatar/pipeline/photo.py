"""From a photo to an avatar: track -> pseudo -> fit, each stage run only when missing or stale.

``talkavatar fit PHOTO`` is :func:`fit_input`; :func:`pseudo_input` is the pseudo stage with ``--import-video``
clips re-tracked by the track stage.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from talkavatar.bundle import Bundle, artifacts
from talkavatar.bundle.store import check_target, exclusive, pngs_kept
from talkavatar.config import as_record, from_record
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.fit.config import FitConfig, preset_for
from talkavatar.pseudo.config import PRESETS as PSEUDO_PRESETS, PseudoConfig
from talkavatar.runner import StageContext, stderr_log, stderr_warn
from talkavatar.track.config import TrackConfig

if TYPE_CHECKING:
    from talkavatar.fit.stage import FitResult
    from talkavatar.pseudo.stage import PseudoResult

Log = Callable[[str], None]
TRACK_PHOTO_ON_CPU = False
"""Track a photo on the CPU whatever ``--device`` says (as before the fit's steps were replayed from CUDA graphs, when
its ~600 kernels a step op by op made CUDA slower than the CPU: 8.8 against 5.2 s on an H100's host). False: on the
device (benchmarks/track_graphs.py measures both)."""
# The stages are imported by the function that runs them (torch, scipy, OpenCV: seconds), so that a run reaches the
# bundle's lock at once and a second writer says it waits before the first one is done.


def fit_input(input_path: Path, bundle_path: Path | None, config: FitConfig, device: str | None = None,
              force: bool = False, resume: bool = False, video: Path | None = None, holdout: float | None = None,
              log: Log = stderr_log, warn: Log = stderr_warn, show_progress: bool = False) -> FitResult:
    """``talkavatar fit INPUT``: INPUT is a bundle, or a photo/video whose bundle gets track and pseudo first when
    they are missing or stale. ``video``: a clip of the person added to a photo
    (tracked with its shape; its frames become photometric labels); ``holdout``: the clip's tail fraction kept for
    evaluation (the track setting; None: as last time). The result's ``stage_seconds`` says what each stage took."""
    input_path = Path(input_path)
    if (input_path / artifacts.MANIFEST).is_file():
        if bundle_path is not None and Path(bundle_path).resolve() != input_path.resolve():
            raise UsageError("INPUT is a bundle; -o/--bundle must be omitted or name the same bundle")
        if video is not None:
            raise UsageError("--video goes with a photo INPUT, not a bundle",
                             tip="`talkavatar fit PHOTO --video CLIP -o BUNDLE` tracks the clip into the bundle")
        bundle_path = input_path
    else:
        if not input_path.is_file():
            raise InvalidInput(f"{input_path}: no such file or bundle",
                               tip="give a photo, a video or an avatar bundle directory")
        from talkavatar.track.stage import default_bundle_path

        bundle_path = Path(bundle_path) if bundle_path is not None else default_bundle_path(input_path)
    if video is not None and not Path(video).is_file():
        raise InvalidInput(f"{video}: no such video file", tip="check the --video path")
    check_target(bundle_path)  # a wrong -o fails now, not after minutes of work
    tracking = _track_settings(bundle_path, video, holdout)
    with exclusive(bundle_path, log=log):  # one writer for the whole chain: a second run waits, then skips
        return _fit_input(input_path, Path(bundle_path), config, tracking, device, force, resume, log, warn,
                          show_progress)


def _track_settings(bundle_path: Path, video: Path | None, holdout: float | None) -> TrackConfig:
    """The track settings of the last run (or the defaults) with ``video`` and ``holdout`` when given."""
    config = upstream_config(bundle_path, "track", TrackConfig)
    changes = {k: v for k, v in (("video", None if video is None else Path(video).resolve()), ("holdout", holdout))
               if v is not None}
    try:
        return dataclasses.replace(config, **changes)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _fit_input(input_path: Path, bundle_path: Path, config: FitConfig, tracking: TrackConfig, device: str | None,
               force: bool, resume: bool, log: Log, warn: Log, show_progress: bool) -> FitResult:
    from talkavatar.fit.stage import run_fit
    from talkavatar.track.stage import run_track

    clock = StageContext(device, log, warn)
    with pngs_kept():  # each stage reads the images the one before wrote without decoding them again
        if input_path != bundle_path:
            with clock.timed("track"):
                run_track(input_path, bundle_path, tracking, device=device, log=log, warn=warn,
                          photo_on_cpu=TRACK_PHOTO_ON_CPU)
            with clock.timed("pseudo"):
                ran = _run_pseudo_if_needed(bundle_path, preset_for(config.preset, clock.device.type), device, log,
                                            warn)
            if not ran:  # up to date: it took no time worth reporting
                del clock.timings["pseudo"]
        result = run_fit(bundle_path, config, device, force, resume, log, warn, show_progress)
    stage_seconds = {k: round(v, 2) for k, v in clock.timings.items()}
    return dataclasses.replace(result, stage_seconds={**stage_seconds, "fit": round(result.seconds, 2)})


def upstream_config(bundle_path: Path, stage: str, config_cls):
    """The config a stage ran with last time (so that an unchanged bundle is reused), else the defaults."""
    manifest = Path(bundle_path) / artifacts.MANIFEST
    if manifest.is_file():
        record = (json.loads(manifest.read_text()).get("stages", {}).get(stage) or {}).get("config")
        if record:
            try:
                return from_record(config_cls, record)
            except (TypeError, ValueError):
                pass
    return config_cls()


def _run_pseudo_if_needed(bundle_path: Path, preset: str, device, log: Log, warn: Log) -> bool:
    """Run the pseudo stage when its outputs are missing, stale, or were made for another preset (with the settings
    it ran with before, the preset's :data:`~talkavatar.pseudo.config.PRESETS` applied); pseudo-labels the
    user made with settings of their own are kept. False when it was up to date."""
    bundle = Bundle.open(bundle_path)
    record = bundle.record("pseudo")
    made_for = None if record is None else pseudo_preset(record["config"])
    if record is not None and not bundle.stale_inputs("pseudo") and made_for in (None, preset):
        return False
    from talkavatar.pseudo.stage import run_pseudo

    config = upstream_config(bundle_path, "pseudo", PseudoConfig)
    if record is None or made_for is not None:
        config = dataclasses.replace(config, **PSEUDO_PRESETS[preset])
    if made_for not in (None, preset):
        log(f"pseudo-labels were made for the {made_for} preset: making them for {preset}")
    run_pseudo(bundle_path, config, device=device, progress=log, warn=warn)
    return True


def pseudo_preset(recorded: dict) -> str | None:
    """The fit preset whose :data:`~talkavatar.pseudo.config.PRESETS` settings a pseudo record has, if any."""
    keys = {k for overrides in PSEUDO_PRESETS.values() for k in overrides}
    for name, overrides in PSEUDO_PRESETS.items():
        expected = as_record(dataclasses.replace(PseudoConfig(), **overrides))
        if all(recorded.get(k) == expected[k] for k in keys):
            return name
    return None


def pseudo_input(bundle_path: Path, config: PseudoConfig, *, device: str | None = None, force: bool = False,
                 export_poses: Path | None = None, import_videos: Sequence[Path] = (), log: Log = stderr_log,
                 warn: Log = stderr_warn) -> PseudoResult:
    """The pseudo stage; when it runs, ``import_videos`` are decoded and re-tracked by the track stage with the
    bundle's shape held fixed, before any frame is generated (an unreadable video fails first)."""
    from talkavatar.pseudo.stage import run_pseudo
    from talkavatar.track.retrack import load_videos, retrack

    videos = [Path(v).resolve() for v in import_videos]

    def retracked(shape, device, log):
        return retrack(load_videos(videos, warn), shape, device, log)

    return run_pseudo(bundle_path, config, device=device, force=force, export_poses=export_poses,
                      import_videos=videos, retrack=retracked, progress=log, warn=warn)
