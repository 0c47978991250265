"""Two tiny fits on one CPU machine: one after the other vs together (`make -j2` of the README's Makefile rule, and
`talkavatar batch`), against one fit alone; 'before' rows run the code in --before (the checkout without issue 22's
thread handling) for the issue's figure.

    PYTHONPATH=$PWD python benchmarks/batch_cpu.py --workdir /tmp/batch_cpu [--iters N] [--before /work/main]

The bundles are the sample photo tracked and pseudo-labelled once (tiny preset), copied twice; every fit is
`talkavatar fit BUNDLE --preset tiny --force`. Prints a table (wall and CPU seconds, ratio to sequential, load average)
and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = """PRESET ?= tiny
%.avatar: %.png
\ttalkavatar fit $< -o $@ --preset $(PRESET) $(FLAGS)
"""


def prepare(work: Path, iters: int | None) -> dict:
    """a.avatar, b.avatar (tracked + pseudo'd astronaut), a.png, b.png, the Makefile and jobs.toml in ``work``."""
    template = work / "template.avatar"
    if not (template / "fit").is_dir():
        run(["talkavatar", "fit", str(ROOT / "talkavatar/samples/astronaut.png"), "-o", str(template), "--preset",
             "tiny", "--iters", "2"], ROOT)
    for name in ("a", "b"):
        shutil.copy(ROOT / "talkavatar/samples/astronaut.png", work / f"{name}.png")
        if not (work / f"{name}.avatar").is_dir():
            shutil.copytree(template, work / f"{name}.avatar")
    (work / "Makefile").write_text(MAKEFILE)
    extra = f"iters = {iters}\n" if iters else ""
    (work / "jobs.toml").write_text(f'output = "out"\n[fit]\npreset = "tiny"\n{extra}[[job]]\nfit = "a.avatar"\n'
                                    '[[job]]\nfit = "b.avatar"\n')
    return {"FLAGS": "--force" + (f" --iters {iters}" if iters else "")}


def run(command: list[str], code: Path, env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of ``command`` with ``code`` on PYTHONPATH; raises when it fails."""
    t = time.perf_counter()
    subprocess.run(command, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {}), "PYTHONPATH": _path(code)})
    return time.perf_counter() - t


def _path(code: Path) -> str:
    """PYTHONPATH with ``code`` first (what else is on it, e.g. the GPU machine's carried packages, stays)."""
    return os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)


def together(commands: list[list[str]], code: Path, cwd: Path) -> float:
    t = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": _path(code)}
    procs = [subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for c in commands]
    if any(p.wait() for p in procs):
        raise SystemExit(f"a fit failed: {commands}")
    return time.perf_counter() - t


def modes(work: Path, flags: str, before: Path | None) -> dict:
    fit = ["talkavatar", "fit"]
    args = ["--preset", "tiny", *flags.split()]
    one = lambda name: [*fit, f"{name}.avatar", *args]  # noqa: E731
    out = {
        "alone": lambda: run(one("a"), ROOT, cwd=work),
        "sequential": lambda: run(one("a"), ROOT, cwd=work) + run(one("b"), ROOT, cwd=work),
        "make -j2": lambda: run(["make", "-B", "-j2", f"FLAGS={flags}", "a.avatar", "b.avatar"], ROOT, cwd=work),
        "batch": lambda: run(["talkavatar", "batch", "jobs.toml", "--force"], ROOT, cwd=work),
    }
    if before is not None:
        py = [sys.executable, "-m", "talkavatar", "fit"]
        out["before: alone"] = lambda: run([*py, "a.avatar", *args], before, cwd=work)
        out["before: together"] = lambda: together([[*py, f"{n}.avatar", *args] for n in "ab"], before, work)
    return out


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for child processes so far (a Ray batch's workers are not counted:
    they are the raylet's children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--iters", type=int, default=None, help="fit steps (default: the tiny preset's)")
    parser.add_argument("--before", type=Path, default=None, help="checkout of the code before (for 'before' rows)")
    parser.add_argument("--only", default=None, help="comma-separated modes to run")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    flags = prepare(args.workdir, args.iters)["FLAGS"]
    table = {}
    for name, measure in modes(args.workdir, flags, args.before).items():
        if args.only and name not in args.only.split(","):
            continue
        load, cpu = os.getloadavg()[0], _children_cpu()
        table[name] = {"seconds": round(measure(), 1), "cpu_seconds": round(_children_cpu() - cpu, 1),
                       "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
        print(f"{name:<18} {table[name]['seconds']:>8.1f} s wall {table[name]['cpu_seconds']:>8.1f} s CPU   load "
              f"{load:.2f} -> {table[name]['load_after']:.2f}", flush=True)
    if "sequential" in table:
        for row in table.values():
            row["vs_sequential"] = round(row["seconds"] / table["sequential"]["seconds"], 3)
    print(json.dumps({"cores": os.cpu_count(), "iters": args.iters, "modes": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
