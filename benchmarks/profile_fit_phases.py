"""Torch operations a fit step dispatches outside the rasterizer, by phase, op by op and as the GPU runs it with
the terms graphed (issue 23): a device-free proxy of the launch-bound GPU step, finer than profile_fit_ops.py.

The rasterizer (forward and backward) is counted as nothing, since gsplat is a few kernels; with ``--graphed`` so is
every :class:`~talkavatar.core.cuda_graphs.GraphedTerms` function (on a GPU one replay forward and one backward,
plus copies of its inputs and output gradients, not counted here). Ops of ``loss.backward()`` count as "backward".

    python benchmarks/profile_fit_phases.py BUNDLE [--steps 2] [--graphed]

BUNDLE: tracked and pseudo-labelled. Prints ops per step by phase (difference of a 2N- and an N-step run, over N).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FIELDS = ("means", "quats", "log_scales", "opacity_logit", "rgb")


def opaque(fn, skip: list[int]):
    """``fn(*tensors) -> tuple of tensors`` as one autograd node whose forward and backward dispatch uncounted."""
    import torch

    class Opaque(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ts):
            skip[0] += 1
            try:
                with torch.enable_grad():
                    ctx.leaves = [t.detach().requires_grad_(t.requires_grad) for t in ts]
                    ctx.outs = fn(*ctx.leaves)
            finally:
                skip[0] -= 1
            return tuple(o.detach() for o in ctx.outs)

        @staticmethod
        def backward(ctx, *grads):
            skip[0] += 1
            try:
                pairs = [(o, g) for o, g in zip(ctx.outs, grads) if g is not None and o.requires_grad]
                need = [leaf for leaf in ctx.leaves if leaf.requires_grad]
                got = iter(torch.autograd.grad([o for o, _ in pairs], need, [g for _, g in pairs], allow_unused=True))
                return tuple(next(got) if leaf.requires_grad else None for leaf in ctx.leaves)
            finally:
                skip[0] -= 1
    return lambda *ts: Opaque.apply(*ts)


def patch(graphed: bool, stack: list[str], skip: list[int]) -> None:
    """Label the step's phases (``stack``) and make the rasterizer (and with ``graphed`` the graphed terms)
    opaque."""
    import torch

    from talkavatar.core import cuda_graphs
    from talkavatar.core.splats import Gaussians
    from talkavatar.fit import objective, optimize
    from talkavatar.fit.model import AvatarParameters

    raster = importlib.import_module("talkavatar.core.splats.rasterize")
    reference = raster.reference_render
    raster.reference_render = lambda g, cams, bg, settings: opaque(
        lambda *t: reference(Gaussians(**dict(zip(FIELDS, t[:5]))), cams, t[5], settings), skip)(
        *[getattr(g, f) for f in FIELDS], bg)
    if graphed:
        plain = cuda_graphs.GraphedTerms.__call__
        cuda_graphs.GraphedTerms.__call__ = lambda self, *a: (opaque(self.fn, skip)(*a) if self.enabled and
                                                                torch.is_grad_enabled() else plain(self, *a))
    phases = [(objective.Objective, n, n) for n in ("pose", "image_terms", "crop_terms", "pseudo_terms",
                                                    "mesh_terms", "colour_anchor", "solidity")]
    phases += [(optimize.Adam, "step", "adam"), (AvatarParameters, "project_", "project"),
               (optimize, "weighted_total", "weighted_total"), (torch.Tensor, "backward", "backward"),
               (optimize._History, "add", "history")]
    for owner, name, label in phases:
        setattr(owner, name, labelled(getattr(owner, name), label, stack))


def labelled(fn, label: str, stack: list[str]):
    def run(*args, **kwargs):
        stack.append(label)
        try:
            return fn(*args, **kwargs)
        finally:
            stack.pop()
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--graphed", action="store_true")
    args = ap.parse_args()

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from benchmarks.profile_pipeline import fit_setup
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    params, data, weights, distance, cfg = fit_setup(args.bundle, args.preset, torch.device("cpu"))
    stack, skip = ["other"], [0]
    patch(args.graphed, stack, skip)

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not skip[0]:
                self.ops[stack[-1]] += 1
            return func(*args, **(kwargs or {}))

    print(f"\n| step | ops per step ({'graphed' if args.graphed else 'op by op'}) | by phase |\n|---|---|---|")
    for kind, warmup in (("photo", 100 * args.steps), ("pseudo", 0)):
        counts = []
        for n in (args.steps, 2 * args.steps):
            with torch.enable_grad(), Count() as mode:
                run_steps(params, data, Schedule(n, warmup, cfg.pseudo_batch, 0), weights, learning_rates(cfg.iters),
                          distance, cfg.seed)
            counts.append(mode.ops)
        per = {k: (counts[1][k] - counts[0][k]) / args.steps for k in counts[1]}
        print(f"| {kind} | {sum(per.values()):.0f} | "
              + ", ".join(f"{k} {v:.0f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])) + " |")


if __name__ == "__main__":
    main()
