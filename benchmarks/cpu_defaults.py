"""What the defaults cost on the machine at hand (issue 18): render seconds per second of speech at the device's
default size against 1080x1920, through the public API's ``render`` (drive-audio, posing, rasterizing, encoding).

    python benchmarks/cpu_defaults.py BUNDLE [--seconds 2] [--device cpu]

Prints one row per size: resolution, batch, frames, wall seconds, seconds of wall time per second of video.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.core.device import resolve_device  # noqa: E402
from talkavatar.render.config import RenderConfig  # noqa: E402
from talkavatar.api import render  # noqa: E402
from talkavatar.samples import SAMPLE_SPEECH  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds of the sample speech to render")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = resolve_device(args.device)
    sizes = [RenderConfig(camera="input", duration=args.seconds),
             RenderConfig(camera="input", duration=args.seconds, width=1080, height=1920)]
    print(f"device {device}; {args.seconds:g} s of {SAMPLE_SPEECH.name}")
    print("| size | batch | frames | wall s | wall s per video s |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for i, config in enumerate(sizes):
            t0 = time.perf_counter()
            result = render(args.bundle, audio=SAMPLE_SPEECH, output=Path(work) / f"{i}.mp4", settings=config,
                            device=str(device), log=lambda m: None, warn=lambda m: None)
            wall = time.perf_counter() - t0
            print(f"| {result.width}x{result.height}{' (default)' if i == 0 else ''} | "
                  f"{config.batch or config.sized(device.type).batch} | {result.frames} | {wall:.1f} | "
                  f"{wall / max(result.seconds, 1e-9):.1f} |", flush=True)


if __name__ == "__main__":
    main()
