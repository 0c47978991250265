"""`talkavatar track` of two source trees on the real photos, interleaved: wall and CPU seconds, and whether the
figures of benchmarks/track_photos.py agree.

On a machine other processes load, times of separate runs do not compare; this runs the two trees photo by photo,
alternating which goes first, so both see the same load, and gives per-photo ratios (B / A). Each run is a fresh
process (:func:`benchmarks.track_photos.track`); its figures are scored against the hand marks.

    git archive main talkavatar | tar -x -C /tmp/main     # tree A: a snapshot of main
    python benchmarks/track_ab.py .photos /tmp/main . [--rounds 2] [--only a.png,b.jpg] [--json FILE]
    python benchmarks/track_ab.py .photos /tmp/main . --fit-only [--repeats 2] ...

Per photo: the median over the rounds of each tree's process wall, CPU (user + sys) and its fit's seconds
(``bundle.json``'s track timings), their ratios B / A, and each tree's body % / face % / mask IoU with the largest
difference of any joint rotation between the two fits (radians) and of any fitted marked point (% of height).

``--fit-only``: the CPU seconds (the process's clock, so other processes' load counts little) of the fit alone
(``fit_footage``, on one torch thread as track runs it), in a fresh process per tree and round that detects once
and fits ``--repeats`` times (the least is kept); no figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.track_photos import MARKS, score, track  # noqa: E402


def _rotations(bundle: Path) -> np.ndarray:
    from safetensors.numpy import load_file

    return load_file(str(bundle / "track" / "params.safetensors"))["joint_rotations"]


FIT_CPU = """
import sys, time
import torch
from talkavatar.core.body.anny import anny_body
from talkavatar.core.threads import one_thread
from talkavatar.track.config import TrackConfig
from talkavatar.track.fit_frames import fit_footage
from talkavatar.track.footage import load_footage
from talkavatar.track.stage import detect_all

config, quiet = TrackConfig(), lambda line: None
footage = load_footage(sys.argv[1], config.detect_size, config.stride, config.max_frames)
detections, body = detect_all(footage, config.model_complexity, quiet), anny_body("cpu")
with one_thread():
    for _ in range(int(sys.argv[2])):
        started = time.process_time()
        fit_footage(body, footage, detections, config, torch.device("cpu"), quiet, {})
        print(time.process_time() - started)
"""
"""A child's script: ``python -c FIT_CPU PHOTO REPEATS`` prints the CPU seconds of each fit of PHOTO."""


def fit_cpu(photo: Path, tree: Path, repeats: int) -> float:
    """The least CPU seconds of ``repeats`` fits of ``photo`` by the talkavatar of ``tree`` (:data:`FIT_CPU`)."""
    run = subprocess.run([sys.executable, "-c", FIT_CPU, str(photo.resolve()), str(repeats)], capture_output=True,
                         text=True, cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), check=True)
    return min(float(line) for line in run.stdout.split())


def fit_only(names: list[str], folder: Path, trees: dict[str, Path], rounds: int, repeats: int) -> dict:
    """{photo: {tree: [CPU seconds of its fit per round]}}, the trees' order alternating by round; prints a table."""
    rows = {}
    print("| photo | fit CPU A s | fit CPU B s | B/A |\n|---|---|---|---|")
    for name in names:
        rows[name] = {k: [] for k in trees}
        for r in range(rounds):
            for k in (("A", "B") if r % 2 == 0 else ("B", "A")):
                rows[name][k].append(fit_cpu(folder / name, trees[k], repeats))
        a, b = (min(rows[name][k]) for k in ("A", "B"))
        print(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.3f} |", flush=True)
    ratios = [min(r["B"]) / min(r["A"]) for r in rows.values()]
    print(f"geometric mean B/A: {float(np.exp(np.mean(np.log(ratios)))):.3f} over {len(ratios)} photos")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("tree_a", type=Path, help="source tree A (holds talkavatar/)")
    parser.add_argument("tree_b", type=Path, help="source tree B")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated photo names")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fit-only", action="store_true", help="time the fit alone, on the CPU clock")
    parser.add_argument("--repeats", type=int, default=2, help="--fit-only: fits per process")
    args = parser.parse_args()
    doc = json.loads(MARKS.read_text())
    names = [n for n in doc["photos"] if not args.only or n in args.only.split(",")]
    if args.fit_only:
        rows = fit_only(names, args.folder, {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}, args.rounds,
                        args.repeats)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
        return
    work = Path(tempfile.mkdtemp(prefix="track-ab-"))
    trees = {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}
    rows = {}
    print("| photo | wall A / B s | B/A | cpu A / B s | B/A | fit A / B s | B/A | body % A / B | face % A / B "
          "| IoU A / B | max d rot rad | max d point % |\n" + "|---" * 12 + "|")
    for name in names:
        runs = {k: [] for k in trees}
        for r in range(args.rounds):
            for k in (("A", "B") if r % 2 == 0 else ("B", "A")):
                (work / k).mkdir(exist_ok=True)
                result = track(args.folder / name, work / k, args.device, [], trees[k])
                if result["exit"] == 0:
                    stages = json.loads((Path(result["bundle"]) / "bundle.json").read_text())["stages"]
                    result["fit_s"] = stages["track"]["timings"]["fit"]
                runs[k].append(result)
        if any(r["exit"] != 0 for rs in runs.values() for r in rs):
            print(f"| {name} | failed: {[r.get('error') for rs in runs.values() for r in rs]} |", flush=True)
            continue
        info = doc["photos"][name]
        figures = {k: score(Path(runs[k][-1]["bundle"]), info["points"], doc) if info["points"] else {} for k in trees}
        med = {k: {f: statistics.median(r[f] for r in runs[k]) for f in ("wall_s", "cpu_s", "fit_s")} for k in trees}
        d_rot = float(np.abs(_rotations(Path(runs["A"][-1]["bundle"]))
                             - _rotations(Path(runs["B"][-1]["bundle"]))).max())
        marked = figures["A"].get("per_point_pct", {})
        d_point = max((abs(marked[n] - figures["B"]["per_point_pct"][n]) for n in marked), default=0.0)
        rows[name] = {"median": med, "figures": {k: {f: figures[k].get(f) for f in ("body_pct", "face_pct")}
                                                 | {"mask_iou": runs[k][-1]["mask_iou"]} for k in trees},
                      "runs": {k: [{f: r[f] for f in ("wall_s", "cpu_s", "fit_s")} for r in runs[k]] for k in trees},
                      "max_rotation_difference": d_rot, "max_point_difference_pct": d_point}
        cells = [f"{med['A'][f]:.1f} / {med['B'][f]:.1f} | {med['B'][f] / med['A'][f]:.2f}"
                 for f in ("wall_s", "cpu_s", "fit_s")]
        fig = [f"{figures['A'].get(f, '-')} / {figures['B'].get(f, '-')}" for f in ("body_pct", "face_pct")]
        print(f"| {name} | {' | '.join(cells)} | {' | '.join(fig)} | {runs['A'][-1]['mask_iou']} / "
              f"{runs['B'][-1]['mask_iou']} | {d_rot:.2g} | {d_point:.2f} |", flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1))
    if rows:
        for f in ("wall_s", "cpu_s", "fit_s"):
            ratios = [r["median"]["B"][f] / r["median"]["A"][f] for r in rows.values()]
            print(f"geometric mean B/A of {f}: {float(np.exp(np.mean(np.log(ratios)))):.3f} over {len(ratios)} photos")


if __name__ == "__main__":
    main()
