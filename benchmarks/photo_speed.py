"""Photo -> avatar wall time (issue 23): ``talkavatar fit PHOTO`` end to end (track on the CPU, pseudo, fit), one
fresh process per photo timed from outside, the median over the photos, and each photo's stage timings, one-time
stalls of the fit (its loss-history clock) and input-view / coverage figures.

    python benchmarks/photo_speed.py PHOTO_DIR --photos astronaut,grace_hopper,messi5,single_face,side_45 \
        --preset fast --device cuda --workdir /tmp/e2e [--first astronaut] [--json FILE]

``--first P`` runs one process on photo P before the measured ones (its own bundle), reported on a line of its
own: a machine's first process pays one-time costs (the disk cache of the libraries and models, Anny's model
cache) that the issue's figure leaves out. Bundles are made afresh (existing ones under --workdir are removed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fit_astronaut import figure_cells, figures  # noqa: E402

DONE_LINE = "photo_speed: the command returned"
# `python -m talkavatar ARGS` that says when the command returned (atexit runs before the interpreter and CUDA are
# torn down): the wall beyond it is the process's exit
TIMED_CLI = ("import atexit, runpy, sys, time; started = time.perf_counter(); atexit.register(lambda: print("
             f"f'{DONE_LINE} after {{time.perf_counter() - started:.3f}} s', file=sys.stderr, flush=True)); "
             "sys.argv[0] = 'talkavatar'; runpy.run_module('talkavatar', run_name='__main__')")


def run_photo(photo: Path, bundle: Path, preset: str, device: str, log: Path) -> dict:
    """One ``talkavatar fit PHOTO`` process -> its wall time, stage timings, fit clock and figures."""
    shutil.rmtree(bundle, ignore_errors=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", TIMED_CLI, "fit", str(photo), "--preset", preset, "--device",
                           device, "-o", str(bundle), "--json"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    log.write_text(done.stderr)
    finished = [float(line.split()[-2]) for line in done.stderr.splitlines() if line.startswith(DONE_LINE)]
    if done.returncode != 0:
        return {"photo": photo.stem, "wall_s": round(wall, 2), "error": done.stderr.strip().splitlines()[-1:]}
    stages = json.loads((bundle / "bundle.json").read_text())["stages"]
    fit = json.loads((bundle / "fit" / "fit.json").read_text())
    clock = {h["step"]: h["seconds"] for h in fit["losses"]["history"] if "seconds" in h}
    return {"photo": photo.stem, "wall_s": round(wall, 2),
            "stages": {k: {n: round(v, 2) for n, v in stages[k].get("timings", {}).items()}
                       for k in ("track", "pseudo", "fit") if k in stages},
            "stage_seconds": _stage_seconds(done.stdout),
            "exit_s": round(wall - finished[0], 2) if finished else None,
            "fit_clock": clock, **figures(fit["metrics"])}


def _stage_seconds(stdout: str) -> dict:
    """The ``stage_seconds`` of ``fit --json`` output (each stage's wall);
    {} when the output holds other text too."""
    try:
        return json.loads(stdout[stdout.index("{"):]).get("stage_seconds", {})
    except ValueError:
        return {}


def stalls(clock: dict) -> tuple[float, float, float]:
    """(seconds to the first clock entry beyond the pace of the next stretch, the largest excess of a stretch over
    the one after it, the median ms a step): the one-time work at the fit's start and at its first pseudo step (the
    clock's entries are evenly spaced in steps)."""
    steps = sorted(clock)
    if len(steps) < 3:
        return 0.0, 0.0, 0.0
    spans = [clock[b] - clock[a] for a, b in zip(steps, steps[1:])]  # seconds of each stretch after the first entry
    pace = spans[0] / (steps[1] - steps[0])
    start = clock[steps[0]] - pace * steps[0]
    jump = max(a - b for a, b in zip(spans, spans[1:]))
    steady = statistics.median(span / (b - a) for span, a, b in zip(spans, steps, steps[1:]))
    return round(start, 2), round(jump, 2), round(steady * 1000, 1)


def row(r: dict) -> str:
    if "error" in r:
        return f"| {r['photo']} | {r['wall_s']} | failed: {r['error']} |"
    s, f = r["stage_seconds"], r["stages"].get("fit", {})
    first, jump, steady = stalls(r["fit_clock"])
    other = r["wall_s"] - sum(s.get(k, 0) for k in ("track", "pseudo", "fit"))
    return (f"| {r['photo']} | **{r['wall_s']:.1f}** | {other:.1f} / {r['exit_s']} | {s.get('track', 0):.1f} | "
            f"{s.get('pseudo', 0):.1f} | {s.get('fit', 0):.1f} | {f.get('load', 0):.2f} / {f.get('optimise', 0):.2f} / "
            f"{f.get('evaluate', 0):.2f} / {f.get('write', 0):.2f} | {first} / {jump} / {steady} | "
            f"{figure_cells(r)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo_dir", type=Path)
    ap.add_argument("--photos", default="astronaut,grace_hopper,messi5,single_face,side_45")
    ap.add_argument("--first", default=None, help="a photo run once before the measured ones (one-time costs)")
    ap.add_argument("--preset", default="fast", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/e2e"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    def run(name: str, tag: str = "") -> dict:
        r = run_photo(args.photo_dir / f"{name}.png", args.workdir / f"{name}{tag}.avatar", args.preset,
                      args.device, args.workdir / f"{name}{tag}.log")
        print(f"{name}{tag}: wall {r['wall_s']} s", file=sys.stderr, flush=True)
        return r

    first = None if args.first is None else run(args.first, "_first")
    results = [run(name) for name in args.photos.split(",")]
    walls = [r["wall_s"] for r in results if "error" not in r]
    header = ("| photo | wall s | outside the stages / of it the exit s | track | pseudo | fit | fit load / optimise / "
              "evaluate / write | fit start / first pseudo step stall s / steady ms a step | input PSNR / SSIM | "
              "views holes / floaters % | poses holes / floaters % |\n|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"`talkavatar fit PHOTO --preset {args.preset} --device {args.device}`, one process a photo, wall from "
          "outside the process")
    print(header)
    if first is not None:
        print(row({**first, "photo": f"{first['photo']} (first process: one-time costs)"}))
    for r in results:
        print(row(r))
    if walls:
        print(f"median wall over {len(walls)} photos: **{statistics.median(walls):.1f} s** (target <= 15 s)")
    if args.json is not None:
        args.json.write_text(json.dumps({"first": first, "photos": results,
                                         "median_wall_s": statistics.median(walls) if walls else None}, indent=1))


if __name__ == "__main__":
    main()
