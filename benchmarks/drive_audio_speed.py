"""drive-audio speed (issue 7 target: >= 200x real time on 2 CPU cores for a 60 s clip), with the breakdown.

Input: 60 s of real read speech (the LibriVox clips of pocketsphinx-testdata, concatenated). Reports the stage
function's wall and CPU time with per-step breakdowns (the run with the least CPU time of --runs, after a
warm-up), the load average (the machine may be shared: CPU time is the steadier figure) and the whole CLI as a
fresh process (imports and all).

``--language`` picks the path as drive-audio's option does: ``auto`` (the default; on this English speech it
probes with the language-independent recogniser, then takes the English path), ``en`` (the fast English path,
no probe) or ``any`` (the language-independent recogniser on the whole file).

Usage:  python benchmarks/drive_audio_speed.py [--seconds 60] [--runs 3] [--language auto|en|any] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.librivox import concatenated  # noqa: E402
from talkavatar.audio.drive import drive_audio  # noqa: E402


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (ffmpeg, where it decodes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--language", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = concatenated(Path(tmp) / "speech.wav", args.seconds)
        drive_audio(wav, language=args.language)                     # warm-up (page cache, imports, model)
        load_before = os.getloadavg()[0]
        runs = []
        for _ in range(args.runs):
            cpu0 = _cpu_seconds()
            t = time.perf_counter()
            result = drive_audio(wav, style="lively", language=args.language)
            runs.append((time.perf_counter() - t, result.timings, _cpu_seconds() - cpu0, result.cpu_timings))
        wall, timings, cpu, cpu_timings = min(runs, key=lambda r: r[2])
        load_after = os.getloadavg()[0]
        t = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "talkavatar", "-q", "drive-audio", str(wav), "-o",
                              str(Path(tmp) / "out.motion.safetensors"), "--style", "lively",
                              "--language", args.language],
                             capture_output=True, text=True)
        cli_wall = time.perf_counter() - t
        if cli.returncode != 0:
            raise SystemExit(cli.stderr)
    report = {
        "language": args.language, "path": result.recogniser, "audio_seconds": args.seconds,
        "cpu_cores": len(os.sched_getaffinity(0)),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "stage_seconds": round(wall, 3), "stage_realtime_factor": round(args.seconds / wall, 1),
        "stage_cpu_seconds": round(cpu, 3), "cpu_realtime_factor": round(args.seconds / cpu, 1),
        "all_runs_cpu_seconds": [round(r[2], 3) for r in runs],
        "cli_process_seconds": round(cli_wall, 3), "cli_realtime_factor": round(args.seconds / cli_wall, 1),
        "breakdown_seconds": {k: round(v, 4) for k, v in timings.items()},
        "breakdown_cpu_seconds": {k: round(v, 4) for k, v in cpu_timings.items()},
        "all_runs_seconds": [round(r[0], 3) for r in runs],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"--language {args.language} ({result.recogniser}): {args.seconds:.0f} s of speech, "
          f"{report['cpu_cores']} cores (1-min load average before/after the runs: "
          f"{load_before:.1f} / {load_after:.1f})")
    print(f"stage: {wall:.3f} s wall = {report['stage_realtime_factor']}x real time "
          f"(runs: {report['all_runs_seconds']})")
    print(f"CPU time of that run: {cpu:.3f} s = {report['cpu_realtime_factor']}x real time (runs: "
          f"{report['all_runs_cpu_seconds']}); the acoustic scoring shares its blocks among the usable cores, the "
          f"rest runs on one")
    print(f"CLI process: {cli_wall:.2f} s = {report['cli_realtime_factor']}x real time")
    print("  step        wall s   CPU s   CPU %")
    for k, v in sorted(cpu_timings.items(), key=lambda kv: -kv[1]):
        print(f"  {k:10s} {timings[k]:7.3f} {v:7.3f}  {100 * v / cpu:5.1f} %")


if __name__ == "__main__":
    main()
