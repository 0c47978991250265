"""The demo's independent face check (tests/test_demo.py: MediaPipe FaceMesh on demo.mp4, guard 95 % of frames)
over several fit seeds, the tracking and pseudo-labels kept.

The tiny preset's face is ~38 px tall in the 256-px demo video, at the edge of what FaceMesh finds; whether a given
fit passes depends on the fit's random seed as much as on anything upstream. This script tells a change that moves
the check (its mean over seeds) from one that only reshuffles which seed passes.

Run:   talkavatar demo --preset tiny --device cpu -o DEMO          (track, pseudo, fit with seed 0, demo.mp4)
       python benchmarks/demo_face_seeds.py DEMO --seeds 0,1,2,3,4 --work DIR
Prints one row per seed (face found in % of frames, median face height / frame height) and the mean, last.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def face_check(video: Path) -> tuple[float, float]:
    """(% of frames with a face, median face height / frame height) of ``video``, as tests/test_demo.py checks."""
    from benchmarks.presentable_video import face_track, read_video

    frames, _ = read_video(video)
    found, height, _, _ = face_track(frames)
    return 100 * float(found.mean()), float(np.nanmedian(height)) if found.any() else float("nan")


def refit_and_render(demo: Path, out: Path, seed: int) -> Path:
    """``demo``'s bundle copied to ``out``, fitted again with ``seed`` (tiny preset, CPU; track and pseudo kept) and
    rendered as the demo renders it; returns the video."""
    from talkavatar.fit.config import FitConfig
    from talkavatar.pipeline.demo import VIDEO
    from talkavatar.pipeline.photo import fit_input
    from talkavatar.pipeline.speech import render_input
    from talkavatar.render.config import RenderConfig
    from talkavatar.samples import SAMPLE_PHOTO, SAMPLE_SPEECH, SAMPLE_TRANSCRIPT

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    bundle = out / "astronaut.avatar"
    if not bundle.exists():
        shutil.copytree(demo / "astronaut.avatar", bundle)
    fit_input(SAMPLE_PHOTO, bundle, FitConfig(preset="tiny", seed=seed), device="cpu", log=log)
    video = out / "demo.mp4"
    render_input(bundle, RenderConfig(camera="auto", **VIDEO["tiny"]), audio=SAMPLE_SPEECH, output=video,
                 transcript=SAMPLE_TRANSCRIPT.read_text().strip(), device="cpu", log=log)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo", type=Path, help="a `talkavatar demo --preset tiny` output folder")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated fit seeds (0: the demo's own video)")
    parser.add_argument("--work", type=Path, default=Path("demo_face_seeds"))
    args = parser.parse_args()
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        video = args.demo / "demo.mp4" if seed == 0 else refit_and_render(args.demo, args.work / f"seed{seed}", seed)
        found, height = face_check(video)
        rows.append((seed, found, height))
        print(f"seed {seed}: face in {found:.1f} % of frames, median height {height:.3f}", file=sys.stderr)
    print("| fit seed | face found, % of frames | median face height / frame |\n|---|---|---|")
    for seed, found, height in rows:
        print(f"| {seed} | {found:.1f} | {height:.3f} |")
    found = np.array([r[1] for r in rows])
    print(f"| mean | {found.mean():.1f} ({(found >= 95).sum()} of {len(found)} seeds >= 95 %) | |")


if __name__ == "__main__":
    main()
