"""What ``render --camera auto`` frames for each photo, from its track alone (no fit: cheap enough for the CPU):

    python benchmarks/auto_framing.py DIR --work WORK [--photos a,b] [--audio DIR/speech_a.wav]

DIR: the folder ``benchmarks/presentable_video.py --prepare`` made. Per photo: ``talkavatar track`` (reused when
WORK/NAME.avatar exists), the motion of ``drive-audio`` on the speech (reused too), then the framing exactly as the
render stage plans it (:func:`talkavatar.render.stage.tracked_view`, :mod:`talkavatar.render.framing`). Prints a
markdown table: the parts the detector hid, the share of each part's vertices shown, the box framed (metres), the
frame size and the camera's distance.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def framing_row(bundle_path: Path, motion_path: Path) -> dict:
    import numpy as np
    import torch

    from talkavatar.bundle import Bundle, artifacts
    from talkavatar.core.body.parts import PARTS, vertex_parts
    from talkavatar.core.body.rig import Rig
    from talkavatar.motion.file import load_motion
    from talkavatar.render.framing import frame_size, front_distance, plan_shot, shown_vertices, tracked_pose
    from talkavatar.render.stage import tracked_view
    from talkavatar.render.timeline import Timeline

    bundle = Bundle.open(bundle_path)
    rig = Rig.from_tensors(*artifacts.read_rig(bundle))
    jr, rt, aw, camera, hidden = tracked_view(bundle)
    shown = shown_vertices(rig, tracked_pose(rig, jr, rt, aw), camera, hidden)
    parts = vertex_parts(rig)
    timeline = Timeline.of(load_motion(motion_path), 30.0)
    shot = plan_shot(rig, shown, timeline.poses, timeline.frames, timeline.fps)
    width, height = frame_size(shot.half_size)
    return {"hidden": [PARTS[p] for p in hidden],
            "shown": " ".join(f"{PARTS[p]} {float(shown[torch.from_numpy(parts == p)].double().mean()):.2f}"
                              for p in range(len(PARTS))),
            "box_m": "x".join(f"{2 * float(v):.2f}" for v in shot.half_size[:2]), "size": f"{width}x{height}",
            "distance_m": round(front_distance(shot.half_size, width, height), 2),
            "photo": f"{camera.width}x{camera.height}", "vertices_shown": round(float(np.mean(shown.numpy())), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/auto_framing"))
    parser.add_argument("--photos", default=None, help="comma-separated names (default: all)")
    parser.add_argument("--audio", type=Path, default=None, help="speech (default: DATA/speech_a.wav)")
    args = parser.parse_args()
    listing = json.loads((args.data / "photos.json").read_text())["photos"]
    if args.photos:
        listing = [e for e in listing if e["name"] in args.photos.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    motion = args.work / "speech.motion.safetensors"
    run = [sys.executable, "-m", "talkavatar"]
    if not motion.exists():
        subprocess.run(run + ["drive-audio", str(args.audio or args.data / "speech_a.wav"), "-o", str(motion)],
                       check=True, capture_output=True)
    columns = ("name", "kind", "photo", "hidden", "vertices_shown", "box_m", "size", "distance_m", "shown")
    print("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for entry in listing:
        bundle = args.work / f"{entry['name']}.avatar"
        if not (bundle / "track").exists():
            subprocess.run(run + ["track", str(args.data / entry["file"]), "-o", str(bundle), "--force", "--device",
                                  "cpu"], check=True, capture_output=True)
        row = {**entry, **framing_row(bundle, motion)}
        print("| " + " | ".join(str(row[c]) for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
