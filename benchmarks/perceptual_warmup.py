"""First-use cost of the fit's graphed image terms on CUDA (the fit's one-time stalls: the pseudo perceptual terms'
at its first pseudo step, the photo's at its first step), each variant in a fresh process: cuDNN on or off, and
the terms captured cold (as the fit does: :class:`~talkavatar.core.cuda_graphs.GraphedTerms` on its first call) or
run op by op first (first call, steady calls) and captured after. A capture's wall time is split into its parts
(``torch.cuda.make_graphed_callables``: warm-up calls on a side stream, then per graph ``torch.cuda.graph``'s
``empty_cache``, the capture of the forward or backward, ``capture_end`` = instantiation) and the first replay.

    python benchmarks/perceptual_warmup.py [--size 384] [--batch 2] [--photo 512] [--calls 30] \
        [--modes "on,cold;off,cold;on,eager first;off,eager first"]

The perceptual terms are the fit's (:func:`talkavatar.fit.objective.perceptual_losses`, EfficientNet-Lite0, on
``--batch`` frames of ``--size`` px), the photo's its :func:`~talkavatar.fit.objective.view_losses` (L1, SSIM, alpha
on one ``--photo`` px image), captured after the perceptual ones. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARTS = ("warm-up", "gc", "empty_cache", "capture", "instantiate", "first replay")


class CaptureParts:
    """Seconds of CUDA graph captures' parts, by :data:`PARTS` name, from timers put round ``gc.collect`` and
    ``torch.cuda.empty_cache`` (``torch.cuda.graph`` calls them before each capture), ``CUDAGraph.capture_begin`` /
    ``capture_end`` and ``torch.cuda.make_graphed_callables``: "warm-up" is the time inside the latter outside a
    capture before each of the former (its warm-up calls on a side stream), "capture" the time between a capture's
    begin and end (the function or its backward run under capture), "instantiate" ``capture_end``. Summed over every
    capture of the process; :meth:`start` resets them."""

    def __init__(self, torch):
        import gc

        self.seconds: dict[str, float] = {}
        self.last, self.capturing, self.inside = 0.0, False, False
        graph = torch.cuda.CUDAGraph
        collect, empty, begin, end = gc.collect, torch.cuda.empty_cache, graph.capture_begin, graph.capture_end
        make_graphed = torch.cuda.make_graphed_callables

        def timed(name, fn):
            def call(*args, **kwargs):
                t = time.perf_counter()
                if name in ("gc", "empty_cache") and self.inside and not self.capturing:
                    self._add("warm-up", t - self.last)
                result = fn(*args, **kwargs)
                if name == "instantiate":
                    self._add("capture", t - self.last)
                self.capturing = name == "capture"
                self._add(name, time.perf_counter() - t)
                self.last = time.perf_counter()
                return result
            return call

        def graphed(*args, **kwargs):
            self.inside, self.last = True, time.perf_counter()
            try:
                return make_graphed(*args, **kwargs)
            finally:
                self.inside = False

        gc.collect, torch.cuda.empty_cache = timed("gc", collect), timed("empty_cache", empty)
        graph.capture_begin, graph.capture_end = timed("capture", begin), timed("instantiate", end)
        torch.cuda.make_graphed_callables = graphed

    def _add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def start(self) -> None:
        self.seconds, self.last, self.capturing, self.inside = {}, time.perf_counter(), False, False


def measure(size: int, batch: int, photo: int, calls: int, cudnn: bool, cold: bool) -> dict:
    import torch

    from talkavatar.core.cuda_graphs import GraphedTerms
    from talkavatar.core.losses import perceptual_distance
    from talkavatar.fit.objective import perceptual_losses, view_losses

    torch.backends.cudnn.enabled = cudnn
    t = time.perf_counter()
    torch.zeros(1, device="cuda")  # CUDA context outside the other timings
    context = time.perf_counter() - t
    t = time.perf_counter()
    distance = perceptual_distance("efficientnet", torch.device("cuda"))
    torch.cuda.synchronize()
    load = time.perf_counter() - t
    out = {"cudnn": cudnn, "cold": cold, "context_s": context, "load_s": load}

    def inputs(b: int, side: int):
        g = torch.Generator(device="cuda").manual_seed(0)
        linear = torch.rand(b, side, side, 3, device="cuda", generator=g).requires_grad_()
        alpha = torch.rand(b, side, side, 1, device="cuda", generator=g).requires_grad_()
        target = torch.rand(b, side, side, 3, device="cuda", generator=g)
        mask = (torch.rand(b, side, side, device="cuda", generator=g) > 0.5).float()
        return linear, alpha, target, mask, torch.rand(3, device="cuda", generator=g)

    def step(fn, args):
        values = fn(*args)
        sum(v.sum() for v in values).backward()

    def timed(fn, args, n: int) -> float:
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            step(fn, args)
        torch.cuda.synchronize()
        return (time.perf_counter() - t) / n

    terms = functools.partial(perceptual_losses, distance)
    args = inputs(batch, size)
    if not cold:
        out["first_call_s"] = timed(terms, args, 1)
        out["steady_ms"] = timed(terms, args, calls) * 1000
    parts = CaptureParts(torch)
    for name, fn, site_args in (("perceptual", terms, args), ("photo", view_losses, inputs(1, photo))):
        graphed = GraphedTerms(fn)
        parts.start()
        t = time.perf_counter()
        step(graphed, site_args)  # the capture, then its first replay
        torch.cuda.synchronize()
        total = time.perf_counter() - t
        seconds = {**parts.seconds, "first replay": total - graphed.capture_seconds}
        out[f"{name}_capture_s"] = graphed.capture_seconds
        out[f"{name}_parts"] = {k: round(seconds.get(k, 0.0), 3) for k in PARTS}
        out[f"{name}_graphed_ms"] = timed(graphed, site_args, calls) * 1000
        if graphed.failure:
            out[f"{name}_failure"] = graphed.failure
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--photo", type=int, default=512)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--modes", default="on,cold;off,cold;on,eager first;off,eager first",
                    help="cuDNN on/off, then cold (captured first) or eager first, ';' between modes")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        cudnn, order = args.child.split(",")
        print(json.dumps(measure(args.size, args.batch, args.photo, args.calls, cudnn == "on", order == "cold")))
        return
    print("| cuDNN | order | context s | load s | first call s | steady ms | perceptual capture s (warm-up / gc / "
          "empty_cache / capture / instantiate / first replay) | graphed ms | photo capture s (parts) | graphed ms |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes.split(";"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--size", str(args.size), "--batch",
                              str(args.batch), "--photo", str(args.photo), "--calls", str(args.calls)],
                             capture_output=True, text=True)
        if out.returncode:
            print(f"| {mode} | failed: {out.stderr[-1500:]!r} |")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])

        def parts(name: str) -> str:
            return " / ".join(f"{r[f'{name}_parts'][k]:.3f}" for k in PARTS)

        cudnn, order = mode.split(",")
        print(f"| {cudnn} | {order} | {r['context_s']} | {r['load_s']} | {r.get('first_call_s', '-')} | "
              f"{r.get('steady_ms', '-')} | {r['perceptual_capture_s']} ({parts('perceptual')}) | "
              f"{r['perceptual_graphed_ms']} | {r['photo_capture_s']} ({parts('photo')}) | {r['photo_graphed_ms']} |"
              + "".join(f" {r[k]}" for k in r if k.endswith("failure")), flush=True)


if __name__ == "__main__":
    main()
