"""The fit's graphed terms on the CPU under ``torch.cuda.make_graphed_callables``' buffer semantics (issue 23).

    OMP_NUM_THREADS=1 python benchmarks/graph_buffers_cpu.py

A CUDA graph's autograd function (torch/cuda/graphs.py, ``Graphed``) copies its arguments into static input
tensors, replays, and returns its static outputs detached; its backward copies the incoming gradients into static
buffers, replays, and returns its static gradient buffers detached. Every call overwrites the same tensors. This
script models exactly that on the CPU (the replay recomputed into the same buffers; an argument the function does
not reach gets no gradient, as ``allow_unused_input`` gives), puts the model in place of
``make_graphed_callables``, and runs the fit on tests/test_fit_graphs.py's tiny synthetic bundle, with two crops of
its photo (graphed site "crops") and its pseudo frames as a clip's real frames too (sites "video" and "video
perceptual", under per-frame pose refinement):

1. three steps' terms and gradients (``fit.optimize._terms``, every term of a step), graphed and op by op from the
   same parameters, each gradient kept as ``autograd.grad`` returns it and as a copy;
2. ``run_steps`` for 24 steps, graphed and op by op (the reference rasterizer; deterministic CPU kernels), without
   and with the crops and real frames, in float32 and float64. Where the two loops sum a parameter's gradient in
   different orders they part: Adam (eps 1e-15) turns a rounding-level gradient into a step of up to its learning
   rate (at the start dX = Bary(dT) exactly, so ``|dX - Bary(dT)|``'s gradient is rounding), and the runs go
   their ways from there. In float64 with Adam's eps at 1e-8 (both loops) rounding stays rounding: there the
   loops must agree to rounding, which a wrong gradient would not.
3. the bounds of tests/test_fit_graphs.py's GPU fit test: the op-by-op loop of that test (photo + pseudo, Adam's
   eps at 1e-4 as the test sets it) against itself with every gradient multiplied by 1 + 1e-5 N(0, 1) before Adam
   (six draws of rounding-size noise), and with the errors a graph can make: a replay's gradients read one step
   late (Adam given the previous step's), the loss history given the previous replay's terms, rgb's gradient
   10 % high, the projection skipped: the loss history's largest and root-mean-square relative difference, each
   parameter's mean difference in units of its learning rate times the steps.

What it cannot show: anything of the GPU itself (capture, memory pools, atomics, TF32). Prints tables.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def buffered(fn, *samples: torch.Tensor):
    """``fn`` (tensors -> tuple of tensors) with ``Graphed``'s buffers: static inputs, outputs and gradients."""
    static_in = [s.detach().clone() for s in samples]
    need = [s.requires_grad for s in samples]
    with torch.enable_grad():  # the "capture": which arguments the backward reaches
        ins = [s.detach().requires_grad_(r) for s, r in zip(static_in, need)]
        out = fn(*ins)
        reached = iter(torch.autograd.grad([o for o in out if o.requires_grad], [i for i in ins if i.requires_grad],
                                           [torch.ones_like(o) for o in out if o.requires_grad], allow_unused=True))
    static_out = tuple(o.detach().clone() for o in out)
    static_grads = [(torch.zeros_like(s) if next(reached) is not None else None) if r else None
                    for s, r in zip(static_in, need)]

    class Graphed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            for s, i in zip(static_in, inputs):
                if s.data_ptr() != i.data_ptr():
                    s.copy_(i)
            with torch.no_grad():  # the replay: the same output tensors every call
                for s, o in zip(static_out, fn(*static_in)):
                    s.copy_(o)
            return tuple(o.detach() for o in static_out)

        @staticmethod
        def backward(ctx, *grads):
            with torch.enable_grad():  # the backward replay, from the static inputs of the last forward replay
                ins = [s.detach().requires_grad_(r) for s, r in zip(static_in, need)]
                pairs = [(o, g) for o, g in zip(fn(*ins), grads) if o.requires_grad]
                found = iter(torch.autograd.grad([o for o, _ in pairs], [i for i in ins if i.requires_grad],
                                                 [g for _, g in pairs], allow_unused=True))
            for buffer, r in zip(static_grads, need):
                value = next(found) if r else None
                if buffer is not None:
                    buffer.copy_(value)
            return tuple(None if b is None else b.detach() for b in static_grads)

    return lambda *args: Graphed.apply(*args)


@contextmanager
def modelled_graphs():
    """``make_graphed_callables`` replaced by :func:`buffered`, and CPU tensors taken for CUDA ones by
    :class:`~talkavatar.core.cuda_graphs.GraphedTerms`' device check (``Tensor.is_cuda``)."""
    capture, is_cuda = torch.cuda.make_graphed_callables, torch.Tensor.is_cuda
    torch.cuda.make_graphed_callables = lambda fn, samples, **_: buffered(lambda *a: tuple(fn(*a)), *samples)
    torch.Tensor.is_cuda = property(lambda self: True)
    try:
        yield
    finally:
        torch.cuda.make_graphed_callables, torch.Tensor.is_cuda = capture, is_cuda


def with_crops_and_frames(data):
    """``data`` with a face and a hand crop of its photo, and its pseudo frames as real frames of a clip as well."""
    from talkavatar.fit.data import crop_views

    photo, cams = data.photo, data.photo.cameras
    image, mask = ((t[0].numpy() * 255).round().astype("uint8") for t in (photo.rgb, photo.mask))
    boxes = [("face", 24.0, 8.0, 40.0), ("left_hand", 48.0, 40.0, 32.0)]
    crops = crop_views(image, mask, cams.K[0], cams.world_to_camera[0], photo.poses, boxes, 48)
    return replace(data, crops=crops, crop_names=tuple(b[0] for b in boxes), video=data.pseudo)


def main() -> None:
    from talkavatar.core.losses import perceptual_distance
    from talkavatar.fit import objective as objective_module
    from talkavatar.fit import optimize
    from talkavatar.fit.model import AvatarParameters, learning_rates
    from talkavatar.fit.objective import LossWeights, Objective, weighted_total
    from talkavatar.fit.optimize import Adam, Schedule, _History, _terms, _trainables, run_steps
    from tests.test_fit_graphs import _setup

    torch.use_deterministic_algorithms(True, warn_only=True)
    cpu, tmp = torch.device("cpu"), Path(tempfile.mkdtemp(prefix="graph_buffers_"))
    distance = perceptual_distance("efficientnet", cpu)
    weights, schedule = LossWeights(), Schedule(24, 6, 2, 4, video_batch=2)

    def fit_data(name: str, full: bool, dtype=torch.float32):
        data, _ = _setup(tmp / name, cpu)
        data = (with_crops_and_frames(data) if full else data).to(cpu, dtype)
        return data, AvatarParameters.initial(data.rig, 32, data.texture, data.proxy_offsets, "flat")

    data, params = fit_data("steps", True)
    runs = {}
    with modelled_graphs():
        for graphed in (True, False):
            objective_module.GRAPH_TERMS = graphed
            objective, runs[graphed] = Objective(params, data.photo, 0, data.pseudo), []
            trainable, _, refinement = _trainables(params, data, learning_rates(24), 1.0)
            for seed in range(3):  # as the GPU test: new dX, dT, picks, background and frame corrections per step
                g = torch.Generator().manual_seed(seed)
                with torch.no_grad():
                    params.offsets.copy_(torch.randn(params.offsets.shape, generator=g) * 0.003)
                    params.vertex_offsets.copy_(torch.randn(params.vertex_offsets.shape, generator=g) * 0.003)
                    for p in refinement.parameters():
                        p.copy_(torch.randn(p.shape, generator=g) * 0.01)
                with torch.enable_grad():
                    terms = _terms(objective, params, data, schedule, weights, distance, g, schedule.warmup,
                                   "reference", refinement, True)
                    grads = torch.autograd.grad(weighted_total(terms, weights), list(trainable.values()),
                                                allow_unused=True)
                runs[graphed].append(({k: v.detach().clone() for k, v in terms.items()}, grads,
                                      [None if x is None else x.clone() for x in grads]))
            if graphed:
                print(f"sites: {objective.graph_status()}")
    names = list(trainable)
    print("| step | terms | terms max diff | max grad | grad diff as returned (largest: parameter) | "
          "grad diff copied |")
    print("|---|---|---|---|---|---|")
    for seed, ((terms_g, kept, copied), (terms_e, eager, _)) in enumerate(zip(runs[True], runs[False])):
        diffs = [{n: float((a - b).abs().max()) for n, a, b in zip(names, grads, eager) if b is not None}
                 for grads in (kept, copied)]
        worst = max(diffs[0], key=diffs[0].get)
        print(f"| {seed} | {len(terms_e)} | {max(float((terms_g[k] - terms_e[k]).abs()) for k in terms_e):.2e} | "
              f"{max(float(b.abs().max()) for b in eager if b is not None):.4f} | "
              f"{diffs[0][worst]:.4f} ({worst}) | {max(diffs[1].values()):.2e} |")

    print("\n| run_steps, 24 steps | dtype | Adam eps | first step apart | history totals max rel diff | "
          "mean param diff (largest: parameter) |")
    print("|---|---|---|---|---|---|")
    eps_default = optimize.ADAM_EPS
    for case, full, dtype, eps in (("photo + pseudo", False, torch.float32, 1e-15),
                                   ("+ crops + real frames", True, torch.float32, 1e-15),
                                   ("+ crops + real frames", True, torch.float64, 1e-15),
                                   ("+ crops + real frames", True, torch.float64, 1e-8)):
        ends = {}
        optimize.ADAM_EPS = eps
        with modelled_graphs():
            for graphed in (True, False):
                objective_module.GRAPH_TERMS = graphed
                fit, fit_params = fit_data(f"fit{case}{dtype}{graphed}".replace(" ", ""), full, dtype)
                progress = run_steps(fit_params, fit, schedule if full else Schedule(24, 6, 2, 4), weights,
                                     learning_rates(24), distance, seed=0, backend="reference")
                ends[graphed] = ({n: p.detach().clone() for n, p in fit_params.named_parameters()}, progress.history)
        optimize.ADAM_EPS = eps_default
        (end_g, hist_g), (end_e, hist_e) = ends[True], ends[False]
        apart = [a["step"] for a, b in zip(hist_g, hist_e) if a["total"] != b["total"]]
        rel = max(abs(a["total"] - b["total"]) / abs(b["total"]) for a, b in zip(hist_g, hist_e))
        mean = {n: float((end_g[n] - end_e[n]).abs().mean()) for n in end_e}
        worst = max(mean, key=mean.get)
        print(f"| {case} | {str(dtype)[6:]} | {eps:g} | {apart[0] if apart else '-'} | {rel:.2e} | "
              f"{mean[worst]:.2e} ({worst}) |")

    print("\n| run_steps (photo + pseudo, float32, Adam eps 1e-4) vs itself | history rel diff max / rms | "
          "mean param diff / (rate x steps): largest (parameter), offsets, dT |")
    print("|---|---|---|")
    rates, plain_step, plain_add, plain_project = learning_rates(24), Adam.step, _History.add, AvatarParameters.project_
    optimize.ADAM_EPS = 1e-4
    cases = [("gradients x (1 + 1e-5 N(0, 1))", seed) for seed in range(1, 7)] + [
        ("a replay's gradients read one step late", 0), ("rgb's gradient 10 % high", 0),
        ("the loss history from the previous replay", 0), ("the projection skipped", 0)]

    def fit_run(case: str, seed: int):
        """``run_steps`` with ``case`` done to it (or nothing): (parameters, loss history totals)."""
        g, late, seen = torch.Generator().manual_seed(seed), {}, []
        runs.append(case)

        def step(self, lr_scale: float = 1.0):
            with torch.no_grad():
                for name, p in self.params.items():
                    if p.grad is None:
                        continue
                    if case.startswith("gradients x"):
                        p.grad.mul_(1 + 1e-5 * torch.randn(p.grad.shape, generator=g))
                    elif case.startswith("a replay's"):
                        now = p.grad.clone()
                        if name in late:
                            p.grad.copy_(late[name])
                        late[name] = now
                    elif case.startswith("rgb's") and name == "rgb":
                        p.grad.mul_(1.1)
            return plain_step(self, lr_scale)

        def add_late(self, terms):
            now = {k: v.detach().clone() for k, v in terms.items()}
            plain_add(self, seen[-1] if seen and seen[-1].keys() == now.keys() else now)
            seen.append(now)

        Adam.step = step
        _History.add = add_late if case.startswith("the loss history") else plain_add
        AvatarParameters.project_ = (lambda self: None) if case.startswith("the projection") else plain_project
        try:
            fit, fit_params = fit_data(f"case{len(runs)}", False)
            progress = run_steps(fit_params, fit, Schedule(24, 6, 2, 4), weights, rates, distance, seed=0,
                                 backend="reference")
        finally:
            Adam.step, _History.add, AvatarParameters.project_ = plain_step, plain_add, plain_project
        return ({n: p.detach().clone() for n, p in fit_params.named_parameters()},
                torch.tensor([h["total"] for h in progress.history], dtype=torch.float64))

    runs: list[str] = []
    end, hist = fit_run("", 0)
    for case, seed in cases:
        end_c, hist_c = fit_run(case, seed)
        rel = (hist_c - hist).abs() / hist.abs()
        mean = {n: float((end_c[n] - end[n]).abs().mean()) / (rates[n] * 24) for n in end}
        worst = max(mean, key=mean.get)
        print(f"| {case}{f' (draw {seed})' if case.startswith('gradients') else ''} | {rel.max():.2e} / "
              f"{rel.pow(2).mean().sqrt():.2e} | {mean[worst]:.2e} ({worst}), {mean['offsets']:.1e}, "
              f"{mean['vertex_offsets']:.1e} |")
    optimize.ADAM_EPS = eps_default

if __name__ == "__main__":
    main()
