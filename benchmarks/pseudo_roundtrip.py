"""Export -> import round trip of the pseudo stage (issue 5): do re-tracked poses match the driving poses?

1. ``talkavatar pseudo --export-poses DIR`` on a tracked bundle writes the driving poses (skeleton frames + MP4)
   and renders the reproject frames of those exact poses (near-frontal views here: ``--side-views 0``).
2. The rendered frames, composited over grey and encoded as an MP4, stand in for what an external pose-guided
   generator would return for those skeletons.
3. ``talkavatar pseudo --import-video`` re-tracks that video with the bundle's shape fixed (MediaPipe + the track
   stage's fitting) and stores the poses with origin 1.
4. Errors (the pelvis, i.e. the global orientation, is left out: the orbit cameras differ from the tracking camera
   by design): the geodesic angle between re-tracked and driving local rotations per joint group (this includes
   twists about the bone, e.g. forearm pronation, that keypoints barely constrain), and the angle between bone
   directions (upper arm, forearm, hand, neck-to-head) in the body frame from forward kinematics on the canonical
   skeleton (the part a 2D skeleton shows).

Usage: ``ANNY_CACHE_DIR=... python benchmarks/pseudo_roundtrip.py BUNDLE [--frames 24]`` (works on a copy).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GROUPS = {
    "spine": ["spine1", "spine2", "spine3"], "neck_head": ["neck", "head"],
    "collars": ["left_collar", "right_collar"], "shoulders": ["left_shoulder", "right_shoulder"],
    "elbows": ["left_elbow", "right_elbow"], "wrists": ["left_wrist", "right_wrist"],
}


def geodesic_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from talkavatar.motion.rotations import axis_angle_to_matrix

    r = np.swapaxes(axis_angle_to_matrix(a), -1, -2) @ axis_angle_to_matrix(b)
    cos = np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1, 1)
    return np.degrees(np.arccos(cos))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    from PIL import Image

    from talkavatar.bundle import Bundle
    from talkavatar.motion.names import JOINT_INDEX
    from talkavatar.pseudo.config import PseudoConfig
    from talkavatar.pseudo.export import write_mp4
    from talkavatar.pipeline.photo import pseudo_input

    work = args.work or Path(tempfile.mkdtemp(prefix="pseudo-roundtrip-"))
    bundle = work / "roundtrip.avatar"
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(args.bundle, bundle)
    config = PseudoConfig(frames=args.frames, side_views=0.0)
    t0 = time.perf_counter()
    pseudo_input(bundle, config, export_poses=work / "export", log=lambda m: None)
    b = Bundle.open(bundle)
    driving, _ = b.read_tensors("pseudo/params.safetensors", "talkavatar.pseudo")
    frames = []
    for i in range(args.frames):
        f = np.asarray(Image.open(bundle / f"pseudo/frames/{i:05d}.png")).astype(np.float32)
        a = f[..., 3:] / 255
        frames.append((f[..., :3] * a + 128 * (1 - a)).astype(np.uint8))
    video = work / "generated.mp4"
    write_mp4(video, frames)
    t1 = time.perf_counter()
    pseudo_input(bundle, PseudoConfig(frames=0, side_views=0.0), import_videos=[video], force=True,
                 log=lambda m: None)
    t2 = time.perf_counter()
    b = Bundle.open(bundle)
    back, _ = b.read_tensors("pseudo/params.safetensors", "talkavatar.pseudo")
    assert (back["origin"] == 1).all()
    retracked = back["joint_rotations"]
    count = len(retracked)
    result = {"frames_driven": args.frames, "frames_retracked": int(count),
              "seconds": {"generate_and_export": round(t1 - t0, 1), "import_retrack": round(t2 - t1, 1)}}
    if count != args.frames:
        result["note"] = "some frames had no detection and were dropped; compared by order of the kept ones"
    errors = {}
    for group, names in GROUPS.items():
        idx = [JOINT_INDEX[n] for n in names]
        e = geodesic_degrees(driving["joint_rotations"][:count, idx].astype(np.float64),
                             retracked[:, idx].astype(np.float64))
        errors[group] = round(float(e.mean()), 2)
    all_idx = [JOINT_INDEX[n] for names in GROUPS.values() for n in names]
    e = geodesic_degrees(driving["joint_rotations"][:count, all_idx].astype(np.float64),
                         retracked[:, all_idx].astype(np.float64))
    result["mean_joint_angle_error_deg"] = errors
    from talkavatar.motion.skeleton import forward_kinematics

    def directions(rotations):
        r = rotations.astype(np.float64).copy()
        r[:, 0] = 0  # body frame
        pos = forward_kinematics(r)
        out = {}
        for side in ("left", "right"):
            for bone, (a, b) in {"upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"),
                                 "hand": ("wrist", "middle1")}.items():
                d = pos[:, JOINT_INDEX[f"{side}_{b}"]] - pos[:, JOINT_INDEX[f"{side}_{a}"]]
                out.setdefault(bone, []).append(d / np.linalg.norm(d, axis=-1, keepdims=True))
        d = pos[:, JOINT_INDEX["head"]] - pos[:, JOINT_INDEX["neck"]]
        out["neck_head"] = [d / np.linalg.norm(d, axis=-1, keepdims=True)]
        return {k: np.stack(v, 1) for k, v in out.items()}

    want, got = directions(driving["joint_rotations"][:count]), directions(retracked)
    result["bone_direction_error_deg"] = {
        k: round(float(np.degrees(np.arccos(np.clip((want[k] * got[k]).sum(-1), -1, 1))).mean()), 2) for k in want}
    result["mean_joint_angle_error_deg_all_upper_body"] = round(float(e.mean()), 2)
    result["work"] = str(work)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
