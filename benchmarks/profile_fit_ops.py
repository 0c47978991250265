"""Torch operations a fit step dispatches outside the rasterizer: a device-independent proxy of a GPU step's host cost.

On the H200 a fit step is bound by the host (session 8: 48 ms a pseudo step of which ~15 ms GPU work): every
operation dispatched is a kernel launch and, with autograd, a backward node. This counts them on any device (the
CPU is enough) with a ``TorchDispatchMode``, for photo-only steps and steps with pseudo frames of
:func:`talkavatar.fit.optimize.run_steps`, leaving out what the rasterizer itself dispatches (the reference rasterizer's
forward and analytic backward stand for gsplat's few kernels here, and their count depends on the image).

    python benchmarks/profile_fit_ops.py BUNDLE [--preset tiny] [--steps 6]

BUNDLE: tracked and pseudo-labelled. Prints a short table last.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def count_ops(run, skip: list[tuple[object, str]]) -> Counter:
    """aten operations ``run()`` dispatches, by name, outside the functions ``skip`` ((owner, attribute) pairs)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    depth = [0]

    class Count(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if not depth[0]:
                self.ops[str(func.overloadpacket.__name__)] += 1
            return func(*args, **(kwargs or {}))

    def outside(fn):
        def wrapped(*args, **kwargs):
            depth[0] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth[0] -= 1
        return wrapped

    originals = [(owner, name, getattr(owner, name)) for owner, name in skip]
    for owner, name, fn in originals:
        setattr(owner, name, staticmethod(outside(fn)) if isinstance(owner, type) else outside(fn))
    try:
        with torch.enable_grad(), Count() as mode:
            run()
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, staticmethod(fn) if isinstance(owner, type) else fn)
    return mode.ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args()

    import importlib

    import torch

    from benchmarks.profile_pipeline import fit_setup
    from talkavatar.core.splats import reference
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    params, data, weights, distance, cfg = fit_setup(args.bundle, args.preset, torch.device("cpu"))
    rates = learning_rates(cfg.iters)
    raster_module = importlib.import_module("talkavatar.core.splats.rasterize")
    skip = [(raster_module, "reference_render"), (reference._Composite, "backward")]
    rows = {}
    for kind, warmup in (("photo", 10 * args.steps), ("pseudo", 0)):
        def run(n, w=warmup):
            run_steps(params, data, Schedule(n, w, cfg.pseudo_batch, 0), weights, rates, distance, cfg.seed)
        short, long = count_ops(lambda: run(args.steps), skip), count_ops(lambda: run(2 * args.steps), skip)
        per_step = {k: (long[k] - short[k]) / args.steps for k in long}
        rows[kind] = (sum(per_step.values()), sorted(per_step.items(), key=lambda kv: -kv[1])[:8])
    print(f"\n| step | aten ops per step outside the rasterizer ({args.preset}) | most frequent |\n|---|---|---|")
    for kind, (total, top) in rows.items():
        print(f"| {kind} | {total:.0f} | " + ", ".join(f"{k} {v:.0f}" for k, v in top) + " |")


if __name__ == "__main__":
    main()
