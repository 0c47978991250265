"""CPU seconds of the reference rasterizer and of whole fit steps, as the tiny CPU fit takes them (issue 23).

    python benchmarks/profile_raster.py --bundle B.avatar                    # B: tracked + pseudo-labelled
    PYTHONPATH=/work/main python benchmarks/profile_raster.py --bundle B.avatar   # the same on another checkout

One torch thread. The avatar's initial Gaussians are posed for the photo view, the crops and a pseudo frame, as
a fit step sees them; each view is rasterized ``--reps`` times forward, and forward + backward of a weighted sum
of rgb, alpha and depth. Then ``--steps`` whole fit steps (:func:`talkavatar.fit.optimize.run_steps`, pseudo
frames on). Figures are CPU seconds of this process (``time.process_time``: they hold on a shared machine), median
over the repetitions. Prints a short table last; ``--json FILE`` writes it too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # PYTHONPATH (the checkout measured) comes first


def cpu_seconds(fn, reps: int) -> float:
    """Median CPU seconds of ``fn()`` over ``reps`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def raster_figures(params, data, reps: int) -> dict:
    """Forward and forward + backward CPU seconds per view kind of a fit step."""
    import torch

    from talkavatar.fit.objective import pose_views, raster_views

    gen = torch.Generator().manual_seed(0)
    views = {"photo": data.photo, "pseudo": data.pseudo.select(torch.tensor([0]))}
    if data.crops is not None:
        views["crops"] = data.crops
    rows = {}
    for name, v in views.items():
        posed = pose_views(params, v)
        posed = type(posed)(**{k: getattr(posed, k).detach().requires_grad_(True) for k in
                               ("means", "quats", "log_scales", "opacity_logit", "rgb")})
        bg = torch.rand(3, generator=gen)

        def forward(posed=posed, v=v, bg=bg):
            with torch.no_grad():
                raster_views(posed, v, bg)

        def both(posed=posed, v=v, bg=bg):
            rgb, alpha, _ = raster_views(posed, v, bg)
            (rgb.square().sum() + alpha.sum()).backward()

        fwd, fwd_bwd = cpu_seconds(forward, reps), cpu_seconds(both, reps)
        rows[name] = {"size": [v.cameras.count, v.cameras.height, v.cameras.width], "forward_s": round(fwd, 4),
                      "backward_s": round(fwd_bwd - fwd, 4), "total_s": round(fwd_bwd, 4)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, required=True, help="a bundle with track and pseudo done")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10, help="whole fit steps timed (0: none)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from benchmarks.profile_pipeline import fit_setup
    from talkavatar.fit.model import learning_rates
    from talkavatar.fit.optimize import Schedule, run_steps

    params, data, weights, distance, cfg = fit_setup(args.bundle, args.preset, torch.device("cpu"))
    report = {"gaussians": params.binding.count, "raster": raster_figures(params, data, args.reps)}
    if args.steps:
        schedule = Schedule(args.steps, 0, cfg.pseudo_batch, 0)
        rates = learning_rates(cfg.iters)
        t0 = time.process_time()
        with torch.enable_grad():
            run_steps(params, data, schedule, weights, rates, distance, cfg.seed)
        report["fit_step_s"] = round((time.process_time() - t0) / args.steps, 4)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"{report['gaussians']} Gaussians, CPU seconds (one thread), median of {args.reps}")
    print(f"{'view':8} {'C x H x W':>14} {'forward':>8} {'backward':>9} {'total':>7}")
    for name, r in report["raster"].items():
        size = "x".join(map(str, r["size"]))
        print(f"{name:8} {size:>14} {r['forward_s']:8.3f} {r['backward_s']:9.3f} {r['total_s']:7.3f}")
    if args.steps:
        print(f"whole fit step (pseudo frames on, mean of {args.steps}): {report['fit_step_s']:.3f} s")


if __name__ == "__main__":
    main()
