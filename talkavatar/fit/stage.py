"""The fit stage: a bundle with track (and pseudo) outputs -> ``fit/avatar.safetensors``, ``fit/rig.safetensors``,
``fit/fit.json``, ``fit/preview.png``. :func:`fit_input` also takes a photo or video and runs the missing stages.

Checkpoints live in ``<bundle>/.checkpoints/fit.safetensors`` (outside the committed stages): Ctrl-C writes one,
``resume=True`` continues from it when the settings and inputs are unchanged, and a finished fit deletes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from talkavatar.config import as_record
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.fit.config import FitConfig

Log = Callable[[str], None]
CHECKPOINT = Path(".checkpoints") / "fit.safetensors"
FIT_SCHEMA = "talkavatar.fit"


@dataclass
class FitResult:
    bundle: Path
    metrics: dict
    seconds: float
    timings: dict
    skipped: bool = False

    def as_dict(self) -> dict:
        return {"bundle": str(self.bundle), "skipped": self.skipped, "seconds": round(self.seconds, 2),
                "timings": self.timings, **self.metrics}


def _fingerprint(bundle, record: dict, inputs: tuple[str, ...]) -> str:
    from talkavatar.bundle import sha256_file

    h = hashlib.sha256(json.dumps(record, sort_keys=True).encode())
    for rel in inputs:
        h.update(rel.encode())
        h.update(sha256_file(bundle.root / rel).encode())
    return h.hexdigest()


def _progress_bar(iters: int, show: bool):
    """(callback for the loop, context manager) drawing a rich progress bar with the losses on stderr."""
    from contextlib import nullcontext

    if not show:
        return None, nullcontext()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    bar = Progress(TextColumn("fit"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[losses]}"), console=Console(stderr=True), transient=False)
    task = bar.add_task("fit", total=iters, losses="")

    def on_step(progress, values):
        shown = " ".join(f"{k.replace('photo_', '')} {v:.4f}" for k, v in values.items()
                         if k in ("total", "photo_l1", "photo_ssim", "photo_alpha", "pseudo_perceptual", "mask"))
        bar.update(task, completed=progress.iteration, losses=shown)

    return on_step, bar


def run_fit(bundle_path: Path, config: FitConfig, device: str | None = None, force: bool = False,
            resume: bool = False, log: Log = print, warn: Log = print, show_progress: bool = False,
            loss_weights=None) -> FitResult:
    """Fit the avatar of the bundle at ``bundle_path`` (needs its track stage; uses pseudo when present).

    ``loss_weights``: a :class:`~talkavatar.fit.objective.LossWeights` replacing the defaults (for experiments;
    the config's pseudo/mesh/crop scales still apply)."""
    import torch

    from talkavatar.bundle import Bundle
    from talkavatar.core.device import resolve_device
    from talkavatar.core.losses import perceptual_distance
    from talkavatar.fit.data import load_fit_data
    from talkavatar.fit.evaluate import evaluate, fixed_novel_poses
    from talkavatar.fit.model import AvatarParameters, learning_rates
    from talkavatar.fit.objective import LossWeights
    from talkavatar.fit.optimize import Schedule, load_checkpoint, run_steps, save_checkpoint, steps_for

    t_start = time.perf_counter()
    bundle = Bundle.open(bundle_path)
    cfg = config.effective()
    record = as_record(cfg)
    previous = bundle.record("fit")
    if not force and not resume and previous is not None and previous["config"] == record \
            and not bundle.stale_inputs("fit") and _upstream_unchanged(bundle, previous):
        log(f"{bundle.root}: fit is up to date (use --force to redo)")
        return FitResult(bundle.root, previous.get("metrics", {}), 0.0, {}, skipped=True)

    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    data = load_fit_data(bundle, cfg.image_size, cfg.crop_size, cfg.pseudo_frames, cfg.pseudo_size,
                         use_pseudo=cfg.pseudo_weight > 0)
    if bundle.record("pseudo") is None:
        warn("no pseudo-labels in this bundle: fitting the photo alone (new views and poses will be weaker)")
    data = data.to(dev)
    params = AvatarParameters.initial(data.rig, cfg.uv_res, data.texture, data.proxy_offsets, cfg.shape)
    weights = (loss_weights or LossWeights()).scaled(cfg.pseudo_weight, cfg.mesh_weight, cfg.crop_weight)
    distance = None
    if data.pseudo is not None:
        distance = perceptual_distance(cfg.perceptual, dev)
    timings["load"] = time.perf_counter() - t
    rates = learning_rates(cfg.iters)
    schedule = Schedule(cfg.iters, steps_for(cfg.iters, cfg.warmup), cfg.pseudo_batch,
                        steps_for(cfg.iters, cfg.refine))
    fingerprint = _fingerprint(bundle, record, data.inputs)
    checkpoint = bundle.root / CHECKPOINT
    state = None
    if resume:
        if checkpoint.is_file():
            found, state = load_checkpoint(checkpoint, params)
            if found != fingerprint:
                raise UsageError(f"{checkpoint} was made with other settings or inputs",
                                 tip="rerun with the same settings, or without --resume to start over")
            log(f"resuming from step {state['iteration']}")
        else:
            warn(f"no checkpoint at {checkpoint}; starting from scratch")
    log(f"fitting {params.binding.count} Gaussians (UV {cfg.uv_res}) on {dev}: {cfg.iters} steps, image "
        f"{data.photo.cameras.width}x{data.photo.cameras.height}, {len(data.crop_names)} crops, "
        f"{0 if data.pseudo is None else len(data.pseudo.poses)} pseudo frames"
        + (f" ({distance.kind} perceptual loss)" if distance is not None else ""))

    def interrupted(loop_state):
        save_checkpoint(checkpoint, loop_state, fingerprint)
        warn(f"interrupted at step {loop_state['progress'].iteration}: checkpoint saved to {checkpoint} "
             "(continue with --resume)")

    on_step, bar = _progress_bar(cfg.iters, show_progress)
    t = time.perf_counter()
    deterministic = torch.are_deterministic_algorithms_enabled()
    # CPU scatter-adds (silhouette splats, mesh gathers' backward) are only reproducible in deterministic mode; on
    # CUDA gsplat's atomics vary slightly between runs anyway, so the (slower) deterministic kernels are not asked for.
    torch.use_deterministic_algorithms(dev.type == "cpu", warn_only=True)
    try:
        with bar, torch.enable_grad():  # whatever an earlier stage in this process left switched off
            progress = run_steps(params, data, schedule, weights, rates, distance, cfg.seed, resume=state,
                                 on_step=on_step, on_interrupt=interrupted)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    timings["optimise"] = time.perf_counter() - t

    t = time.perf_counter()
    avatar = params.avatar()
    avatar = type(avatar)(**{**{k: getattr(avatar, k) for k in ("rig", "binding")},
                             **{k: getattr(avatar, k).detach() for k in ("offsets", "rgb", "log_scales", "quats",
                                                                           "opacity_logit", "vertex_offsets")}})
    novel = data.pseudo if data.pseudo is not None and len(data.pseudo.poses) >= 2 else None
    if novel is not None:
        pick = torch.tensor([len(novel.poses) // 3, (2 * len(novel.poses)) // 3], device=dev)
        novel = novel.select(pick)
    else:
        novel = fixed_novel_poses(data.photo.poses.to("cpu")).to(dev)
    figures = evaluate(avatar, data.photo, novel)
    preview = figures.pop("preview")
    timings["evaluate"] = time.perf_counter() - t
    backend = _backend_used(dev, torch.float32)
    metrics = {
        **figures, "gaussians": avatar.count, "iterations": progress.iteration,
        "pseudo_frames_used": 0 if data.pseudo is None or distance is None else len(data.pseudo.poses),
        "perceptual": None if distance is None else distance.kind, "backend": backend, "device": str(dev),
        "novel_poses_from": "pseudo" if data.pseudo is not None and len(data.pseudo.poses) >= 2 else "fixed",
    }
    doc = {"format": FIT_SCHEMA, "config": record, "losses": {"final": progress.recent, "history": progress.history},
           "timings": {k: round(v, 3) for k, v in timings.items()}, "backend": backend,
           "perceptual": metrics["perceptual"], "metrics": metrics, "crops": list(data.crop_names)}
    t = time.perf_counter()
    with bundle.write_stage("fit", record, inputs=list(data.inputs)) as writer:
        avatar.to("cpu").save(writer.dir)
        writer.save_json("fit.json", doc, FIT_SCHEMA)
        writer.save_png("preview.png", preview)
        writer.timings.update(timings)
        writer.metrics.update(metrics)
        writer.backend = f"{dev.type}:{backend}"
    timings["write"] = time.perf_counter() - t
    checkpoint.unlink(missing_ok=True)
    return FitResult(bundle.root, metrics, time.perf_counter() - t_start, {k: round(v, 3) for k, v in timings.items()})


def _backend_used(device, dtype) -> str:
    """The rasterizer ``backend="auto"`` picks for tensors of this device and dtype."""
    from talkavatar.core.splats import gsplat_backend

    return "gsplat" if gsplat_backend.unavailable_reason(device, dtype) is None else "reference"


def _upstream_unchanged(bundle, previous: dict) -> bool:
    """The fit read exactly the upstream outputs that exist now (a pseudo stage added later makes it stale)."""
    pseudo = bundle.record("pseudo")
    read_pseudo = any(name.startswith("pseudo/") for name in previous["inputs"])
    return read_pseudo == (pseudo is not None)


def fit_input(input_path: Path, bundle_path: Path | None, config: FitConfig, device: str | None = None,
              force: bool = False, resume: bool = False, log: Log = print, warn: Log = print,
              show_progress: bool = False) -> tuple[FitResult, dict]:
    """``talkavatar fit INPUT``: INPUT is a bundle, or a photo/video whose bundle gets track and pseudo first when
    they are missing or stale (a photo is tracked on the CPU). Returns the fit result and the seconds each stage
    took."""
    input_path = Path(input_path)
    stage_seconds: dict[str, float] = {}
    if (input_path / "bundle.json").is_file():
        if bundle_path is not None and Path(bundle_path).resolve() != input_path.resolve():
            raise UsageError("INPUT is a bundle; -o/--bundle must be omitted or name the same bundle")
        bundle_path = input_path
    else:
        if not input_path.is_file():
            raise InvalidInput(f"{input_path}: no such file or bundle",
                               tip="give a photo, a video or an avatar bundle directory")
        from talkavatar.track.config import TrackConfig
        from talkavatar.track.stage import default_bundle_path, run_track

        bundle_path = Path(bundle_path) if bundle_path is not None else default_bundle_path(input_path)
        t = time.perf_counter()
        run_track(input_path, bundle_path, _upstream_config(bundle_path, "track", TrackConfig), device=device,
                  log=log, warn=warn, photo_on_cpu=True)
        stage_seconds["track"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        if _run_pseudo_if_needed(bundle_path, config.preset, device, log, warn):
            stage_seconds["pseudo"] = round(time.perf_counter() - t, 2)
    result = run_fit(bundle_path, config, device, force, resume, log, warn, show_progress)
    stage_seconds["fit"] = round(result.seconds, 2)
    return result, stage_seconds


def _upstream_config(bundle_path: Path, stage: str, config_cls):
    """The config a stage ran with last time (so that an unchanged bundle is reused), else the defaults."""
    import dataclasses

    manifest = Path(bundle_path) / "bundle.json"
    if manifest.is_file():
        record = (json.loads(manifest.read_text()).get("stages", {}).get(stage) or {}).get("config")
        if record:
            names = {f.name: f for f in dataclasses.fields(config_cls)}
            values = {k: (Path(v) if v is not None and names[k].type in ("Optional[Path]", "Path") else v)
                      for k, v in record.items() if k in names}
            try:
                return config_cls(**values)
            except (TypeError, ValueError):
                pass
    return config_cls()


def _run_pseudo_if_needed(bundle_path: Path, preset: str, device, log: Log, warn: Log) -> bool:
    """Run the pseudo stage when its outputs are missing or stale (with the settings it ran with before, else the
    preset's, :meth:`~talkavatar.pseudo.config.PseudoConfig.for_preset`); False when it was up to date or unavailable."""
    from talkavatar.bundle import Bundle

    bundle = Bundle.open(bundle_path)
    if bundle.record("pseudo") is not None and not bundle.stale_inputs("pseudo"):
        return False
    try:
        from talkavatar.pseudo.config import PseudoConfig
        from talkavatar.pseudo.stage import run_pseudo
    except ImportError:
        warn("the pseudo stage is not available in this build; fitting without pseudo-labels")
        return False
    config = _upstream_config(bundle_path, "pseudo", PseudoConfig)
    if bundle.record("pseudo") is None:
        config = PseudoConfig.for_preset(preset)
    run_pseudo(bundle_path, config, device=device, progress=log, warn=warn)
    return True
