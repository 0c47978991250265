"""Where a fit step's time goes with its terms graphed (issue 23: a pseudo step costs ~15 ms against ~8 for a photo
step on the H100, and its perceptual term is 3.4 ms of it, benchmarks/perceptual_speed.py): the parts of a step, each
run alone at the fit's shapes on a tracked and pseudo-labelled bundle, forward + backward, as GPU ms (CUDA events
from the first kernel to the last) and host ms (the wall of issuing the calls, before the synchronisation), medians
of --repeats; then whole photo and pseudo steps (:func:`~talkavatar.fit.optimize.run_steps`, the difference of an
N- and a 2N-step run over N).

    python benchmarks/pseudo_step_parts.py BUNDLE [--preset fast] [--device cuda] [--repeats 30] [--steps 20]

Parts: the photo's posing, its raster, the crops' raster (in the photo's pose); the pseudo frames' posing (a pick of
--pseudo-batch frames on their kept rig frames), their raster, their perceptual terms (graphed as in the fit). The
parts' sums are not a step: a step also has the photo's and crops' image terms, the mesh terms, Adam and the
projection. ``--device cpu`` checks the script (nothing is graphed there). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks.perceptual_speed import Clock  # noqa: E402
from benchmarks.profile_pipeline import fit_setup  # noqa: E402
from talkavatar.core.device import cudnn_enabled  # noqa: E402
from talkavatar.fit.objective import GAUSSIAN_FIELDS, Objective, first_pose, raster_linear  # noqa: E402


def timed(fn, repeats: int, device: torch.device) -> tuple[float, float]:
    """(GPU ms, host ms) of ``fn()``, medians of ``repeats`` calls after two untimed ones."""
    gpu, host = [], []
    for i in range(repeats + 2):
        with Clock(device) as clock:
            started = time.perf_counter()
            fn()
            issued = time.perf_counter() - started
        if i >= 2:
            gpu.append(clock.ms)
            host.append(1000 * issued)
    return statistics.median(gpu), statistics.median(host)


def backward_of(*tensors: torch.Tensor) -> None:
    """Backpropagate a fixed weighting of ``tensors`` (every element gets a gradient)."""
    torch.stack([t.float().mean() for t in tensors]).sum().backward()


def parts(params, data, distance, objective: Objective, pick: torch.Tensor) -> dict:
    """name -> a function running that part forward and backward."""
    views = data.pseudo.select(pick)
    background = torch.full((3,), 0.5, device=pick.device)

    def fields(g):
        return [getattr(g, k) for k in GAUSSIAN_FIELDS]

    def detached(g):
        return type(g)(**{k: getattr(g, k).detach().requires_grad_(True) for k in GAUSSIAN_FIELDS})

    photo_posed = detached(objective.pose(params))
    pseudo_posed = detached(objective.pose(params, pick))
    linear, alpha, _ = raster_linear(pseudo_posed, views)
    linear, alpha = linear.detach().requires_grad_(True), alpha.detach().requires_grad_(True)
    perceptual = objective._shared(("pseudo perceptual", id(distance)), distance)

    def photo_raster():
        out, a, _ = raster_linear(photo_posed, data.photo)
        backward_of(out, a)

    def crops_raster():
        out, a, _ = raster_linear(first_pose(photo_posed), data.crops)
        backward_of(out, a)

    def pseudo_raster():
        out, a, _ = raster_linear(pseudo_posed, views)
        backward_of(out, a)

    found = {"photo pose": lambda: backward_of(*fields(objective.pose(params))),
             "photo raster": photo_raster,
             "crops raster": crops_raster,
             "pseudo pose": lambda: backward_of(*fields(objective.pose(params, pick))),
             "pseudo raster": pseudo_raster,
             "pseudo perceptual": lambda: backward_of(*perceptual(linear, alpha, views.rgb, views.mask, background))}
    if data.crops is None:
        del found["crops raster"]
    return found


def step_ms(params, data, weights, distance, cfg, steps: int, pseudo: bool, device) -> tuple[float, float]:
    """(GPU-clock ms, wall ms) a step of photo-only or pseudo steps: (2N-step run - N-step run) / N."""
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    def run(n: int) -> tuple[float, float]:
        schedule = Schedule(n, 0 if pseudo else 100 * n, cfg.pseudo_batch, 0)
        # the previous run's objective (its graphs sit in a reference cycle) collected now: destroyed by the cyclic
        # collector during this run's captures, a graph invalidates them (the site then runs op by op)
        gc.collect()
        with Clock(device) as clock:
            started = time.perf_counter()
            run_steps(params, data, schedule, weights, learning_rates(cfg.iters), distance, cfg.seed)
            wall = time.perf_counter() - started
        return clock.ms, 1000 * wall

    run(2)  # captures and first calls
    short, long = run(steps), run(2 * steps)
    return (long[0] - short[0]) / steps, (long[1] - short[1]) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    device = torch.device(args.device)
    from talkavatar.fit.stage import CUDNN_PRESETS

    params, data, weights, distance, cfg = fit_setup(args.bundle, args.preset, device)
    if data.pseudo is None:
        raise SystemExit(f"{args.bundle} has no pseudo frames")
    where = torch.cuda.get_device_name() if device.type == "cuda" else "CPU (a check: not the fit's figures)"
    print(f"parts of a fit step, {args.preset} preset, {params.binding.count} Gaussians, {where}")
    print("| part | GPU ms | host ms |\n|---|---|---|")
    with cudnn_enabled(cfg.preset in CUDNN_PRESETS), torch.enable_grad():
        objective = Objective(params, data.photo, cfg.seed, data.pseudo)
        pick = torch.arange(cfg.pseudo_batch, device=device) % len(data.pseudo.poses)
        for name, fn in parts(params, data, distance, objective, pick).items():
            gpu, host = timed(fn, args.repeats, device)
            print(f"| {name} | {gpu:.2f} | {host:.2f} |", flush=True)
            for p in params.parameters():
                p.grad = None
        for kind in ("photo", "pseudo"):
            gpu, wall = step_ms(params, data, weights, distance, cfg, args.steps, kind == "pseudo", device)
            print(f"| whole {kind} step (GPU clock / wall) | {gpu:.2f} | {wall:.2f} |", flush=True)


if __name__ == "__main__":
    main()
