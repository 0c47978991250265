"""Benchmark `talkavatar track` on skimage's astronaut photo: figures, timings, and the overlay path.

Run: ANNY_CACHE_DIR=/work/anny-cache python benchmarks/track_astronaut.py [--runs 2] [--device cpu]
The first run warms caches (MediaPipe graph, Anny model data); the figures are from the last run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image
from skimage import data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="track-bench-"))
    photo = work / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    result = None
    for run in range(args.runs):
        bundle = work / f"run{run}.avatar"
        cmd = [sys.executable, "-m", "talkavatar", "track", str(photo), "-o", str(bundle), "--json",
               "--device", args.device]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
        result = json.loads(proc.stdout)
        print(f"run {run}: {result['seconds']:.2f} s", file=sys.stderr)
    manifest = json.loads((Path(result["bundle"]) / "bundle.json").read_text())
    timings = manifest["stages"]["track"]["timings"]
    print(json.dumps({"device": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                      "keypoint_error_pct": result["keypoint_error_pct"], "mask_iou": result["mask_iou"],
                      "seconds": result["seconds"], "timings": timings,
                      "overlay": str(Path(result["bundle"]) / "track" / "overlay.png")}, indent=2))


if __name__ == "__main__":
    main()
