"""Track a photo on CUDA with the fit's steps replayed from CUDA graphs, against track on the CPU (issue 23): per
photo, the track stage's wall seconds and its phases (``bundle.json`` timings), how the fit's steps ran, and issue
17's marks (body % / face % of the person's height, :func:`benchmarks.track_photos.score`), in one process, the
variants interleaved (their order turned by one each photo and round).

    python benchmarks/track_graphs.py PHOTO_DIR [--photos astronaut,camera,grace_hopper,messi5,single_face] \
        [--variants cpu,graphed,eager] [--eager-photos astronaut] [--rounds 1] [--workdir DIR] [--json FILE]

Variants: ``cpu``: ``run_track(..., photo_on_cpu=True)`` (how ``fit PHOTO`` tracked before); ``graphed``: on CUDA,
each stage's steps replayed from one CUDA graph (``talkavatar.track.fitting.GRAPHED_STEPS``); ``eager``: on CUDA op
by op (``GRAPHED_STEPS = False``: the same kernels), only on ``--eager-photos`` (it is the slow one). Before the
measured runs every variant tracks the first photo once (reported apart: the process's one-time costs, CUDA's
start, the body model's copy to the GPU).

The photos are found in PHOTO_DIR by name (``NAME.png`` or as given); their marks in benchmarks/data/
track_photos.json by :data:`MARKED_AS` (the lead's device folder .device-cache/photos16 holds PNGs whose pixels are
those of issue 17's files: checked, identical decoded pixels). Also per photo: the largest joint-rotation and
root difference of each variant's fit from the CPU's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.track_photos import MARKS, score  # noqa: E402

MARKED_AS = {"astronaut": "astronaut.png", "camera": "camera.png", "grace_hopper": "hopper.jpg", "messi5": "kick.jpg",
             "single_face": "selfie.jpg"}
"""photos16 name -> issue 17's photo (benchmarks/data/track_photos.json) with the same pixels; other names are
looked up as they are."""
PHASES = ("detect", "mask", "load_model", "shape_space", "fit", "bake")
PARTS = {"initial": ("talkavatar.track.fit_frames", "initial_state"), "steps": ("talkavatar.track.fitting", "_fit"),
         "refit": ("talkavatar.track.fitting", "with_refitted_expression")}
"""The fit's parts timed (the device synchronised at each end): the initial state, the Adam steps, the expression
refit."""
_parts: dict[str, float] = {}


def time_parts() -> None:
    """Wrap :data:`PARTS` so that each call adds its seconds to ``_parts``."""
    import importlib

    import torch

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                _parts[name] = _parts.get(name, 0.0) + time.perf_counter() - started
        return wrapper

    for name, (module, attr) in PARTS.items():
        mod = importlib.import_module(module)
        setattr(mod, attr, timed(name, getattr(mod, attr)))


def photo_path(folder: Path, name: str) -> Path:
    found = [p for p in (folder / name, folder / f"{name}.png", folder / f"{name}.jpg") if p.is_file()]
    if not found:
        raise SystemExit(f"{folder}: no photo {name}")
    return found[0]


def track_once(photo: Path, bundle: Path, variant: str) -> dict:
    """``run_track`` of ``photo`` into ``bundle`` under ``variant`` -> wall s, phases, the fit's log line."""
    import torch

    from talkavatar.track import fitting
    from talkavatar.track.config import TrackConfig
    from talkavatar.track.stage import run_track

    lines: list[str] = []
    _parts.clear()
    fitting.GRAPHED_STEPS = variant != "eager"
    started = time.perf_counter()
    try:
        run_track(photo, bundle, TrackConfig(), device="cpu" if variant == "cpu" else "cuda", force=True,
                  log=lines.append, warn=lines.append, photo_on_cpu=variant == "cpu")
        if torch.cuda.is_available():
            torch.cuda.synchronize()
    finally:
        fitting.GRAPHED_STEPS = True
    wall = time.perf_counter() - started
    timings = json.loads((bundle / "bundle.json").read_text())["stages"]["track"].get("timings", {})
    steps = next((line.split(": ", 1)[1] for line in lines if line.startswith("fit steps on CUDA")), "cpu")
    return {"wall_s": round(wall, 2), **{k: round(timings.get(k, float("nan")), 2) for k in PHASES},
            **{f"fit_{k}": round(_parts.get(k, float("nan")), 3) for k in PARTS},
            "steps": steps}


def fitted(bundle: Path) -> tuple[np.ndarray, np.ndarray]:
    from safetensors.numpy import load_file

    params = load_file(str(bundle / "track" / "params.safetensors"))
    return params["joint_rotations"], params["root_translation"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo_dir", type=Path)
    ap.add_argument("--photos", default="astronaut,camera,grace_hopper,messi5,single_face")
    ap.add_argument("--variants", default="cpu,graphed,eager")
    ap.add_argument("--eager-photos", default="astronaut")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/track-graphs"))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import warnings

    warnings.simplefilter("ignore")  # deterministic-mode notes; a failed capture is in the fit's log line (steps)
    doc = json.loads(MARKS.read_text())
    photos, variants = args.photos.split(","), args.variants.split(",")
    args.workdir.mkdir(parents=True, exist_ok=True)
    time_parts()

    def run(photo: str, variant: str, tag: str = "") -> dict:
        bundle = args.workdir / f"{photo}_{variant}{tag}.avatar"
        try:
            r = {"photo": photo, "variant": variant, **track_once(photo_path(args.photo_dir, photo), bundle, variant)}
        except Exception as exc:  # one variant's failure (with its traceback on stderr) leaves the others' figures
            traceback.print_exc()
            print(f"{photo} {variant}{tag}: failed: {exc!r}", file=sys.stderr, flush=True)
            return {"photo": photo, "variant": variant, "error": repr(exc)[:300]}
        info = doc["photos"].get(MARKED_AS.get(photo, photo))
        if info and info["points"]:
            figures = score(bundle, info["points"], doc)
            r.update(body_pct=figures["body_pct"], face_pct=figures["face_pct"])
        own = json.loads((bundle / "bundle.json").read_text())["stages"]["track"].get("metrics", {})
        r.update(own=own.get("keypoint_error_pct", {}), iou=own.get("mask_iou"), bundle=str(bundle))
        print(f"{photo} {variant}{tag}: {r['wall_s']} s, fit {r['fit']} s, {r['steps']}", file=sys.stderr, flush=True)
        return r

    first = [run(photos[0], v, "_first") for v in variants]
    results: list[dict] = []
    for k in range(args.rounds):
        for i, photo in enumerate(photos):
            for j in range(len(variants)):
                variant = variants[(i + j + k) % len(variants)]
                if variant != "eager" or photo in args.eager_photos.split(","):
                    results.append(run(photo, variant))
    rows = [*({**r, "photo": f"{r['photo']} (first: one-time costs)"} for r in first), *results]
    print("\n| photo | variant | track s | detect / mask / load model / shape space / fit / bake s "
          "| fit: initial / steps / refit s | fit steps "
          "| body % (marks) | face % (marks) | own body / face % | mask IoU | max d rot rad / root mm vs cpu |\n"
          + "|---" * 11 + "|")
    reference = {r["photo"]: fitted(Path(r["bundle"])) for r in results if r["variant"] == "cpu" and "error" not in r}
    for r in rows:
        if "error" in r:
            print(f"| {r['photo']} | {r['variant']} | failed: {r['error']} |")
            continue
        ref = reference.get(r["photo"])
        diff = "-"
        if ref is not None and r["variant"] != "cpu":
            rot, root = fitted(Path(r["bundle"]))
            diff = f"{np.abs(rot - ref[0]).max():.3f} / {np.linalg.norm(root - ref[1], axis=-1).max() * 1000:.1f}"
        phases = " / ".join(f"{r[k]}" for k in PHASES)
        own = r.get("own", {})
        parts = " / ".join(f"{r['fit_' + k]}" for k in PARTS)
        print(f"| {r['photo']} | {r['variant']} | {r['wall_s']} | {phases} | {parts} | {r['steps']} "
              f"| {r.get('body_pct', '-')} "
              f"| {r.get('face_pct', '-')} | {own.get('body', '-')} / {own.get('face', '-')} | {r.get('iou', '-')} "
              f"| {diff} |")
    print()
    results = [r for r in results if "error" not in r]
    for variant in variants:
        runs = [r for r in results if r["variant"] == variant]
        if runs:
            print(f"{variant}: median track {statistics.median(r['wall_s'] for r in runs):.2f} s, median fit "
                  f"{statistics.median(r['fit'] for r in runs):.2f} s over {len(runs)} runs")
    cpu = {r["photo"]: r for r in results if r["variant"] == "cpu"}
    ratios = [r["wall_s"] / cpu[r["photo"]]["wall_s"] for r in results
              if r["variant"] == "graphed" and r["photo"] in cpu]
    if ratios:
        print(f"graphed / cpu track seconds: geometric mean {float(np.exp(np.mean(np.log(ratios)))):.3f} "
              f"over {len(ratios)} runs")
    if args.json:
        args.json.write_text(json.dumps({"first": first, "runs": results}, indent=1, default=str))


if __name__ == "__main__":
    main()
