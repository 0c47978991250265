"""End to end on the astronaut photo: track + pseudo + fit with a preset, timings per stage and the fit's figures.

    ANNY_CACHE_DIR=/work/anny-cache python benchmarks/fit_astronaut.py --preset tiny --device cpu
    python benchmarks/fit_astronaut.py --preset fast --device cuda --bundle tracked.avatar   # skip track (no anny)
    python benchmarks/fit_astronaut.py --preset tiny --device cpu --ablation                  # 4 fits per bundle

``--bundle`` starts from a copy of an existing bundle (e.g. one with track and pseudo done on another machine):
the stages it already has are reused when up to date. ``--ablation`` refits the same bundle with and without
pseudo-labels and mesh regularisers and prints input-view PSNR/SSIM and the hole/floater figures.
Prints a table on stdout; ``--json FILE`` also writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.fit.config import FitConfig  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "talkavatar" / "samples" / "astronaut.png"
ABLATIONS = {"full": {}, "no pseudo-labels": {"pseudo_weight": 0.0}, "no mesh regularisers": {"mesh_weight": 0.0},
             "neither": {"pseudo_weight": 0.0, "mesh_weight": 0.0}}


def figures(metrics: dict) -> dict:
    cov = metrics["coverage"]
    views = [cov[k] for k in ("yaw-30", "yaw+30")]
    poses = [cov[k] for k in ("pose1", "pose2")]
    return {"psnr_db": metrics["input_view"]["masked_psnr_db"], "ssim": metrics["input_view"]["masked_ssim"],
            "views_holes_pct": 100 * max(v["hole_fraction"] for v in views),
            "views_floaters_pct": 100 * max(v["floater_fraction"] for v in views),
            "poses_holes_pct": 100 * max(v["hole_fraction"] for v in poses),
            "poses_floaters_pct": 100 * max(v["floater_fraction"] for v in poses)}


def figure_cells(f: dict) -> str:
    """:func:`figures` as three Markdown cells: input PSNR / SSIM | views holes / floaters % | poses holes / floaters
    %."""
    return (f"{f['psnr_db']:.2f} / {f['ssim']:.4f} | {f['views_holes_pct']:.2f} / {f['views_floaters_pct']:.2f} | "
            f"{f['poses_holes_pct']:.2f} / {f['poses_floaters_pct']:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--bundle", type=Path, default=None, help="start from a copy of this bundle")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the bundle here (default: a temp dir)")
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import torch

    from talkavatar.fit.stage import run_fit
    from talkavatar.pipeline.photo import fit_input

    work = args.workdir or Path(tempfile.mkdtemp(prefix="fit_astronaut_"))
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "astronaut.avatar"
    if args.bundle is not None and not bundle.exists():
        shutil.copytree(args.bundle, bundle)
    photo = work / "astronaut.png"
    shutil.copyfile(PHOTO, photo)
    config = FitConfig(preset=args.preset, iters=args.iters)
    quiet = (lambda m: None)
    log = (lambda m: print(m, file=sys.stderr))

    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else \
        f"CPU ({os.cpu_count()} cores, torch threads {torch.get_num_threads()})"
    print(f"device: {device}; preset {args.preset}; load average {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    result = fit_input(photo, bundle, config, device=args.device, force=True, log=log, warn=log)
    stages = result.stage_seconds
    total = time.perf_counter() - t
    rows = {"end to end (track + pseudo + fit)": {**stages, "total": round(total, 2)}}
    print("\nstage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in {**stages, "total": total}.items()))
    print("fit phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    recorded = json.loads((bundle / "bundle.json").read_text())["stages"]
    for stage in ("track", "pseudo"):
        phases = recorded.get(stage, {}).get("timings", {})
        print(f"{stage} phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))
    m = result.metrics
    print(f"gaussians {m['gaussians']}, iterations {m['iterations']}, backend {m['backend']}, "
          f"perceptual {m['perceptual']}, pseudo frames {m['pseudo_frames_used']}")
    print("\n| variant | input PSNR dB | input SSIM | novel views holes % | floaters % | novel poses holes % | "
          "floaters % | fit s |")
    print("|---|---|---|---|---|---|---|---|")

    def row(name: str, f: dict, seconds: float) -> None:
        print(f"| {name} | {f['psnr_db']:.2f} | {f['ssim']:.4f} | {f['views_holes_pct']:.2f} | "
              f"{f['views_floaters_pct']:.2f} | {f['poses_holes_pct']:.2f} | {f['poses_floaters_pct']:.2f} | "
              f"{seconds:.1f} |", flush=True)

    table = {"full": figures(m)}
    row("full", table["full"], result.seconds)
    if args.ablation:
        for name, change in list(ABLATIONS.items())[1:]:
            cfg = FitConfig(preset=args.preset, iters=args.iters, **change)
            r = run_fit(bundle, cfg, device=args.device, force=True, log=quiet, warn=log)
            table[name] = figures(r.metrics)
            row(name, table[name], r.seconds)
    if args.json:
        args.json.write_text(json.dumps({"device": device, "preset": args.preset, "stages": rows,
                                         "fit_timings": result.timings, "metrics": m, "ablation": table}, indent=2))
    print(f"\nbundle: {bundle}")


if __name__ == "__main__":
    main()
