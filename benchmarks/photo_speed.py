"""Photo -> avatar wall time (issue 23): ``talkavatar fit PHOTO`` end to end (track on the CPU, pseudo, fit), one
fresh process per photo timed from outside, the median over the photos, and each photo's stage timings, one-time
stalls of the fit (its loss-history clock) and input-view / coverage figures.

    python benchmarks/photo_speed.py PHOTO_DIR --photos astronaut,grace_hopper,messi5,single_face,side_45 \
        --preset fast --device cuda --workdir /tmp/e2e [--first astronaut] [--json FILE] \
        [--variant "main=" --variant "cuDNN=talkavatar.fit.stage.CUDNN_PRESETS={'fast','quality'}"] \
        [--fit-variant "batch 1=--pseudo-batch 1" --fit-variant "256 px=--pseudo-size 256"] \
        [--budget 480]

``--first P`` runs one process on photo P before the measured ones (its own bundle), reported on a line of its
own: a machine's first process pays one-time costs (the disk cache of the libraries and models, Anny's model
cache) that the issue's figure leaves out. Bundles are made afresh (existing ones under --workdir are removed).

A/B (interleaved on one machine): ``--variant NAME=ITEMS`` (repeatable) runs ``fit PHOTO`` once per variant and
photo, photo by photo, the variants' order turned by one each photo; ITEMS as in benchmarks/fit_speed.py
(``module.NAME=VALUE`` constants set before the command runs, or ``talkavatar fit`` arguments). ``--fit-variant``
(repeatable) refits, after each photo's end-to-end runs, a copy of the first variant's bundle with
``talkavatar fit BUNDLE --force`` under each fit variant and under the first variant's settings ("as is": a second
fit of the same inputs, the run-to-run spread of the figures), in an order turned by one each photo, one fresh
process each
(:func:`benchmarks.fit_speed.run_variant`: ms a step by kind, the fit's figures). ``--budget S`` starts no run that
would likely end past S seconds from the start (the table then says what was left out). The summary tables come
last.
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
from benchmarks.fit_speed import parse_variant, run_variant  # noqa: E402

DONE_LINE = "photo_speed: the command returned"
# `python -m talkavatar ARGS` after setting module constants (a list of (module, name, value)) that says when the
# command returned (atexit runs before the interpreter and CUDA are torn down): the wall beyond it is the exit
TIMED_CLI = ("import atexit, importlib, runpy, sys, time; started = time.perf_counter(); "
             "[setattr(importlib.import_module(m), n, v) for m, n, v in {constants!r}]; "
             "atexit.register(lambda: print("
             f"f'{DONE_LINE} after {{{{time.perf_counter() - started:.3f}}}} s', file=sys.stderr, flush=True)); "
             "sys.argv[0] = 'talkavatar'; runpy.run_module('talkavatar', run_name='__main__')")


def run_photo(photo: Path, bundle: Path, preset: str, device: str, log: Path, spec: str = "main=") -> dict:
    """One ``talkavatar fit PHOTO`` process under variant ``spec`` (``NAME=ITEMS``,
    :func:`benchmarks.fit_speed.parse_variant`) -> its wall time, stage timings, fit clock and figures."""
    shutil.rmtree(bundle, ignore_errors=True)
    name, constants, extra = parse_variant(spec)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", TIMED_CLI.format(constants=constants), "fit", str(photo),
                           "--preset", preset, "--device", device, "-o", str(bundle), "--json", *extra],
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    log.write_text(done.stderr)
    finished = [float(line.split()[-2]) for line in done.stderr.splitlines() if line.startswith(DONE_LINE)]
    if done.returncode != 0:
        return {"photo": photo.stem, "variant": name, "wall_s": round(wall, 2),
                "error": done.stderr.strip().splitlines()[-1:]}
    stages = json.loads((bundle / "bundle.json").read_text())["stages"]
    fit = json.loads((bundle / "fit" / "fit.json").read_text())
    clock = {h["step"]: h["seconds"] for h in fit["losses"]["history"] if "seconds" in h}
    return {"photo": photo.stem, "variant": name, "wall_s": round(wall, 2),
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
    return (f"| {r['photo']} | **{r['wall_s']:.1f}** | {outside(r):.1f} / {r['exit_s']} | {s.get('track', 0):.1f} | "
            f"{s.get('pseudo', 0):.1f} | {s.get('fit', 0):.1f} | {f.get('load', 0):.2f} / {f.get('optimise', 0):.2f} / "
            f"{f.get('evaluate', 0):.2f} / {f.get('write', 0):.2f} | {first} / {jump} / {steady} | "
            f"{figure_cells(r)} |")


def outside(r: dict) -> float:
    """The process's wall outside track, pseudo and fit (imports, the exit, a wait for the start-up beside
    track)."""
    return r["wall_s"] - sum(r["stage_seconds"].get(k, 0) for k in ("track", "pseudo", "fit"))


HEADER = ("| photo | wall s | outside the stages / of it the exit s | track | pseudo | fit | fit load / optimise / "
          "evaluate / write | fit start / first pseudo step stall s / steady ms a step | input PSNR / SSIM | "
          "views holes / floaters % | poses holes / floaters % |\n|---|---|---|---|---|---|---|---|---|---|---|")
FIGURES = ("psnr_db", "ssim", "views_holes_pct", "views_floaters_pct", "poses_holes_pct", "poses_floaters_pct")


def median_of(results: list[dict], key) -> float | None:
    values = [key(r) for r in results if "error" not in r]
    return round(statistics.median(values), 2) if values else None


def summary(e2e: dict[str, list[dict]], fits: dict[str, list[dict]]) -> str:
    """The A/B tables: each end-to-end variant's medians over its photos, then each fit variant's ms a step and fit
    seconds (medians) and its figures per photo against the first variant's own fit of the same bundle."""
    lines = ["end to end, medians over the photos each variant ran:",
             "| variant | photos | wall s | track | pseudo | fit | outside the stages | of it the start-up's wait |",
             "|---|---|---|---|---|---|---|---|"]
    for name, runs in e2e.items():
        ok = [r for r in runs if "error" not in r]
        cells = [median_of(ok, lambda r: r["wall_s"])] + [median_of(ok, lambda r, k=k: r["stage_seconds"].get(k, 0))
                                                           for k in ("track", "pseudo", "fit")]
        cells += [median_of(ok, outside), median_of(ok, lambda r: r["stage_seconds"].get("warm_up", 0))]
        lines.append(f"| {name} | {len(ok)}/{len(runs)} | " + " | ".join(str(c) for c in cells) + " |")
    if fits:
        lines += ["", "fit variants on each photo's bundle (`fit BUNDLE --force`), medians over the photos; figures "
                  "per photo as input PSNR / SSIM, views holes / floaters %, poses holes / floaters %:",
                  "| fit variant | photos | fit s | ms a step: photo / pseudo / refine / mean | "
                  + " | ".join(sorted({r["photo"] for runs in fits.values() for r in runs})) + " |",
                  "|---|---|---|---|" + "---|" * len({r["photo"] for runs in fits.values() for r in runs})]
        photos = sorted({r["photo"] for runs in fits.values() for r in runs})
        for name, runs in fits.items():
            ok = [r for r in runs if "error" not in r]
            steps = " / ".join(str(median_of(ok, lambda r, k=k: r["rates"].get(k, float("nan"))))
                               for k in ("photo_ms", "pseudo_ms", "refine_ms", "mean_ms"))
            by_photo = {r["photo"]: r for r in runs}
            cells = []
            for photo in photos:
                r = by_photo.get(photo)
                cells.append("-" if r is None else "failed" if "error" in r else
                             f"{r['psnr_db']:.2f} / {r['ssim']:.4f}, {r['views_holes_pct']:.2f} / "
                             f"{r['views_floaters_pct']:.2f}, {r['poses_holes_pct']:.2f} / "
                             f"{r['poses_floaters_pct']:.2f}")
            lines.append(f"| {name} | {len(ok)}/{len(runs)} | {median_of(ok, lambda r: sum(r['timings'].values()))} | "
                         f"{steps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


class Budget:
    """Seconds left of ``limit`` (0: no limit) from now; :meth:`allows` a run expected to take ``seconds``."""

    def __init__(self, limit: float):
        self.limit, self.started, self.skipped = limit, time.perf_counter(), []

    def allows(self, what: str, seconds: float) -> bool:
        if self.limit and time.perf_counter() - self.started + seconds > self.limit:
            self.skipped.append(what)
            return False
        return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo_dir", type=Path)
    ap.add_argument("--photos", default="astronaut,grace_hopper,messi5,single_face,side_45")
    ap.add_argument("--first", default=None, help="a photo run once before the measured ones (one-time costs)")
    ap.add_argument("--preset", default="fast", choices=("tiny", "fast", "quality"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/e2e"))
    ap.add_argument("--variant", action="append", default=None,
                    help="NAME=ITEMS, an end-to-end variant (repeatable; default: main=, the code as it is)")
    ap.add_argument("--fit-variant", action="append", default=[],
                    help="NAME=ITEMS, a fit-only variant on each photo's bundle (repeatable)")
    ap.add_argument("--fit-photos", default=None, help="the photos the fit variants run on (default: all)")
    ap.add_argument("--budget", type=float, default=0.0, help="start no run likely to end past this many seconds")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    variants = args.variant or ["main="]
    names = [parse_variant(v)[0] for v in variants]
    fit_specs = ([f"as is={variants[0].partition('=')[2]}"] if args.fit_variant else []) + args.fit_variant
    fit_photos = set((args.fit_photos or args.photos).split(","))
    budget = Budget(args.budget)

    def tag(name: str) -> str:  # a variant's bundles: PHOTO.avatar alone, else PHOTO_NAME.avatar
        return "" if len(variants) == 1 else "_" + name.replace(" ", "_")

    def run(name: str, spec: str, suffix: str = "") -> dict:
        r = run_photo(args.photo_dir / f"{name}.png", args.workdir / f"{name}{suffix}.avatar", args.preset,
                      args.device, args.workdir / f"{name}{suffix}.log", spec)
        print(f"{name}{suffix}: wall {r['wall_s']} s", file=sys.stderr, flush=True)
        return r

    first = None if args.first is None else run(args.first, variants[0], "_first")
    expected = first["wall_s"] if first else 0.0
    e2e: dict[str, list[dict]] = {n: [] for n in names}
    fits: dict[str, list[dict]] = {parse_variant(v)[0]: [] for v in fit_specs}
    for i, photo in enumerate(args.photos.split(",")):
        for j in range(len(variants)):
            spec = variants[(i + j) % len(variants)]
            name = parse_variant(spec)[0]
            if budget.allows(f"{photo} {name}", expected):
                e2e[name].append(run(photo, spec, tag(name)))
                expected = max(expected, e2e[name][-1]["wall_s"])
        made = args.workdir / f"{photo}{tag(names[0])}.avatar"
        if photo not in fit_photos or not fit_specs or not (made / "fit" / "fit.json").is_file():
            continue
        copy = args.workdir / f"{photo}_fits.avatar"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(made, copy)
        for j in range(len(fit_specs)):
            spec = fit_specs[(i + j) % len(fit_specs)]
            name = parse_variant(spec)[0]
            if budget.allows(f"{photo} fit {name}", 0.6 * expected):
                r = {**run_variant(copy, spec, args.preset, args.device, args.workdir / f"{photo}_fit{j}.log"),
                     "photo": photo}
                fits[name].append(r)
                print(f"{photo} fit {name}: wall {r['wall_s']} s", file=sys.stderr, flush=True)
    print(f"`talkavatar fit PHOTO --preset {args.preset} --device {args.device}`, one process a photo, wall from "
          "outside the process")
    print(HEADER)
    if first is not None:
        print(row({**first, "photo": f"{first['photo']} (first process: one-time costs)"}))
    for name, runs in e2e.items():
        for r in runs:
            print(row({**r, "photo": r["photo"] if len(variants) == 1 else f"{r['photo']} ({name})"}))
    walls = [r["wall_s"] for r in e2e[names[0]] if "error" not in r]
    if walls:
        print(f"median wall over {len(walls)} photos ({names[0]}): **{statistics.median(walls):.1f} s** "
              "(target <= 15 s)")
    if fits:
        from benchmarks.fit_speed import row as fit_row

        print("\n| fit variant (photo) | steps | fit s | load / optimise / evaluate / write | optimise set-up / start "
              "stall / first pseudo stall s | ms a step: photo / pseudo / refine / mean | graph captures s | input "
              "PSNR / SSIM | views holes / floaters % | poses holes / floaters % |\n" + "|---" * 10 + "|")
        for name, runs in fits.items():
            for r in runs:
                print(fit_row({**r, "variant": f"{name} ({r['photo']})"}))
    if budget.skipped:
        print(f"left out by --budget {args.budget:.0f} s: {', '.join(budget.skipped)}")
    print()
    print(summary(e2e, fits))
    if args.json is not None:
        args.json.write_text(json.dumps({"first": first, "photos": e2e[names[0]], "variants": e2e, "fits": fits,
                                         "median_wall_s": statistics.median(walls) if walls else None,
                                         "skipped": budget.skipped}, indent=1))


if __name__ == "__main__":
    main()
