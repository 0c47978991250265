"""The optimisation loop: Adam with per-parameter learning rates, the §3.3 objective, pseudo frames after a
warm-up, checkpoints (Ctrl-C saves one; a run can resume from it)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from talkavatar.fit.data import FitData, Poses
from talkavatar.fit.model import AvatarParameters
from talkavatar.fit.objective import LossWeights, Objective, first_pose, pose_views, weighted_total

FINAL_LR_FRACTION = 0.1  # learning rates decay exponentially to this fraction of their start


class Adam:
    """Adam (Kingma & Ba) over named parameters, one learning rate each; its state is plain tensors, which makes
    checkpoints simple (and avoids importing torch.optim, whose first use costs seconds of imports on CPU)."""

    def __init__(self, named: dict[str, torch.Tensor], rates: dict[str, float], betas=(0.9, 0.999), eps=1e-15):
        self.params, self.rates, self.betas, self.eps = named, dict(rates), betas, eps
        self.step_count = 0
        self.exp_avg = {k: torch.zeros_like(p) for k, p in named.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in named.items()}

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self, lr_scale: float = 1.0) -> None:
        self.step_count += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.step_count, 1 - b2 ** self.step_count
        for name, p in self.params.items():
            if p.grad is None:
                continue
            m, v = self.exp_avg[name], self.exp_avg_sq[name]
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            p.addcdiv_(m / c1, (v / c2).sqrt_().add_(self.eps), value=-self.rates[name] * lr_scale)


@dataclass(frozen=True)
class Schedule:
    """iters: total steps; warmup: steps before the pseudo-frame loss; pseudo_batch: pseudo frames per step;
    refine: the last steps, fitted to the photo alone (the pseudo-frame loss off again)."""

    iters: int
    warmup: int
    pseudo_batch: int
    refine: int = 0


@dataclass
class Progress:
    """What the loop has done: ``iteration`` steps, the running mean of each term over the last steps
    (``recent``), a loss history (every ``history_every`` steps) and seconds spent."""

    iteration: int = 0
    recent: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    backend: str = ""


def _decay(iteration: int, iters: int) -> float:
    return FINAL_LR_FRACTION ** (iteration / max(iters, 1))


def run_steps(params: AvatarParameters, data: FitData, schedule: Schedule, weights: LossWeights,
              rates: dict[str, float], distance, seed: int, *, backend: str = "auto",
              resume: dict | None = None, on_step: Callable[[Progress, dict], None] | None = None,
              on_interrupt: Callable[[dict], None] | None = None) -> Progress:
    """Optimise ``params`` in place for ``schedule.iters`` steps (from ``resume['iteration']`` when resuming).

    ``distance``: a perceptual distance (``None`` when pseudo frames are unused). ``on_step(progress, recent)``
    runs after every step with the mean loss terms of the last logged stretch (the loss values are read back from
    the device every ``schedule.iters // 20`` steps only: a read per step would stall the GPU). ``on_interrupt``
    receives the loop state (:func:`state_dict` input) when Ctrl-C arrives, before KeyboardInterrupt propagates.
    """
    optimizer = Adam(dict(params.named_parameters()), rates)
    generator = torch.Generator().manual_seed(seed)
    progress = Progress()
    if resume is not None:
        optimizer.step_count = resume["adam_step"]
        for name in optimizer.params:
            optimizer.exp_avg[name].copy_(resume["exp_avg"][name])
            optimizer.exp_avg_sq[name].copy_(resume["exp_avg_sq"][name])
        generator.set_state(resume["generator"])
        progress.iteration = resume["iteration"]
        progress.history = resume.get("history", [])
    step = _Step(params, data, schedule, weights, distance, seed, backend)
    sums: dict[str, torch.Tensor] = {}
    count, every = 0, max(1, schedule.iters // 20)
    step_rng = generator.get_state()
    t0 = time.perf_counter()
    try:
        while progress.iteration < schedule.iters:
            it = progress.iteration
            step_rng = generator.get_state()  # a checkpoint restarts this step exactly
            terms = step.terms(it, generator)
            loss = weighted_total(terms, weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(_decay(it, schedule.iters))
            params.project_()
            progress.iteration = it + 1
            for k, v in {**terms, "total": loss}.items():
                sums[k] = v.detach() + sums[k] if k in sums else v.detach()
            count += 1
            if progress.iteration % every == 0 or progress.iteration == schedule.iters:
                _log(progress, sums, count, it, t0)
                sums, count = {}, 0
            if on_step is not None:
                on_step(progress, progress.recent)
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt({"params": params, "optimizer": optimizer, "rng": step_rng, "progress": progress})
        raise
    progress.seconds = time.perf_counter() - t0
    progress.backend = step.objective.backend
    return progress


class _Step:
    """The loss terms of one step: the photo and its face/hand crops (one posing for both when the crops are
    seen in the photo's pose), pseudo frames between the warm-up and the refinement, the mesh regularisers."""

    def __init__(self, params: AvatarParameters, data: FitData, schedule: Schedule, weights: LossWeights, distance,
                 seed: int, backend: str):
        self.params, self.data, self.schedule, self.distance, self.backend = params, data, schedule, distance, backend
        self.device = params.offsets.device
        self.objective = Objective(params, data.photo, seed)
        self.use_pseudo = data.pseudo is not None and distance is not None and weights.perceptual > 0
        self.use_mesh = any((weights.normal, weights.mask, weights.mgc, weights.lap_offsets))
        self.use_crops = data.crops is not None and (weights.face > 0 or weights.hand > 0)
        self.shared_pose = self.use_crops and _same_pose(data.photo.poses, data.crops.poses)

    def terms(self, it: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        params, data, objective, backend = self.params, self.data, self.objective, self.backend
        background = _upload(torch.rand(3, generator=generator), self.device)
        posed = pose_views(params, data.photo)
        terms = objective.image_terms(params, data.photo, background, "photo", backend, posed)
        if self.use_crops:
            terms.update(objective.crop_terms(params, data.crops, data.crop_names, background, backend,
                                              first_pose(posed) if self.shared_pose else None))
        if self.use_pseudo and self.schedule.warmup <= it < self.schedule.iters - self.schedule.refine:
            pick = torch.randint(len(data.pseudo.poses), (self.schedule.pseudo_batch,), generator=generator)
            terms.update(objective.pseudo_terms(params, data.pseudo.select(_upload(pick, self.device)), background,
                                                self.distance, backend))
        if self.use_mesh:
            terms.update(objective.mesh_terms(params, data.photo))
        return terms


def _upload(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor on ``device`` without a host synchronisation (a pageable copy waits for the GPU)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def _same_pose(photo: Poses, crops: Poses) -> bool:
    """True when every crop is seen in the photo's (one) pose."""
    return len(photo) == 1 and all(torch.equal(a.expand_as(b), b) for a, b in
                                   ((photo.joint_rotations, crops.joint_rotations),
                                    (photo.root_translation, crops.root_translation),
                                    (photo.arkit_weights, crops.arkit_weights)))


def _log(progress: Progress, sums: dict[str, torch.Tensor], count: int, it: int, t0: float) -> None:
    """Read the summed terms back (one host synchronisation), check them and log their means."""
    names = list(sums)
    values = torch.stack([sums[k].float() for k in names]).cpu().tolist()
    if not all(math.isfinite(v) for v in values):
        from talkavatar.errors import StageFailed

        raise StageFailed(f"the fit diverged by step {it + 1} (loss {values[names.index('total')] / count})",
                          tip="try another --seed or a smaller --iters")
    progress.recent = {k: v / count for k, v in zip(names, values)}
    progress.history.append({"step": progress.iteration, "seconds": round(time.perf_counter() - t0, 3),
                             **{k: round(v, 6) for k, v in progress.recent.items()}})


# ---- checkpoints (safetensors; outside the bundle's committed stages) -------------------------------------------
def save_checkpoint(path: Path, state: dict, fingerprint: str) -> None:
    """Parameters, Adam moments, the RNG state and the step count. ``fingerprint`` ties it to config + inputs."""
    from safetensors.torch import save_file

    params, optimizer, progress = state["params"], state["optimizer"], state["progress"]
    tensors = {f"param/{k}": v.detach().cpu().contiguous() for k, v in params.named_parameters()}
    for name in optimizer.params:
        tensors[f"adam/{name}/exp_avg"] = optimizer.exp_avg[name].cpu().contiguous()
        tensors[f"adam/{name}/exp_avg_sq"] = optimizer.exp_avg_sq[name].cpu().contiguous()
    tensors["rng"] = state["rng"]
    meta = {"fingerprint": fingerprint, "iteration": str(progress.iteration), "adam_step": str(optimizer.step_count),
            "history": json.dumps(progress.history)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def load_checkpoint(path: Path, params: AvatarParameters) -> tuple[str, dict]:
    """Load parameters into ``params``; returns (fingerprint, resume state for :func:`run_steps`)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    names = [name for name, _ in params.named_parameters()]
    with torch.no_grad():
        for name, p in params.named_parameters():
            p.copy_(tensors[f"param/{name}"].to(p))
    return meta["fingerprint"], {
        "adam_step": int(meta["adam_step"]), "generator": tensors["rng"], "iteration": int(meta["iteration"]),
        "history": json.loads(meta["history"]),
        "exp_avg": {n: tensors[f"adam/{n}/exp_avg"] for n in names},
        "exp_avg_sq": {n: tensors[f"adam/{n}/exp_avg_sq"] for n in names}}


def steps_for(iters: int, fraction: float) -> int:
    """Whole steps in ``fraction`` of ``iters`` (the warm-up, the final photo-only refinement)."""
    return int(math.floor(iters * fraction))
