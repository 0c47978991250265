"""The fit stage: a bundle with track (and pseudo) outputs -> ``fit/avatar.safetensors``, ``fit/rig.safetensors``,
``fit/fit.json``, ``fit/preview.png``. (``talkavatar fit PHOTO`` runs the missing earlier stages first:
:func:`talkavatar.pipeline.photo.fit_input`.)

Checkpoints live in ``<bundle>/.checkpoints/fit.safetensors`` (outside the committed stages): Ctrl-C (through
the CLI also SIGTERM and SIGHUP) writes one, ``resume=True`` continues from it when the settings and inputs are
unchanged (and says so), and a finished fit deletes it.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from talkavatar.bundle import Bundle, artifacts, sha256_file
from talkavatar.config import as_record
from talkavatar.core.determinism import use_deterministic_algorithms
from talkavatar.core.device import cudnn_enabled
from talkavatar.core.expression_appearance import MIN_SPREAD, expression_spread
from talkavatar.core.losses import shared_distance
from talkavatar.core.threads import one_thread
from talkavatar.errors import UsageError
from talkavatar.fit.config import FitConfig
from talkavatar.fit.data import FitData, load_fit_data
from talkavatar.fit.evaluate import evaluate, fixed_novel_poses
from talkavatar.fit.frames import with_video
from talkavatar.fit.model import AvatarParameters, learning_rates
from talkavatar.fit.objective import LossWeights
from talkavatar.fit.optimize import Schedule, load_checkpoint, run_steps, steps_for, save_checkpoint
from talkavatar.fit.visibility import (behind_hand, colour_anchor_weights, off_photo, opening_lips, profile_front,
                                      settled_colours, settled_opacity, small_face_interior, solid_weights)
from talkavatar.progress import progress
from talkavatar.runner import Computed, StageContext, run_stage, stderr_log, stderr_warn

Log = Callable[[str], None]
CHECKPOINT = Path(artifacts.FIT_CHECKPOINT)
FIT_SCHEMA = "talkavatar.fit"
# The presets whose fit convolves with cuDNN (the perceptual network, SSIM's blur, the silhouette's); the others run
# PyTorch's own CUDA convolutions (and exact float32: no TF32). Why: cuDNN builds execution plans at each convolution
# shape's first use, one-time work that in a fit lands inside the graph captures. On the H200 (fifteenth session,
# benchmarks/fit_speed.py on the astronaut's fast bundle) the fast fit without cuDNN took 9.17 s instead of 13.26 s:
# photo / pseudo / refinement steps 8.76 / 15.17 / 7.89 ms instead of 10.59 / 16.03 / 10.08, the pseudo perceptual
# capture 0.09 s instead of 3.07 s; input view 34.45 dB / 0.9703 vs 34.49 / 0.9708. The quality preset's ~2100 pseudo
# steps of 4 frames of 512 px would pay more in slower convolutions (~+4.5 ms a step, extrapolated from 2 x 384²) than
# the plans cost (~4 s): it keeps cuDNN. The tiny preset's shorter fit on a GPU pays the plans over fewer steps still.
CUDNN_PRESETS = frozenset({"quality"})


@dataclass(frozen=True)
class FitResult:
    bundle: Path
    metrics: dict
    seconds: float
    timings: dict
    skipped: bool = False
    stage_seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"bundle": str(self.bundle), "skipped": self.skipped, "seconds": round(self.seconds, 2),
                "timings": self.timings, **self.metrics}


def _fingerprint(bundle, record: dict, inputs: tuple[str, ...]) -> str:
    h = hashlib.sha256(json.dumps(record, sort_keys=True).encode())
    for rel in inputs:
        h.update(rel.encode())
        h.update(sha256_file(bundle.root / rel).encode())
    return h.hexdigest()


def _losses(values: dict) -> str:
    """The main loss terms of a step, for the progress display."""
    return " ".join(f"{k.replace('photo_', '')} {v:.4f}" for k, v in values.items()
                    if k in ("total", "photo_l1", "photo_ssim", "photo_alpha", "video_l1", "pseudo_perceptual", "mask"))


def run_fit(bundle_path: Path, config: FitConfig, device: str | None = None, force: bool = False,
            resume: bool = False, log: Log = stderr_log, warn: Log = stderr_warn, show_progress: bool = False,
            loss_weights=None) -> FitResult:
    """Fit the avatar of the bundle at ``bundle_path`` (needs its track stage; uses pseudo when present).

    ``loss_weights``: a :class:`~talkavatar.fit.objective.LossWeights` replacing the defaults (for experiments;
    the config's pseudo/mesh/crop scales still apply)."""
    bundle = Bundle.open(bundle_path)
    ctx = StageContext(device, log, warn)
    cfg = config.effective(ctx.device.type)
    if config.preset == "auto":
        log(f"fit: {cfg.preset} preset for {ctx.device.type} (--preset auto)"
            + ("" if ctx.device.type == "cuda" else "; a GPU runs the fast preset (~100 min with --preset fast here)"))
    record = as_record(cfg)
    resumable = resume and (bundle.root / CHECKPOINT).is_file()

    def compute(ctx: StageContext) -> Computed:
        # the tiny preset on the CPU is small-tensor work, like track's and pseudo's (one_thread): the astronaut's
        # fit took 25.8 s on one thread at load ~4 on 2 cores, 121.7 s on two (idle, two: 30.4 s; RESULTS.md)
        with one_thread() if cfg.preset == "tiny" and ctx.device.type == "cpu" else nullcontext(), \
                nullcontext() if cfg.preset in CUDNN_PRESETS else cudnn_enabled(False):
            return _fit(bundle, cfg, record, resumable, show_progress, loss_weights, ctx)

    if resume and not resumable:  # then the fit is skipped when up to date, else made from the start
        ctx.warn(f"nothing to resume: no checkpoint at {bundle.root / CHECKPOINT} (an interrupted fit leaves one)")
    done = run_stage(bundle, "fit", record, compute, ctx, force=force or resumable, upstream=("pseudo",))
    if not done.skipped:
        (bundle.root / CHECKPOINT).unlink(missing_ok=True)
    timings = {} if done.skipped else {k: round(v, 3) for k, v in ctx.timings.items()}
    return FitResult(bundle.root, done.record.get("metrics", {}), done.seconds, timings, skipped=done.skipped)


def _fit(bundle, cfg: FitConfig, record: dict, resume: bool, show_progress: bool, loss_weights,
         ctx: StageContext) -> Computed:
    dev = ctx.device
    torch.manual_seed(cfg.seed)
    with ctx.timed("load"):
        data = load_fit_data(bundle, cfg.image_size, cfg.crop_size, cfg.pseudo_frames, cfg.pseudo_size,
                             use_pseudo=cfg.pseudo_weight > 0)
        if bundle.record("pseudo") is None:
            ctx.warn("no pseudo-labels in this bundle: fitting the photo alone (new views and poses will be weaker)")
        if cfg.video_weight > 0:
            data = with_video(bundle, data, cfg.video_frames, cfg.image_size)
        data = data.to(dev)
        # real frames with varied expressions teach the face's expression-dependent look; a photo's pseudo frames do not
        spread = 0.0 if data.video is None else expression_spread(data.video.poses.arkit_weights)
        params = AvatarParameters.initial(data.rig, cfg.uv_res, data.texture, data.proxy_offsets, cfg.shape,
                                          expression=cfg.expression_appearance > 0 and spread >= MIN_SPREAD)
        start = params.geometry()  # what a drawn face's Gaussians are given back after the fit (_settle)
        held = solid_weights(params.avatar(), data.photo)  # what the photo hardly sees, the head excepted
        params.off_photo.copy_(off_photo(params.avatar(), data.photo, data.unseen_parts))  # left out of its losses
        params.solid_weight.copy_(held)
        hidden = behind_hand(params.avatar(), data.photo, data.hands_xy, data.face_xy)  # held, and given back
        params.anchor_weight.copy_(colour_anchor_weights(params.avatar(), data.photo, data.video, hidden))  # unseen
        weights = (loss_weights or LossWeights()).scaled(cfg.pseudo_weight, cfg.mesh_weight, cfg.crop_weight,
                                                         cfg.video_weight, cfg.colour_anchor)
        # float32 everywhere: on the H200 a fit step is bound by kernel launches, and bfloat16 autocast adds casts
        # (EfficientNet on 2 pseudo frames of 384 px, forward + backward: 7.6 ms float32, 10.2 ms bfloat16)
        distance = (shared_distance(cfg.perceptual, dev)
                    if data.pseudo is not None or data.video is not None else None)
    schedule = Schedule(cfg.iters, steps_for(cfg.iters, cfg.warmup), cfg.pseudo_batch,
                        steps_for(cfg.iters, cfg.refine), cfg.video_batch)
    ctx.log(f"fitting {params.binding.count} Gaussians (UV {cfg.uv_res}) on {dev}: {cfg.iters} steps, image "
            f"{data.photo.cameras.width}x{data.photo.cameras.height}, {len(data.crop_names)} crops, "
            + (f"{len(data.video.poses)} real frames of the clip, " if data.video is not None else "")
            + f"{0 if data.pseudo is None else len(data.pseudo.poses)} pseudo frames"
            + (f" ({distance.kind} perceptual loss)" if distance is not None else ""))
    with ctx.timed("optimise"):
        rates = learning_rates(cfg.iters, cfg.expression_appearance)
        progress = _optimise(bundle, params, data, schedule, weights, rates, distance, cfg,
                             _fingerprint(bundle, record, data.inputs), resume, show_progress, ctx)
    if dev.type == "cuda" and progress.graphs:
        ctx.log("fit terms as CUDA graphs (captures, seconds): "
                + "; ".join(f"{site}: {status}" for site, status in progress.graphs.items()))
    with ctx.timed("evaluate"):
        opening = _settle(params, data, hidden, start)
        avatar, figures, novel_from = _evaluate(params, data, dev)
    preview = figures.pop("preview")
    metrics = {
        **figures, "gaussians": avatar.count, "iterations": progress.iteration,
        "pseudo_frames_used": 0 if data.pseudo is None or distance is None else len(data.pseudo.poses),
        "perceptual": None if distance is None else distance.kind, "backend": progress.backend, "device": str(dev),
        "novel_poses_from": novel_from, "lips_over_opening": int(opening.sum()), "behind_hands": int(hidden.sum()),
        "off_photo": int(params.off_photo.sum()),
        "video_frames_used": 0 if data.video is None else len(data.video.poses),
        "expression_term": None if avatar.expression is None else {
            "gaussians": int(avatar.expression.index.shape[0]), "channels": int(avatar.expression.channels.shape[0]),
            "frames_spread": round(spread, 3)},
    }
    doc = {"format": FIT_SCHEMA, "config": record, "losses": {"final": progress.recent, "history": progress.history},
           "timings": {k: round(v, 3) for k, v in ctx.timings.items()}, "backend": progress.backend,
           "perceptual": metrics["perceptual"], "metrics": metrics, "crops": list(data.crop_names)}
    if data.video_record is not None:
        doc["video"] = {**data.video_record, "pose_corrections": progress.refinement}
    ctx.used(f"{dev.type}:{progress.backend}")

    def write(writer) -> None:
        with ctx.timed("write"):
            artifacts.save_fit(writer, avatar.to_tensors(), avatar.rig.to_tensors(), doc, preview)

    return Computed(None, data.inputs, metrics, write)


def _settle(params: AvatarParameters, data: FitData, hidden: torch.Tensor,
            start: dict[str, torch.Tensor]) -> torch.Tensor:
    """After the optimisation, give back what the photo cannot teach (:mod:`talkavatar.fit.visibility`): the
    completed colours of the lips over a small face's opening, of a profile's drawn face, of a small face's mouth
    interior and of what a detected hand hides (``hidden`` [N] bool), and the drawn ones' starting opacity and
    shape and placement (``start``: :meth:`AvatarParameters.geometry` as the fit began). Returns the lips over the
    opening, [N] bool (``fit.json``'s ``lips_over_opening``).

    The drawn face's geometry is given back for the reason its colours are: the photo saw it edge-on (a profile's
    outline, a shouting mouth's opening) and the pseudo frames are renders of the drawn face itself, so what the fit
    makes of its offsets and scales is drift, which the GPU's run-to-run differences turn into different talking
    mouths (benchmarks/RESULTS.md, twentieth session, lip20)."""
    fitted = params.avatar()
    opening, front = opening_lips(fitted, data.photo, data.face_xy), profile_front(fitted, data.photo)
    drawn = front | small_face_interior(fitted, data.face_xy)  # drawn as it starts
    params.rgb.data.copy_(settled_colours(fitted, params.initial_rgb, data.photo, data.video, opening | drawn | hidden))
    params.opacity_logit.data.copy_(settled_opacity(fitted, drawn))
    params.restore_geometry_(start, drawn)
    return opening


def _optimise(bundle, params, data, schedule, weights, rates, distance, cfg: FitConfig, fingerprint: str,
              resume: bool, show_progress: bool, ctx: StageContext):
    """Run the optimisation (from the checkpoint with ``resume``; Ctrl-C saves one) -> its Progress."""
    checkpoint = bundle.root / CHECKPOINT
    state = None
    if resume:  # the caller checked there is a checkpoint
        found, state = load_checkpoint(checkpoint, params)
        if found != fingerprint:
            raise UsageError(f"{checkpoint} was made with other settings or inputs",
                             tip="rerun with the same settings, or without --resume to start over")
        ctx.log(f"resuming the interrupted fit at step {state['iteration']} of {cfg.iters} (checkpoint {checkpoint})")

    def interrupted(loop_state):
        save_checkpoint(checkpoint, loop_state, fingerprint)
        ctx.warn(f"interrupted at step {loop_state['progress'].iteration}: checkpoint saved to {checkpoint} "
                 "(continue with --resume)")

    deterministic = torch.are_deterministic_algorithms_enabled()
    # CPU scatter-adds (silhouette splats, mesh gathers' backward) are only reproducible in deterministic mode; on
    # CUDA gsplat's atomics vary slightly between runs anyway, so the (slower) deterministic kernels are not asked for.
    use_deterministic_algorithms(ctx.device.type == "cpu", warn_only=True)
    try:
        faster = {"quality": "--preset fast", "fast": "--preset tiny, or a GPU"}.get(cfg.preset, "fewer --iters")
        with progress("fit", cfg.iters, show=show_progress, faster=faster) as shown, torch.enable_grad():
            return run_steps(params, data, schedule, weights, rates, distance, cfg.seed, resume=state,
                             frame_refine=cfg.frame_refine,
                             on_step=lambda p, values: shown.update(p.iteration, _losses(values)),
                             on_interrupt=interrupted)
    finally:
        use_deterministic_algorithms(deterministic)


def _evaluate(params, data, dev):
    """The fitted avatar (detached), its figures (:func:`talkavatar.fit.evaluate.evaluate`) and where the novel
    poses came from ("pseudo" or "fixed")."""
    avatar = params.avatar()
    avatar = type(avatar)(**{**{k: getattr(avatar, k) for k in ("rig", "binding")},
                             **{k: getattr(avatar, k).detach() for k in ("offsets", "rgb", "log_scales", "quats",
                                                                           "opacity_logit", "vertex_offsets")}},
                             expression=None if avatar.expression is None else avatar.expression.detach())
    from_pseudo = data.pseudo is not None and len(data.pseudo.poses) >= 2
    if from_pseudo:
        count = len(data.pseudo.poses)
        novel = data.pseudo.select(torch.tensor([count // 3, (2 * count) // 3], device=dev))
    else:
        novel = fixed_novel_poses(data.photo.poses.to("cpu")).to(dev)
    return avatar, evaluate(avatar, data.photo, novel), "pseudo" if from_pseudo else "fixed"
