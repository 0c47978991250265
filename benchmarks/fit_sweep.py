"""Refit one bundle under several loss/limit variants and print the fit's figures for each (issue 6 tuning).

    python benchmarks/fit_sweep.py BUNDLE --variants current,round,tight --out DIR [--iters N] [--profile] [--explain]

BUNDLE must have its track and pseudo stages (e.g. from ``benchmarks/fit_astronaut.py --workdir``); it is copied,
never changed. Each variant's preview strip is written to ``DIR/<variant>.png`` (spaces as ``_``). ``--profile`` first runs 30 steps
of the first variant under the torch profiler and prints where the time goes. ``--explain`` splits each variant's
input-view error by region (``benchmarks/fit_errors.py``; heat maps ``DIR/<variant>_errors.png``) and prints that
table after the first. ``--unseen PHOTO`` measures each variant's unseen parts as issue 16's acceptance does
(``benchmarks/presentable_video.py``: unseen skin share, Laplacian ratio; its four rest views ``DIR/<variant>_rest.png``).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_astronaut import figures  # noqa: E402
from benchmarks.fit_errors import input_view_errors, table as errors_table  # noqa: E402
from benchmarks.presentable_video import plausibility, read_photo  # noqa: E402


def _unsettled(avatar, initial_rgb, photo, video=None):
    """A stand-in for talkavatar.fit.stage's settled_colours: the fitted colours as they are (no settle)."""
    return avatar.rgb


# the module constants a variant may set (module path -> names); each is restored before every variant
CONSTANTS = {"talkavatar.fit.model": ("LOG_SCALE_RANGE", "MAX_SCALE_IN_TEXELS", "MAX_SURFACE_OFFSET", "FLAT_RATIO"),
             "talkavatar.fit.optimize": ("FINAL_LR_FRACTION",),
             "talkavatar.fit.visibility": ("ANCHOR_SEEN", "ANCHOR_SHOWN"),
             "talkavatar.fit.stage": ("settled_colours",)}
# name -> (FitConfig changes, LossWeights changes, module constants (CONSTANTS)); "current" = the defaults
VARIANTS = {
    "current": ({}, {}, {}),
    "no pseudo-labels": ({"pseudo_weight": 0.0}, {}, {}),
    "no mesh regularisers": ({"mesh_weight": 0.0}, {}, {}),
    "neither": ({"pseudo_weight": 0.0, "mesh_weight": 0.0}, {}, {}),
    "mesh 0.1": ({"mesh_weight": 0.1}, {}, {}),
    "mesh 0.3": ({"mesh_weight": 0.3}, {}, {}),
    "no normal": ({}, {"normal": 0.0}, {}),
    "no mask": ({}, {"mask": 0.0}, {}),
    "mask 0.3": ({}, {"mask": 0.3}, {}),
    "mask 3": ({}, {"mask": 3.0}, {}),
    "no mgc": ({}, {"mgc": 0.0}, {}),
    "no laplacian": ({}, {"lap_offsets": 0.0}, {}),
    "round": ({"shape": "round"}, {}, {}),
    "flat": ({"shape": "flat"}, {}, {}),
    "main defaults": ({"shape": "flat"}, {}, {"FINAL_LR_FRACTION": 0.1}),  # the twelfth session's start
    "oval final lr 0.3": ({"shape": "oval"}, {}, {"FINAL_LR_FRACTION": 0.3}),
    "oval": ({"shape": "oval"}, {}, {}),
    "free": ({"shape": "free"}, {}, {}),
    "uv 640": ({"uv_res": 640}, {}, {}),
    "flat 0.3": ({}, {}, {"FLAT_RATIO": 0.3}),
    "no-refine": ({"refine": 0.0}, {}, {}),
    "strict-regs": ({}, {"mgc": 10.0, "lap_offsets": 100.0}, {}),
    "tight": ({}, {}, {"MAX_SURFACE_OFFSET": 0.004}),
    "no-limits": ({}, {}, {"MAX_SCALE_IN_TEXELS": 1e3, "MAX_SURFACE_OFFSET": None}),
    "1200": ({"iters": 1200}, {}, {}),
    "600": ({"iters": 600}, {}, {}),
    "500": ({"iters": 500}, {}, {}),
    "400": ({"iters": 400}, {}, {}),
    "anchor 0.1": ({"colour_anchor": 0.1}, {}, {}),
    "anchor 0": ({"colour_anchor": 0.0}, {}, {}),
    "anchor 0.3": ({"colour_anchor": 0.3}, {}, {}),
    "anchor seen 0.1": ({}, {}, {"ANCHOR_SEEN": 0.1}),
    "anchor shown 0.01": ({}, {}, {"ANCHOR_SHOWN": 0.01}),
    "no settle": ({}, {}, {"settled_colours": _unsettled}),
    "anchor 0 no settle": ({"colour_anchor": 0.0}, {}, {"settled_colours": _unsettled}),
    "refine 0.3": ({"refine": 0.3}, {}, {}),
    "refine 0.4": ({"refine": 0.4}, {}, {}),
    "final lr 0.3": ({}, {}, {"FINAL_LR_FRACTION": 0.3}),
    "final lr 0.03": ({}, {}, {"FINAL_LR_FRACTION": 0.03}),
    "offset 2cm": ({}, {}, {"MAX_SURFACE_OFFSET": 0.02}),
    "scale 6": ({}, {}, {"MAX_SCALE_IN_TEXELS": 6.0}),
    "graphed": ({}, {}, {}),
    "op by op": ({}, {}, {}),
    "perceptual fp32": ({}, {}, {}),
}
# variants that set talkavatar.fit.objective.GRAPH_TERMS (the loss terms as CUDA graphs or op by op), and cuDNN's
# TF32 (torch.backends.cudnn.allow_tf32; in a fit only the perceptual network convolves: off, its input gradients
# are float32's, on they are ~8 % off in L2, benchmarks/perceptual_tf32_cpu.py); the others leave their defaults
GRAPHS = {"graphed": True, "op by op": False}
TF32 = {"perceptual fp32": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--explain", action="store_true", help="split each variant's input-view error by region")
    ap.add_argument("--unseen", type=Path, default=None, help="the bundle's photo: measure each variant's unseen parts")
    args = ap.parse_args()

    import importlib

    import torch

    from talkavatar.fit import objective
    from talkavatar.fit.config import FitConfig
    from talkavatar.fit.objective import LossWeights
    from talkavatar.fit.stage import run_fit

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="fit_sweep_")) / "sweep.avatar"
    shutil.copytree(args.bundle, work)
    modules = {name: importlib.import_module(path) for path, names in CONSTANTS.items() for name in names}
    defaults = {name: getattr(module, name) for name, module in modules.items()}
    graphs_default, tf32_default = objective.GRAPH_TERMS, torch.backends.cudnn.allow_tf32
    quiet = (lambda m: None)
    log = (lambda m: print(m, file=sys.stderr))

    def configure(name: str):
        config_changes, weight_changes, constants = VARIANTS[name]
        for key, value in {**defaults, **constants}.items():
            setattr(modules[key], key, value)
        objective.GRAPH_TERMS = GRAPHS.get(name, graphs_default)
        torch.backends.cudnn.allow_tf32 = TF32.get(name, tf32_default)
        config = FitConfig(preset=args.preset, **{"iters": args.iters, **config_changes})
        return config, replace(LossWeights(), **weight_changes)

    names = args.variants.split(",")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        config, weights = configure(names[0])
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        with profile(activities=activities) as prof:
            run_fit(work, replace(config, iters=30), device=args.device, force=True, log=quiet, warn=log,
                    loss_weights=weights)
        sort = "cuda_time_total" if torch.cuda.is_available() else "cpu_time_total"
        print(prof.key_averages().table(sort_by=sort, row_limit=25, max_name_column_width=60))

    print("| variant | input PSNR dB | input SSIM | novel views holes % | floaters % | novel poses holes % | "
          "floaters % | fit s |")
    print("|---|---|---|---|---|---|---|---|", flush=True)
    table, errors = {}, {}
    for name in names:
        config, weights = configure(name)
        t = time.perf_counter()
        result = run_fit(work, config, device=args.device, force=True, log=quiet, warn=log, loss_weights=weights)
        seconds = time.perf_counter() - t
        f = figures(result.metrics)
        table[name] = {**f, "seconds": round(seconds, 1), "timings": result.timings}
        shutil.copyfile(work / "fit" / "preview.png", args.out / f"{name.replace(' ', '_')}.png")
        print(f"| {name} | {f['psnr_db']:.2f} | {f['ssim']:.4f} | {f['views_holes_pct']:.2f} | "
              f"{f['views_floaters_pct']:.2f} | {f['poses_holes_pct']:.2f} | {f['poses_floaters_pct']:.2f} | "
              f"{seconds:.1f} |", flush=True)
        if args.explain:
            device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
            errors[name] = table[name]["errors"] = input_view_errors(
                work, device, args.out / f"{name.replace(' ', '_')}_errors.png")
        if args.unseen is not None:
            table[name]["unseen"] = _unseen(work, args.unseen, args.out / f"{name.replace(' ', '_')}_rest.png")
        (args.out / "sweep.json").write_text(json.dumps(table, indent=2))  # after each variant: a cut run keeps it
    if errors:
        print("\nInput-view error by region (benchmarks/fit_errors.py): the dB the view would gain were the region "
              "perfect (its share of the mask's pixels / of the error, %)\n")
        print(errors_table(errors))


def _unseen(bundle_path: Path, photo: Path, views_png: Path) -> dict:
    """Issue 16's unseen-part figures of the bundle's fitted avatar (presentable_video.plausibility); its four rest
    views side by side into ``views_png``."""
    import numpy as np
    import torch
    from PIL import Image

    from talkavatar.render.stage import open_bundle

    device = "cuda" if torch.cuda.is_available() else "cpu"
    bundle, avatar = open_bundle(bundle_path)
    with torch.no_grad():
        figures = plausibility(bundle, avatar.to(torch.device(device), torch.float32), *read_photo(photo), device)
    Image.fromarray(np.concatenate(figures.pop("views"), 1)).save(views_png)
    return {k: figures[k] for k in ("unseen_skin_share", "laplacian_ratio", "bare_in_photo")}


if __name__ == "__main__":
    main()
