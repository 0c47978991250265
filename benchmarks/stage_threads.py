"""Track and pseudo of one photo with their CPU work (track's fit, pseudo's proxy fit and texture) on N torch
threads: does a many-core machine gain from them? Track runs that work on one thread (``core.threads.one_thread``),
pseudo on one thread below 4 and on all of the process's otherwise (``few_or_all_threads``); here each stage's block
is replaced by an N-thread block for the measurement. Runs in one process after one untimed run (model loads,
caches); prints each stage's timings and its figures (keypoint error, pseudo's input-view PSNR), which must not
move.

    python benchmarks/stage_threads.py PHOTO --workdir DIR [--threads 1,4,16] [--device cuda] [--oversubscribe]
        [--rounds 2]

Counts above the usable cores are skipped unless ``--oversubscribe`` (more threads than cores: what a pool sized
for a larger machine costs here); ``--rounds`` repeats the counts in turn (each count's rows interleaved with the
others', so a loaded machine's drift reaches all of them).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo", type=Path)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--threads", default="1,4,16")
    ap.add_argument("--device", default="auto", help="pseudo's device (track runs on the CPU, as in fit PHOTO)")
    ap.add_argument("--oversubscribe", action="store_true", help="also counts above the usable cores")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from talkavatar.core.threads import usable_cores
    from talkavatar.pseudo import stage as pseudo_stage
    from talkavatar.pseudo.config import PRESETS, PseudoConfig
    from talkavatar.track import stage as track_stage
    from talkavatar.track.config import TrackConfig

    def on_threads(n: int):
        @contextmanager
        def block():
            before = torch.get_num_threads()
            torch.set_num_threads(n)
            try:
                yield
            finally:
                torch.set_num_threads(before)
        return block

    bundle = args.workdir / f"{args.photo.stem}.avatar"
    quiet = lambda message: None  # noqa: E731

    def run(n: int) -> dict:
        track_stage.one_thread = pseudo_stage.few_or_all_threads = on_threads(n)
        with threadpool_limits(n):
            tracked = track_stage.run_track(args.photo, bundle, TrackConfig(), device="cpu", force=True,
                                            log=quiet, warn=quiet, photo_on_cpu=True)
            pseudo_stage.run_pseudo(bundle, PseudoConfig(**PRESETS["fast"]), device=args.device, force=True,
                                    progress=quiet, warn=quiet)
        stages = json.loads((bundle / "bundle.json").read_text())["stages"]
        return {"track": stages["track"]["timings"], "pseudo": stages["pseudo"]["timings"],
                "keypoints": tracked.metrics.get("keypoint_error_pct") if hasattr(tracked, "metrics") else
                tracked.as_dict().get("keypoint_error_pct"),
                "psnr": stages["pseudo"]["metrics"]["psnr_input_view_db"]}

    counts = [n for n in (int(x) for x in args.threads.split(",")) if args.oversubscribe or n <= usable_cores()]
    run(counts[0])  # untimed: model loads, caches
    print(f"{args.photo.stem}: {usable_cores()} usable cores, pseudo on {args.device}")
    print("| threads | track fit s | track total s | proxy s | texture s | pseudo total s | keypoint error % | "
          "pseudo input PSNR dB |\n|---|---|---|---|---|---|---|---|")
    for n in counts * args.rounds:
        r = run(n)
        t, p = r["track"], r["pseudo"]
        print(f"| {n} | {t.get('fit', 0):.2f} | {sum(t.values()):.2f} | {p.get('proxy', 0):.2f} | "
              f"{p.get('texture', 0):.2f} | {sum(p.values()):.2f} | {r['keypoints']} | {r['psnr']} |", flush=True)


if __name__ == "__main__":
    main()
