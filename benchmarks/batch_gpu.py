"""Avatars per hour on one GPU with 1, 2, 4, 8 concurrent fast fits, and 60 s 1080x1920 videos per hour with 1 and
2 concurrent renders: what `talkavatar batch` defaults to (``--fits-per-gpu``, ``--renders-per-gpu``) comes from
this table. Each slot is one process, as a Ray worker is: it holds torch to its share of the CPU cores
(talkavatar.core.threads) and runs its jobs one after the other through the batch's single entry point
(talkavatar.batch.adapter); Ray is not needed here, so the script runs where Ray is not installed.

    python benchmarks/batch_gpu.py --bundle .device-cache/astro/astronaut.avatar --workdir /tmp/bg \\
        [--slots 1,2,4,8] [--fits-per-slot 2] [--motion .device-cache/render-bench/speech60.motion.safetensors]

In the lead's GPU session: bash benchmarks/gpu_session.sh x 'python3 benchmarks/batch_gpu.py --bundle
.device-cache/astro/astronaut.avatar --workdir /tmp/bg --motion .device-cache/render-bench/speech60.motion.safetensors'
Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def slot(args) -> None:
    """One slot: ``args.jobs`` (bundle paths, or 'render:OUT') one after the other; prints a JSON line."""
    from talkavatar.batch import adapter
    from talkavatar.batch.jobs import Job
    from talkavatar.core import threads
    from talkavatar.fit.config import FitConfig
    from talkavatar.render.config import RenderConfig

    threads.apply(args.threads)
    import torch

    quiet = lambda message: None  # noqa: E731
    seconds = []
    for target in args.jobs.split(","):
        t = time.perf_counter()
        if target.startswith("render:"):
            output = Path(target.split(":", 1)[1])
            job = Job(output.stem, "render", args.bundle, RenderConfig(width=1080, height=1920), motion=args.motion,
                      output=output)
        else:
            job = Job(Path(target).stem, "fit", Path(target), FitConfig(preset=args.preset), input=Path(target))
        adapter.run(job, args.device, True, quiet, quiet)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds.append(round(time.perf_counter() - t, 2))
    peak = torch.cuda.max_memory_allocated() if args.device.startswith("cuda") else 0
    print(json.dumps({"seconds": seconds, "peak_gib": round(peak / 2 ** 30, 2)}))


def concurrent(slot_jobs: list[list[str]], threads: int, args) -> dict:
    """Run one process per slot at once; wall seconds, per-job seconds and peak memory per process."""
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, "--slot", ",".join(jobs), "--threads", str(threads),
                               "--bundle", str(args.bundle), "--device", args.device, "--preset", args.preset] + (["--motion", str(args.motion)] if args.motion else []),
                              stdout=subprocess.PIPE, text=True) for jobs in slot_jobs]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a slot failed (exit {proc.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - t
    jobs = sum(len(r["seconds"]) for r in results)
    per_job = sorted(s for r in results for s in r["seconds"])
    return {"slots": len(slot_jobs), "jobs": jobs, "wall_s": round(wall, 1), "per_hour": round(jobs * 3600 / wall, 1),
            "median_job_s": per_job[len(per_job) // 2], "peak_gib_per_process": max(r["peak_gib"] for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="a tracked + pseudo-labelled bundle")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/batch_gpu"))
    parser.add_argument("--slots", default="1,2,4,8")
    parser.add_argument("--fits-per-slot", type=int, default=2)
    parser.add_argument("--motion", type=Path, default=None, help="60 s motion file: also measure renders")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--preset", default="fast", help="fit preset (tiny: a CPU smoke test of this script)")
    parser.add_argument("--slot", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.slot is not None:
        args.jobs = args.slot
        slot(args)
        return 0
    cores = len(os.sched_getaffinity(0))
    rows = []
    for n in [int(s) for s in args.slots.split(",") if s]:
        work = args.workdir / f"fit{n}"
        slot_jobs = [[str(copy(args.bundle, work / f"s{i}j{j}.avatar")) for j in range(args.fits_per_slot)]
                     for i in range(n)]
        rows.append({"kind": "fit", **concurrent(slot_jobs, max(1, cores // n), args)})
        print_row(rows[-1])
    if args.motion is not None:
        fitted = args.workdir / "fit1" / "s0j0.avatar"
        args.bundle = fitted
        for n in (1, 2):
            slot_jobs = [[f"render:{args.workdir / f'r{n}_{i}.mp4'}"] for i in range(n)]
            rows.append({"kind": "render 60 s 1080x1920", **concurrent(slot_jobs, max(1, cores // n), args)})
            print_row(rows[-1])
    print(json.dumps({"cores": cores, "rows": rows}))
    return 0


def copy(bundle: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundle, target, ignore=shutil.ignore_patterns(".checkpoints", ".lock"))
    return target


def print_row(row: dict) -> None:
    print(f"{row['kind']:<22} {row['slots']} at once: {row['jobs']} jobs in {row['wall_s']} s = {row['per_hour']} "
          f"per hour (median job {row['median_job_s']} s, peak {row['peak_gib_per_process']} GiB per process)",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
