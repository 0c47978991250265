"""Self-reenactment on CPU: a known avatar replays a video of itself.

    ANNY_CACHE_DIR=/work/anny-cache python benchmarks/eval_reenact.py OUT_DIR [--frames 6] [--uv 128]
        [--size 240x320] [--steps 240] [--video REF.mp4]

Without ``--video`` the reference is generated: the painted default Anny avatar (tests/eval_fixtures.py) raising
its right arm and turning its head, rendered through track's default camera with render's frame producer and
video sink. The evaluation is exactly ``talkavatar eval -b OUT_DIR/known.avatar --video REF --report
OUT_DIR/report-reenact`` (MediaPipe, tracking with the shape held to the bundle's rig, render, masked metrics).
With ``--video`` any reference video is used instead (a real person then looks nothing like this avatar: the run
shows the pipeline working, not quality).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--uv", type=int, default=128)
    parser.add_argument("--size", default="240x320", help="reference video WIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=240, help="tracking steps (eval --track-steps)")
    parser.add_argument("--video", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(2)
    from talkavatar.eval.config import EvalConfig
    from talkavatar.track.config import TrackConfig
    from talkavatar.pipeline.evaluate import self_reenactment
    from talkavatar.eval.report import json_ready, write_reenactment_report
    from tests.eval_fixtures import anny_rig, avatar_bundle, shaded_avatar, track_camera, waving_motion, write_video

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    avatar = shaded_avatar(anny_rig(), args.uv)
    bundle = out / "known.avatar"
    if not bundle.exists():
        avatar_bundle(bundle, avatar)
    video = args.video
    if video is None:
        video = write_video(avatar, waving_motion(args.frames, 10.0), out / "reference.mp4", width, height,
                            *track_camera(width, height))
    t = time.perf_counter()
    config = EvalConfig(track=TrackConfig(max_frames=args.frames, steps=args.steps), size=max(width, height))
    result = self_reenactment(bundle, video, config, device="cpu", log=lambda m: None)
    seconds = time.perf_counter() - t
    paths = write_reenactment_report(result, out / "report-reenact")
    summary = result.summary()
    (out / "reenact.json").write_text(json_ready(summary))
    print(json_ready(summary))
    print(f"\n| self-reenactment ({summary['frames']} frames, {summary['size'][0]}x{summary['size'][1]}, inside the "
          f"mask) | value |\n|---|---|")
    for key in ("psnr_db", "ssim", "l1", "perceptual"):
        print(f"| {key}{' (' + summary['perceptual_kind'] + ')' if key == 'perceptual' else ''} | "
              f"{summary[key]:.4f} |")
    for part, value in summary["track_error_pct_of_height"].items():
        print(f"| tracking error {part} (% of body height) | {'-' if value is None else f'{value:.2f}'} |")
    print(f"\nwall time {seconds:.1f} s; phases {json.dumps(summary['timings_s'])}; report: {[str(p) for p in paths]}")


if __name__ == "__main__":
    main()
