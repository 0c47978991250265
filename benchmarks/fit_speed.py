"""The fit stage alone, one fresh process a variant (issue 23): ``talkavatar fit BUNDLE --force`` on a tracked and
pseudo-labelled bundle (copied, never changed), its phases, its one-time stalls and step rates from the loss
history's clock, each call site's graph capture, and the input view it reached.

    python benchmarks/fit_speed.py BUNDLE [--preset fast] [--device cuda] \
        --variant "branch=" --variant "350=--iters 350" \
        --variant "cuDNN on=talkavatar.fit.stage.CUDNN_PRESETS={'fast','quality'}"

A variant is ``NAME=ITEMS``: space-separated items, each either ``module.NAME=VALUE`` (a module constant set before
the command runs; VALUE a Python literal) or a command-line argument of ``talkavatar fit``. The step rates: photo
steps (the first clock entry to the last before the pseudo frames start), pseudo steps (from the entry after the
first pseudo stretch, whose one-time work is the "first pseudo stall", to the photo-only refinement), refinement
steps (to the end); the start stall is the time to the first entry beyond the photo steps' pace, the set-up the
optimise phase's time outside the loop's clock (the objective's connectivity, outline and rig frames). The graph
captures: each call site's seconds as the fit logs them, and all captures' parts summed as
:class:`benchmarks.perceptual_warmup.CaptureParts` splits them (warm-up calls, gc, empty_cache, capture,
instantiation). Prints a Markdown table; ``--json FILE`` keeps every figure.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_astronaut import figure_cells, figures  # noqa: E402

# `python -m talkavatar ARGS` after setting module constants (a list of (module, name, value)), with the graph
# captures' parts timed (benchmarks/perceptual_warmup.CaptureParts) and printed when the command returns
SET_AND_RUN = ("import atexit, importlib, json, runpy, sys, torch; constants = {constants!r}; "
               "[setattr(importlib.import_module(m), n, v) for m, n, v in constants]; "
               "from benchmarks.perceptual_warmup import CaptureParts; parts = CaptureParts(torch); parts.start(); "
               "atexit.register(lambda: print(PARTS_LINE + json.dumps(parts.seconds), file=sys.stderr, flush=True)); "
               "sys.argv[0] = 'talkavatar'; runpy.run_module('talkavatar', run_name='__main__')")
PARTS_LINE = "fit_speed: capture parts "
CAPTURES = re.compile(r"([\w ]+): graphed \(\d+, ([\d.]+) s\)")


def parse_variant(spec: str) -> tuple[str, list[tuple[str, str, object]], list[str]]:
    """``NAME=ITEMS`` -> (name, module constants as (module, name, value), command-line arguments)."""
    name, _, items = spec.partition("=")
    constants, args = [], []
    for item in items.split():
        key, eq, value = item.partition("=")
        if eq and not item.startswith("-") and "." in key:
            module, _, attr = key.rpartition(".")
            constants.append((module, attr, ast.literal_eval(value)))
        else:
            args.append(item)
    return name.strip(), constants, args


def rates(clock: dict[int, float], iters: int, warmup: int, refine: int) -> dict:
    """Step rates (ms a step) and one-time stalls (s) from the loss history's clock {step: seconds}."""
    steps = sorted(clock)
    if len(steps) < 4:
        return {}

    def pace(a: int, b: int) -> float:
        return (clock[b] - clock[a]) / (b - a) if b > a else float("nan")

    photo_end = max(s for s in steps if s <= warmup)
    pseudo_first = min((s for s in steps if s > warmup), default=photo_end)
    pseudo_end = max(s for s in steps if s <= iters - refine)
    out = {"photo_ms": 1000 * pace(steps[0], photo_end)}
    out["start_stall_s"] = clock[steps[0]] - steps[0] * out["photo_ms"] / 1000
    if pseudo_end > pseudo_first:
        out["pseudo_ms"] = 1000 * pace(pseudo_first, pseudo_end)
        out["first_pseudo_stall_s"] = (clock[pseudo_first] - clock[photo_end]
                                       - (pseudo_first - photo_end) * out["pseudo_ms"] / 1000)
    if steps[-1] > pseudo_end:
        out["refine_ms"] = 1000 * pace(pseudo_end, steps[-1])
    out["mean_ms"] = 1000 * clock[steps[-1]] / steps[-1]
    return {k: round(v, 2) for k, v in out.items()}


def run_variant(bundle: Path, spec: str, preset: str, device: str, log: Path) -> dict:
    """One fresh ``talkavatar fit BUNDLE --force`` process under variant ``spec`` -> its figures."""
    name, constants, args = parse_variant(spec)
    started = time.perf_counter()
    code = SET_AND_RUN.format(constants=constants).replace("PARTS_LINE", repr(PARTS_LINE))
    done = subprocess.run([sys.executable, "-c", code, "fit", str(bundle),
                           "--force", "--preset", preset, "--device", device, "--json", *args],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    log.write_text(done.stderr)
    if done.returncode != 0:
        return {"variant": name, "wall_s": round(wall, 1), "error": done.stderr.strip().splitlines()[-1:]}
    fit = json.loads((bundle / "fit" / "fit.json").read_text())
    timings = json.loads((bundle / "bundle.json").read_text())["stages"]["fit"]["timings"]
    config, history = fit["config"], fit["losses"]["history"]
    iters = config["iters"]
    clock = {h["step"]: h["seconds"] for h in history if "seconds" in h}
    captures = {site.strip(): float(s) for line in done.stderr.splitlines() if "as CUDA graphs" in line
                for site, s in CAPTURES.findall(line.split(":", 1)[1])}
    parts = [json.loads(line[len(PARTS_LINE):]) for line in done.stderr.splitlines() if line.startswith(PARTS_LINE)]
    figures_of_steps = rates(clock, iters, int(iters * config["warmup"]), int(iters * config["refine"]))
    if clock:  # the optimise phase beyond the loop's clock: the objective's set-up (connectivity, outline, frames)
        figures_of_steps["setup_s"] = round(timings.get("optimise", 0.0) - clock[max(clock)], 2)
    return {"variant": name, "wall_s": round(wall, 1), "iters": iters, "timings": timings,
            "rates": figures_of_steps,
            "captures_s": captures, "capture_parts_s": {k: round(v, 3) for k, v in (parts or [{}])[0].items()},
            "clock": clock, **figures(fit["metrics"])}


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['variant']} | failed: {r['error']} |"
    t, q = r["timings"], r["rates"]
    captures = ", ".join(f"{k} {v:.2f}" for k, v in r["captures_s"].items()) or "-"
    if r["capture_parts_s"]:
        captures += " (all: " + ", ".join(f"{k} {v:.2f}" for k, v in r["capture_parts_s"].items()) + ")"
    phases = " / ".join(f"{t.get(k, 0):.2f}" for k in ("load", "optimise", "evaluate", "write"))
    stalls = " / ".join(str(q.get(k, "-")) for k in ("setup_s", "start_stall_s", "first_pseudo_stall_s"))
    steps = " / ".join(str(q.get(k, "-")) for k in ("photo_ms", "pseudo_ms", "refine_ms", "mean_ms"))
    return (f"| {r['variant']} | {r['iters']} | **{sum(t.values()):.2f}** | {phases} | {stalls} | {steps} | "
            f"{captures} | {figure_cells(r)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--variant", action="append", default=None, help="NAME=ITEMS (repeatable; default: as is)")
    ap.add_argument("--preset", default="fast", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fit_speed_"))
    bundle = work / "fit_speed.avatar"
    shutil.copytree(args.bundle, bundle)
    print(f"`talkavatar fit BUNDLE --force --preset {args.preset} --device {args.device}`, one fresh process a "
          "variant; logs in " + str(work))
    print("| variant | steps | fit s | load / optimise / evaluate / write | optimise set-up / start stall / first "
          "pseudo stall s | ms a step: photo / pseudo / refine / mean | graph captures s | input PSNR / SSIM | "
          "views holes / floaters % | poses holes / floaters % |\n" + "|---" * 10 + "|", flush=True)
    results = []
    for i, spec in enumerate(args.variant or ["as is="]):
        results.append(run_variant(bundle, spec, args.preset, args.device, work / f"variant{i}.log"))
        print(row(results[-1]), flush=True)
        if args.json is not None:  # after each variant: a cut run keeps what it made
            args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
