"""Peak host memory of ``talkavatar render --audio`` for a short and a long clip (issue 8: 10 min within 2x of 10 s).

Each length runs in a fresh child process: the real stage function (drive-audio on the fly, posing, rasterizing,
encoding an MP4 with the audio) on the tests' toy avatar at a small resolution, on the CPU. The child reports its
own peak resident set (``VmHWM`` of /proc/self/status, the high-water mark of this process image; Linux keeps
``ru_maxrss`` across fork+exec, so it would include the parent's; ffmpeg is a separate process, not counted). The audio
(speech-like bursts, tests/render_fixtures.py) and the bundle are made by the parent beforehand, so that the
child's peak is the render's.

Usage: python benchmarks/render_memory.py [--short 10] [--long 600] [--size 16x16] [--json FILE]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mib() -> float:
    """High-water resident set of this process image, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(work: Path, width: int, height: int, batch: int) -> None:
    import torch

    from talkavatar.render.config import RenderConfig
    from talkavatar.pipeline.speech import render_input as run_render

    torch.set_num_threads(1)
    baseline = peak_rss_mib()
    t0 = time.perf_counter()
    result = run_render(work / "toy.avatar", RenderConfig(width=width, height=height, batch=batch, format="mp4"),
                        audio=work / "speech.wav", output=work / "out.mp4", device="cpu", force=True,
                        log=lambda m: None, warn=lambda m: None)
    print(json.dumps({"seconds": result.seconds, "frames": result.frames, "wall_s": time.perf_counter() - t0,
                      "peak_rss_mib": peak_rss_mib(), "rss_before_render_mib": baseline,
                      "mp4_bytes": (work / "out.mp4").stat().st_size, "timings_s": result.timings}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=float, default=10.0)
    parser.add_argument("--long", type=float, default=600.0)
    parser.add_argument("--size", default="16x16")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    if args.child is not None:
        child(args.child, width, height, args.batch)
        return
    from tests.render_fixtures import speech_like_wav, toy_bundle

    rows = []
    for seconds in (args.short, args.long):
        work = Path(tempfile.mkdtemp(prefix="render_memory-"))
        toy_bundle(work / "toy.avatar", uv_res=8)
        speech_like_wav(work / "speech.wav", seconds)
        out = subprocess.run([sys.executable, __file__, "--child", str(work), "--size", args.size,
                              "--batch", str(args.batch)], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(f"child for {seconds} s failed:\n{out.stderr}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'clip':>8} {'frames':>7} {'wall s':>8} {'peak RSS MiB':>13} {'RSS before render':>18}")
    for r in rows:
        print(f"{r['seconds']:>7g}s {r['frames']:>7} {r['wall_s']:>8.1f} {r['peak_rss_mib']:>13.1f} "
              f"{r['rss_before_render_mib']:>18.1f}")
    ratio = rows[1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    print(f"peak RSS ratio long/short: {ratio:.3f} (target <= 2)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
