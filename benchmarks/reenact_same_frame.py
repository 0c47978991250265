"""Does eval's tracking place a frame where the photo's track placed it? The avatar on its own photo frame.

    ANNY_CACHE_DIR=... python benchmarks/reenact_same_frame.py BUNDLE CLIP FRAME [--size 320] [--steps 160]
        [--sheet OUT.png] [--before]

BUNDLE: an avatar made from frame FRAME of the video CLIP (``talkavatar track FRAME.png``, pseudo, fit). The avatar
is rendered three ways and scored per region as ``talkavatar eval --video`` scores (:mod:`talkavatar.eval.regions`,
hard person mask, at ``--size`` px): with the photo track's own parameters (the fit's input view: the ceiling), and
with eval's tracking of that frame (:func:`talkavatar.track.fixed_shape.track_with_rig`, ``--steps``) at the default
focal length and at the photo's. ``--before``: eval's tracking without the close-up handling it shares with
``track`` (``closeup_targets`` turned off: what main did before). Prints one table; ``--sheet`` writes the frame and
the three renders side by side.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import torch
    from PIL import Image

    from talkavatar.bundle.artifacts import read_track_params
    from talkavatar.bundle.store import Bundle
    from talkavatar.core.avatar import read_avatar
    from talkavatar.eval.expression import face_mesh_points
    from talkavatar.eval.frames import fit_size, resized
    from talkavatar.eval.regions import region_scores
    from talkavatar.pipeline.evaluate import load_video, photo_focal
    from talkavatar.render.stage import render_frames
    from talkavatar.track.stage import detect_all

    fixed_shape = importlib.import_module("talkavatar.track.fixed_shape")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("clip", type=Path)
    ap.add_argument("frame", type=int)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--steps", type=int, default=160)
    ap.add_argument("--sheet", type=Path, default=None)
    ap.add_argument("--before", action="store_true")
    args = ap.parse_args()
    if args.before:
        fixed_shape.closeup_targets = lambda *_: False
    bundle = Bundle.open(args.bundle)
    avatar, params = read_avatar(bundle, "benchmark"), read_track_params(bundle)
    footage = load_video(args.clip, 1280, 1, args.frame, 1)
    detections = detect_all(footage, 1, lambda _: None)
    size = fit_size(*footage.work_size, args.size)
    frames = np.stack(footage.frames)
    faces = face_mesh_points(list((resized(frames, size).numpy() * 255).round().astype(np.uint8)))
    t = params.photo_frame
    masks = np.stack(fixed_shape.track_with_rig(avatar.rig, footage, detections, steps=1).masks)
    ways = {"photo track's parameters": render_frames(
        avatar, *(torch.from_numpy(a[t:t + 1]) for a in (params.joint_rotations, params.root_translation,
                                                          params.arkit_weights)),
        torch.from_numpy(params.world_to_camera[t]), torch.from_numpy(params.intrinsics[t]), params.image_size, size,
        "cpu")}
    for name, focal in (("eval track, default focal", None), ("eval track, photo focal", photo_focal(bundle, footage))):
        track = fixed_shape.track_with_rig(avatar.rig, footage, detections, steps=args.steps, focal=focal)
        ways[name] = render_frames(avatar, track.joint_rotations, track.root_translation, track.arkit_weights,
                                   torch.from_numpy(track.world_to_camera), torch.from_numpy(track.K),
                                   footage.work_size, size, "cpu")
    print(f"{args.bundle} on frame {args.frame} of {args.clip.name}, {size[0]}x{size[1]}, eval tracking "
          f"{'without' if args.before else 'with'} the close-up handling, {args.steps} steps; PSNR dB")
    print("| rendered with | person | face | mouth | body | whole matted frame |")
    print("|---|---|---|---|---|---|")
    for name, render in ways.items():
        s = {k: float(v["psnr"][0]) for k, v in region_scores(render, frames, masks, faces, size, "cpu").items()}
        print(f"| {name} | {s['person']:.2f} | {s['face']:.2f} | {s['mouth']:.2f} | {s['body']:.2f} | "
              f"{s['frame']:.2f} |")
    if args.sheet is not None:
        reference = (resized(frames, size).numpy()[0] * 255).round().astype(np.uint8)
        Image.fromarray(np.concatenate([reference, *(r[0] for r in ways.values())], 1)).save(args.sheet)


if __name__ == "__main__":
    main()
