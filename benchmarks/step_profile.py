"""A fit step's ms under variants of module constants, interleaved in one process, and the GPU kernels of its
steady pseudo steps (issue 23: a fit step <= 10 ms). benchmarks/pseudo_step_parts.py times a step's parts alone;
this times whole steps (:func:`benchmarks.pseudo_step_parts.step_ms`: the difference of an N- and a 2N-step run
over N, the graphs captured before) and, with ``--profile``, lists the kernels of ``--profile-steps`` pseudo steps
after their captures (torch profiler, CUDA time a step, the top ``--top`` by name): what a step spends on the GPU,
without the capture warm-ups that a profile from the fit's first step mixes in (and each kernel counted once: a
torch profiler table's "Self CUDA" total counts a kernel under its operator too). ``--host`` lists the host's own
time by function over the same steps (cProfile): a step whose kernels take less than its wall waits on the host.

    python benchmarks/step_profile.py BUNDLE [--preset fast] [--device cuda] [--steps 20] [--rounds 2] \
        [--variant "main=talkavatar.fit.objective.GRAPH_PERCEPTUAL=False ..."] [--variant "branch="] \
        [--profile main,branch] [--host main,branch] [--profile-steps 10] [--top 15]

A variant's constants (``module.NAME=VALUE``, as benchmarks/fit_speed.py's ITEMS) are set before its runs and put
back after them; each run makes its own objective, so graphs are captured afresh under the variant's constants
(the image terms' process-wide graphs read none of them). ``--rounds`` repeats the variants in turned order. The
last table: ms a step photo / pseudo per round, and the mean of a ``--preset`` fit (its schedule's mix of photo and
pseudo steps). ``--device cpu`` checks the script (nothing is graphed there; not the fit's figures).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.fit_speed import parse_variant  # noqa: E402
from benchmarks.profile_pipeline import fit_setup  # noqa: E402
from benchmarks.pseudo_step_parts import step_ms  # noqa: E402


@contextmanager
def constants_set(constants: list[tuple[str, str, object]]):
    """Module constants set for the block, their values put back after it."""
    saved = []
    for module, name, value in constants:
        target = importlib.import_module(module)
        saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)
    try:
        yield
    finally:
        for target, name, value in reversed(saved):
            setattr(target, name, value)


def pseudo_fraction(cfg) -> float:
    """The share of a fit's steps that see pseudo frames (between warm-up and the photo-only refinement)."""
    from talkavatar.fit.optimize import steps_for

    warmup, refine = steps_for(cfg.iters, cfg.warmup), steps_for(cfg.iters, cfg.refine)
    return max(0, cfg.iters - refine - warmup) / cfg.iters


def kernel_table(params, data, weights, distance, cfg, steps: int, top: int, device) -> list[tuple[str, float, int]]:
    """(kernel name, CUDA ms a step, calls a step) of the ``top`` kernels of ``steps`` pseudo steps after two
    unprofiled ones (their captures)."""
    from torch.profiler import ProfilerActivity, profile

    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    rates = learning_rates(cfg.iters)
    gc.collect()  # earlier runs' graphs, not during this run's captures (pseudo_step_parts.step_ms)
    run_steps(params, data, Schedule(2, 0, cfg.pseudo_batch, 0), weights, rates, distance, cfg.seed)
    gc.collect()

    def on_step(progress, recent) -> None:  # the first two steps capture the graphs; the profiler starts after them
        if progress.iteration == 2:
            torch.cuda.synchronize(device)
            prof.start()

    activities = [ProfilerActivity.CPU, ProfilerActivity.CUDA]
    prof = profile(activities=activities)
    run_steps(params, data, Schedule(steps + 2, 0, cfg.pseudo_batch, 0), weights, rates, distance, cfg.seed,
              on_step=on_step)
    torch.cuda.synchronize(device)
    prof.stop()
    kernels: dict[str, tuple[float, int]] = {}  # name -> (ms, calls): the GPU's own events only (kernels, copies)
    for event in prof.events():
        if event.device_type == torch.autograd.DeviceType.CUDA:
            ms, calls = kernels.get(event.name, (0.0, 0))
            kernels[event.name] = (ms + event.time_range.elapsed_us() / 1000, calls + 1)
    ranked = sorted(kernels.items(), key=lambda item: -item[1][0])
    total = sum(ms for ms, _ in kernels.values())
    table = [("all kernels", total / steps, sum(n for _, n in kernels.values()) // steps)]
    return table + [(name, ms / steps, n // steps) for name, (ms, n) in ranked[:top]]


def host_table(params, data, weights, distance, cfg, steps: int, top: int) -> str:
    """cProfile of ``steps`` pseudo steps after two unprofiled ones: the host's own time by function (the top
    ``top`` by time spent in the function itself), what a host-bound step spends its wall on."""
    import cProfile
    import io
    import pstats

    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    rates = learning_rates(cfg.iters)
    profiler = cProfile.Profile()
    gc.collect()

    def on_step(progress, recent) -> None:
        if progress.iteration == 2:
            profiler.enable()

    run_steps(params, data, Schedule(steps + 2, 0, cfg.pseudo_batch, 0), weights, rates, distance, cfg.seed,
              on_step=on_step)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--variant", action="append", default=None, help="NAME=ITEMS (module constants); repeatable")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", default="", help="variants whose pseudo steps' kernels to list (comma-separated)")
    ap.add_argument("--profile-steps", type=int, default=10)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--host", default="", help="variants whose pseudo steps' host time to list (cProfile)")
    args = ap.parse_args()
    device = torch.device(args.device)
    from talkavatar.core.device import cudnn_enabled
    from talkavatar.fit.stage import CUDNN_PRESETS

    variants = [parse_variant(spec) for spec in (args.variant or ["as is="])]
    params, data, weights, distance, cfg = fit_setup(args.bundle, args.preset, device)
    initial = {k: v.detach().clone() for k, v in params.state_dict().items()}
    where = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (a check: not the fit's figures)"
    print(f"fit steps, {args.preset} preset, {params.binding.count} Gaussians, {where}", flush=True)
    found: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in variants}
    with cudnn_enabled(cfg.preset in CUDNN_PRESETS), torch.enable_grad():
        for r in range(args.rounds):
            for name, constants, _ in variants[r % len(variants):] + variants[:r % len(variants)]:
                with constants_set(constants):
                    params.load_state_dict(initial)  # every variant's runs start from the same avatar
                    photo = step_ms(params, data, weights, distance, cfg, args.steps, False, device)[1]
                    pseudo = step_ms(params, data, weights, distance, cfg, args.steps, True, device)[1]
                found[name].append((photo, pseudo))
                print(f"round {r + 1} {name}: photo {photo:.2f} ms, pseudo {pseudo:.2f} ms", flush=True)
        for name, constants, _ in variants:
            if name not in [p.strip() for p in args.profile.split(",")] or device.type != "cuda":
                continue
            with constants_set(constants):
                params.load_state_dict(initial)
                table = kernel_table(params, data, weights, distance, cfg, args.profile_steps, args.top, device)
            print(f"\nkernels of a pseudo step, {name} ({args.profile_steps} steps profiled)")
            print("| kernel | CUDA ms a step | calls a step |\n|---|---|---|")
            for kernel, ms, calls in table:
                print(f"| {kernel[:90]} | {ms:.3f} | {calls} |")
        for name, constants, _ in variants:
            if name not in [p.strip() for p in args.host.split(",")]:
                continue
            with constants_set(constants):
                params.load_state_dict(initial)
                text = host_table(params, data, weights, distance, cfg, args.profile_steps, 2 * args.top)
            print(f"\nhost time of {args.profile_steps} pseudo steps, {name} (cProfile, by own time)\n{text}")
    share = pseudo_fraction(cfg)
    print(f"\nms a step (wall; {args.rounds} rounds in turned order; mean = a {args.preset} fit's mix, "
          f"{share:.0%} pseudo steps)")
    print("| variant | photo ms | pseudo ms | mean ms | photo / pseudo per round |\n|---|---|---|---|---|")
    for name, runs in found.items():
        photo, pseudo = statistics.median(p for p, _ in runs), statistics.median(q for _, q in runs)
        rounds = ", ".join(f"{p:.2f} / {q:.2f}" for p, q in runs)
        print(f"| {name} | {photo:.2f} | {pseudo:.2f} | {photo + share * (pseudo - photo):.2f} | {rounds} |")


if __name__ == "__main__":
    main()
