"""The optimisation loop: Adam with per-parameter learning rates, the §3.3 objective, pseudo frames after a
warm-up, checkpoints (Ctrl-C saves one; a run can resume from it)."""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from talkavatar.core.cuda_graphs import GraphedInPlace
from talkavatar.core.device import upload
from talkavatar.errors import StageFailed
from talkavatar.fit import objective as objective_module
from talkavatar.fit.data import FitData, Poses
from talkavatar.fit.model import AvatarParameters
from talkavatar.fit.objective import LossWeights, Objective, first_pose, weighted_total
from talkavatar.fit.refine import RATES as REFINE_RATES, FrameRefinement

# Learning rates decay exponentially to this fraction of their start. 0.3, was 0.1: the H200 fast astronaut's input
# view 31.72 -> 32.52 dB / 0.9581 -> 0.9621, holes and floaters in new views 0.86 / 0.62 -> 0.93 / 0.67 %
# (benchmarks/fit_sweep.py "final lr 0.3", twelfth session, fitq8); a CPU proxy (UV 256, 256 px, 250 steps) moved
# alike, 28.43 -> 29.37 dB, its unseen back as plain (Laplacian ratio 0.127 both).
FINAL_LR_FRACTION = 0.3
# Adam's epsilon (3DGS's): so small that every nonzero gradient, one of rounding size too, takes a step of up to its
# learning rate. Two runs that differ by rounding alone (gsplat's atomics, the order gradients are summed in) part
# by whole steps from there (benchmarks/graph_buffers_cpu.py); tests that compare two runs raise it.
ADAM_EPS = 1e-15


class Adam:
    """Adam (Kingma & Ba) over named parameters, one learning rate each; its state is plain tensors, which makes
    checkpoints simple (and avoids importing torch.optim, whose first use costs seconds of imports on CPU)."""

    def __init__(self, named: dict[str, torch.Tensor], rates: dict[str, float], betas=(0.9, 0.999), eps=ADAM_EPS):
        self.params, self.rates, self.betas, self.eps = named, dict(rates), betas, eps
        self.step_count = 0
        self.exp_avg = {k: torch.zeros_like(p) for k, p in named.items()}
        self.exp_avg_sq = {k: torch.zeros_like(p) for k, p in named.items()}

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self, lr_scale: float = 1.0) -> None:
        """One Adam step of every parameter with a gradient, as multi-tensor (``_foreach``) operations: on a GPU a
        handful of kernel launches for all parameters instead of eight per parameter (the same arithmetic)."""
        self.step_count += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.step_count, 1 - b2 ** self.step_count
        names = [name for name, p in self.params.items() if p.grad is not None]
        params, grads = [self.params[k] for k in names], [self.params[k].grad for k in names]
        m, v = [self.exp_avg[k] for k in names], [self.exp_avg_sq[k] for k in names]
        torch._foreach_mul_(m, b1)
        torch._foreach_add_(m, grads, alpha=1 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - b2)
        denominators = torch._foreach_div(v, c2)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, torch._foreach_div(m, c1), denominators,
                                [-self.rates[k] * lr_scale for k in names])


@dataclass(frozen=True)
class Schedule:
    """iters: total steps; warmup: steps before the pseudo-frame loss; pseudo_batch: pseudo frames per step;
    refine: the last steps, fitted without pseudo frames (the photo, and a clip's real frames); video_batch: real
    frames per step."""

    iters: int
    warmup: int
    pseudo_batch: int
    refine: int = 0
    video_batch: int = 1


@dataclass
class Progress:
    """What the loop has done: ``iteration`` steps, the running mean of each term over the last steps
    (``recent``), a loss history (every ``history_every`` steps) and seconds spent."""

    iteration: int = 0
    recent: dict[str, float] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    backend: str = ""
    refinement: dict | None = None  # mean per-frame pose corrections of a video fit
    graphs: dict[str, str] = field(default_factory=dict)  # Objective.graph_status(): what ran as CUDA graphs


def _decay(iteration: int, iters: int) -> float:
    return FINAL_LR_FRACTION ** (iteration / max(iters, 1))


def run_steps(params: AvatarParameters, data: FitData, schedule: Schedule, weights: LossWeights,
              rates: dict[str, float], distance, seed: int, *, backend: str = "auto", frame_refine: float = 1.0,
              resume: dict | None = None, on_step: Callable[[Progress, dict], None] | None = None,
              on_interrupt: Callable[[dict], None] | None = None) -> Progress:
    """Optimise ``params`` in place for ``schedule.iters`` steps (from ``resume['iteration']`` when resuming).

    ``distance``: a perceptual distance (``None`` when pseudo frames are unused); ``frame_refine``: scale of the
    per-frame pose corrections' learning rates (a clip's real frames). ``on_step(progress, recent)`` runs after
    every step with the mean loss terms of the last logged stretch: the terms stay on the device and are read back
    (and checked) 20 times a run only, since a read per step stalls the GPU. ``on_interrupt`` receives the loop
    state (:func:`state_dict` input) when Ctrl-C arrives, before KeyboardInterrupt propagates.
    """
    trainable, rates, refinement = _trainables(params, data, rates, frame_refine)
    optimizer = Adam(trainable, rates, eps=ADAM_EPS)
    generator = torch.Generator().manual_seed(seed)
    progress = Progress()
    if resume is not None:
        _restore(resume, optimizer, generator, progress)
    # An earlier fit's graphs that sit in reference cycles are freed now: freed by the cyclic collector in the middle
    # of this fit's captures, a graph spoils the capture and that site runs op by op (torch no longer collects on
    # entering a capture). One collection a fit, a few ms.
    gc.collect()
    objective = Objective(params, data.photo, seed, data.pseudo)
    project = GraphedInPlace(params.project_, params.offsets.device, objective_module.GRAPH_TERMS)
    history = _History(progress, schedule.iters)
    shared_pose = data.crops is not None and _same_pose(data.photo.poses, data.crops.poses)
    step_rng = generator.get_state()
    try:
        while progress.iteration < schedule.iters:
            it = progress.iteration
            step_rng = generator.get_state()  # a checkpoint restarts this step exactly
            terms = _terms(objective, params, data, schedule, weights, distance, generator, it, backend, refinement,
                           shared_pose)
            loss = weighted_total(terms, weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(_decay(it, schedule.iters))
            project()
            progress.iteration = it + 1
            history.add({**terms, "total": loss})
            if on_step is not None:
                on_step(progress, progress.recent)
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt({"params": params, "optimizer": optimizer, "rng": step_rng, "progress": progress})
        raise
    progress.seconds = time.perf_counter() - history.started
    progress.backend, progress.graphs = objective.backend, objective.graph_status()
    progress.refinement = None if refinement is None else refinement.magnitude()
    return progress


def _restore(resume: dict, optimizer: Adam, generator: torch.Generator, progress: Progress) -> None:
    """Continue from a checkpoint's loop state (:func:`load_checkpoint`)."""
    optimizer.step_count = resume["adam_step"]
    with torch.no_grad():
        for name, value in resume.get("extra", {}).items():  # a video fit's per-frame corrections
            optimizer.params[name].copy_(value.to(optimizer.params[name]))
    for name in optimizer.params:
        optimizer.exp_avg[name].copy_(resume["exp_avg"][name])
        optimizer.exp_avg_sq[name].copy_(resume["exp_avg_sq"][name])
    generator.set_state(resume["generator"])
    progress.iteration = resume["iteration"]
    progress.history = resume.get("history", [])


def _terms(objective: Objective, params: AvatarParameters, data: FitData, schedule: Schedule, weights: LossWeights,
           distance, generator: torch.Generator, it: int, backend: str, refinement: FrameRefinement | None,
           shared_pose: bool) -> dict:
    """The loss terms of step ``it``: the photo, its crops, a batch of pseudo frames (between warm-up and refine),
    a batch of a clip's real frames (under their ``refinement``) and the mesh regularisers, each where its weight
    and data are there. ``shared_pose``: the crops are seen in the photo's pose (posed once for both)."""
    background = upload(torch.rand(3, generator=generator), params.offsets.device)
    posed = objective.pose(params)
    terms = objective.image_terms(params, data.photo, background, "photo", backend, posed)
    if data.crops is not None and (weights.face > 0 or weights.hand > 0):
        terms.update(objective.crop_terms(params, data.crops, data.crop_names, background, backend,
                                          first_pose(posed) if shared_pose else None))
    use_pseudo = data.pseudo is not None and distance is not None and weights.perceptual > 0
    if use_pseudo and schedule.warmup <= it < schedule.iters - schedule.refine:
        pick = upload(torch.randint(len(data.pseudo.poses), (schedule.pseudo_batch,), generator=generator),
                      params.offsets.device)
        terms.update(objective.pseudo_terms(params, data.pseudo.select(pick), background, distance, backend, pick))
    if refinement is not None:
        terms.update(_video_terms(objective, params, data.video, refinement, schedule, background, distance,
                                  generator, backend))
    if any((weights.normal, weights.mask, weights.mgc, weights.lap_offsets)):
        terms.update(objective.mesh_terms(params))
    if weights.colour_anchor > 0 or weights.solidity > 0:
        terms.update({k: v for k, v in objective.priors(params).items() if getattr(weights, k) > 0})
    return terms


def _trainables(params: AvatarParameters, data: FitData, rates: dict[str, float], frame_refine: float):
    """(named tensors the optimiser changes, their learning rates, the per-frame refinement of a clip's real frames
    or None); ``frame_refine`` scales the refinement's rates."""
    trainable = dict(params.named_parameters())
    if data.video is None:
        return trainable, rates, None
    refinement = FrameRefinement(len(data.video.poses), params.offsets.device)
    scaled = {k: v * frame_refine for k, v in REFINE_RATES.items()}
    return {**trainable, **dict(refinement.named_parameters())}, {**rates, **scaled}, refinement


def _video_terms(objective: Objective, params: AvatarParameters, video, refinement: FrameRefinement,
                 schedule: Schedule, background, distance, generator, backend) -> dict:
    """The real-frame terms of one step: ``schedule.video_batch`` frames drawn at random, under their refined
    poses, and the corrections' prior."""
    pick = upload(torch.randint(len(video.poses), (schedule.video_batch,), generator=generator), video.rgb.device)
    frames = dataclasses.replace(video.select(pick), poses=refinement.poses(video.poses[pick], pick))
    terms = objective.video_terms(params, frames, background, distance, backend)
    terms["frame_prior"] = refinement.penalty(pick)
    return terms


def _same_pose(photo: Poses, crops: Poses) -> bool:
    """True when every crop is seen in the photo's (one) pose."""
    return len(photo) == 1 and all(torch.equal(a.expand_as(b), b) for a, b in
                                   ((photo.joint_rotations, crops.joint_rotations),
                                    (photo.root_translation, crops.root_translation),
                                    (photo.arkit_weights, crops.arkit_weights)))


class _History:
    """The running mean of each term, written into ``progress.recent`` and ``progress.history`` 20 times a run.
    Terms are stacked and summed on the device (one addition a step); each write reads them back (one host
    synchronisation) and checks them."""

    def __init__(self, progress: Progress, iters: int):
        self.progress, self.every = progress, max(1, iters // 20)
        self.iters, self.sums, self.count = iters, {}, 0
        self.started = time.perf_counter()

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        names = tuple(terms)  # the steps of a stretch may differ in their terms (pseudo frames start, stop)
        stacked = torch.stack([v.detach() for v in terms.values()])  # a copy: graphed terms are overwritten
        self.sums[names] = stacked + self.sums[names] if names in self.sums else stacked
        self.count += 1
        p = self.progress
        if p.iteration % self.every == 0 or p.iteration == self.iters:
            totals: dict[str, float] = {}
            for names, sums in self.sums.items():
                for k, v in zip(names, sums.float().cpu().tolist()):
                    totals[k] = totals.get(k, 0.0) + v
            if not all(math.isfinite(v) for v in totals.values()):
                raise StageFailed(f"the fit diverged by step {p.iteration} (loss {totals['total'] / self.count})",
                                  tip="try another --seed or a smaller --iters")
            p.recent = {k: v / self.count for k, v in totals.items()}
            p.history.append({"step": p.iteration, "seconds": round(time.perf_counter() - self.started, 3),
                              **{k: round(v, 6) for k, v in p.recent.items()}})
            self.sums, self.count = {}, 0


# ---- checkpoints (safetensors; outside the bundle's committed stages) -------------------------------------------
def save_checkpoint(path: Path, state: dict, fingerprint: str) -> None:
    """Parameters, Adam moments, the RNG state and the step count. ``fingerprint`` ties it to config + inputs."""
    optimizer, progress = state["optimizer"], state["progress"]
    tensors = {f"param/{k}": v.detach().cpu().contiguous() for k, v in optimizer.params.items()}
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
    """Load parameters into ``params``; returns (fingerprint, resume state for :func:`run_steps`; its ``extra``: the
    saved trainables that are not ``params``', i.e. a video fit's per-frame corrections)."""
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    own = dict(params.named_parameters())
    names = [k[len("param/"):] for k in tensors if k.startswith("param/")]
    with torch.no_grad():
        for name, p in own.items():
            p.copy_(tensors[f"param/{name}"].to(p))
    return meta["fingerprint"], {
        "extra": {n: tensors[f"param/{n}"] for n in names if n not in own},
        "adam_step": int(meta["adam_step"]), "generator": tensors["rng"], "iteration": int(meta["iteration"]),
        "history": json.loads(meta["history"]),
        "exp_avg": {n: tensors[f"adam/{n}/exp_avg"] for n in names},
        "exp_avg_sq": {n: tensors[f"adam/{n}/exp_avg_sq"] for n in names}}


def steps_for(iters: int, fraction: float) -> int:
    """Whole steps in ``fraction`` of ``iters`` (the warm-up, the final photo-only refinement)."""
    return int(math.floor(iters * fraction))
