"""The fit's graphed terms on the CPU under ``torch.cuda.make_graphed_callables``' buffer semantics (issue 23).

    OMP_NUM_THREADS=1 python benchmarks/graph_buffers_cpu.py

A CUDA graph's autograd function (torch/cuda/graphs.py, ``Graphed``) copies its arguments into static input
tensors, replays, and returns its static outputs detached; its backward copies the incoming gradients into static
buffers, replays, and returns its static gradient buffers detached. Every call overwrites the same tensors. This
script models exactly that on the CPU (the replay recomputed into the same buffers; an argument the function does
not reach gets no gradient, as ``allow_unused_input`` gives), puts the model in place of
``make_graphed_callables``, and runs what tests/test_fit_graphs.py runs on a GPU with the tiny synthetic bundle:

1. three steps' terms and gradients, graphed and op by op, each gradient kept as ``autograd.grad`` returns it and
   as a copy;
2. ``run_steps`` for 24 steps, graphed and op by op (the reference rasterizer; deterministic CPU kernels).

What it cannot show: anything of the GPU itself (capture, memory pools, atomics, TF32). Prints a table.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
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


def main() -> None:
    from talkavatar.core.losses import perceptual_distance
    from talkavatar.fit import objective as objective_module
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.objective import LossWeights, Objective, first_pose
    from talkavatar.fit.optimize import Schedule, run_steps
    from tests.test_fit_graphs import _setup

    torch.use_deterministic_algorithms(True, warn_only=True)
    cpu, tmp = torch.device("cpu"), Path(tempfile.mkdtemp(prefix="graph_buffers_"))
    data, params = _setup(tmp / "steps", cpu)
    names = [n for n, _ in params.named_parameters()]
    distance = perceptual_distance("efficientnet", cpu)

    def step(objective, pick, background):
        """tests/test_fit_graphs.py's step: terms (copied) and the gradients as autograd.grad returns them."""
        posed = objective.pose(params)
        terms = objective.image_terms(params, data.photo, background, "photo", "reference", posed)
        if data.crops is not None:
            terms.update(objective.crop_terms(params, data.crops, data.crop_names, background, "reference",
                                              first_pose(posed)))
        terms.update(objective.pseudo_terms(params, data.pseudo.select(pick), background, distance, "reference",
                                            pick))
        terms.update(objective.mesh_terms(params))
        grads = torch.autograd.grad(sum(terms.values()), [p for _, p in params.named_parameters()],
                                    allow_unused=True)
        return {k: v.detach().clone() for k, v in terms.items()}, grads

    runs = {}
    with modelled_graphs():
        for graphed in (True, False):
            objective_module.GRAPH_TERMS = graphed
            objective, runs[graphed] = Objective(params, data.photo, 0, data.pseudo), []
            for seed in range(3):  # as the GPU test: new dX, dT, pick and background per step
                g = torch.Generator().manual_seed(seed)
                with torch.no_grad():
                    params.offsets.copy_(torch.randn(params.offsets.shape, generator=g) * 0.003)
                    params.vertex_offsets.copy_(torch.randn(params.vertex_offsets.shape, generator=g) * 0.003)
                pick = torch.randint(4, (2,), generator=g)
                with torch.enable_grad():
                    terms, grads = step(objective, pick, torch.rand(3, generator=g))
                runs[graphed].append((terms, grads, [None if x is None else x.clone() for x in grads]))
            if graphed:
                print(f"sites: {objective.graph_status()}")
        print("| step | terms max diff | max grad | grad diff as returned (largest: parameter) | grad diff copied |")
        print("|---|---|---|---|---|")
        for seed, ((terms_g, kept, copied), (terms_e, eager, _)) in enumerate(zip(runs[True], runs[False])):
            diffs = [{n: float((a - b).abs().max()) for n, a, b in zip(names, grads, eager) if b is not None}
                     for grads in (kept, copied)]
            worst = max(diffs[0], key=diffs[0].get)
            print(f"| {seed} | {max(float((terms_g[k] - terms_e[k]).abs()) for k in terms_e):.2e} | "
                  f"{max(float(b.abs().max()) for b in eager if b is not None):.4f} | "
                  f"{diffs[0][worst]:.4f} ({worst}) | {max(diffs[1].values()):.2e} |")

        ends = {}
        for graphed in (True, False):
            objective_module.GRAPH_TERMS = graphed
            fit_data, fit_params = _setup(tmp / f"fit{graphed}", cpu)
            progress = run_steps(fit_params, fit_data, Schedule(24, 6, 2, 4), LossWeights(), learning_rates(24),
                                 distance, seed=0, backend="reference")
            ends[graphed] = ({n: p.detach().clone() for n, p in fit_params.named_parameters()}, progress)
    (end_g, run_g), (end_e, run_e) = ends[True], ends[False]
    history = max(abs(a["total"] - b["total"]) / abs(b["total"]) for a, b in zip(run_g.history, run_e.history))
    print(f"\nrun_steps, 24 steps: graphs {run_g.graphs}")
    print("| parameter | max diff graphed vs op by op | mean diff |")
    print("|---|---|---|")
    for n in names:
        d = (end_g[n] - end_e[n]).abs()
        print(f"| {n} | {float(d.max()):.2e} | {float(d.mean()):.2e} |")
    print(f"loss history: largest relative difference of the totals {history:.2e}")


if __name__ == "__main__":
    main()
