"""Does eval track a clip's frames the way the track stage did? (issue 20: held-out frames scored by eval must be
posed as the frames the avatar was fitted to, or the score measures the two trackers' disagreement.)

    python benchmarks/track_consistency.py BUNDLE [--frames 3] [--steps 240] [--own-focal]

BUNDLE: a bundle tracked from a video (``talkavatar track CLIP`` / ``fit CLIP``). Takes ``--frames`` of its tracked
frames (every other tracked entry from the first), tracks them again with eval's tracker
(:func:`talkavatar.track.fixed_shape.track_with_rig`: the bundle's rig, shape fixed) and compares, on the bundle's
rig (through the clip's tracked focal length, as ``eval`` does now, or with ``--own-focal`` eval's tracker's own
choice, as ``eval`` did before), (1) the head's vertices projected through each tracker's camera: mean distance in pixels of the full-resolution
frame between eval's poses and the track stage's; (2) the Face Mesh landmarks of each tracker's pose against
MediaPipe's detections (px). Prints a table last.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkavatar.bundle import Bundle  # noqa: E402
from talkavatar.bundle.artifacts import read_rig, read_tracked_video  # noqa: E402
from talkavatar.core.body.landmark_groups import GroupedLandmarks  # noqa: E402
from talkavatar.core.body.rig import Rig  # noqa: E402
from talkavatar.track.camera import project  # noqa: E402
from talkavatar.track.fixed_shape import track_with_rig  # noqa: E402
from talkavatar.track.footage import load_footage  # noqa: E402
from talkavatar.track.stage import detect_all  # noqa: E402

HEAD_DROP = 0.25
"""Metres below the top of the rest mesh that count as the head."""


def projected(rig: Rig, poses, K: np.ndarray, vertices: torch.Tensor, landmarks: GroupedLandmarks):
    """(head vertices [T, H, 2], face landmarks [T, F, 2]) in pixels of ``K`` for T ``poses`` (rotations,
    translations, ARKit weights)."""
    posed = rig.pose(*(torch.as_tensor(np.asarray(p)).float() for p in poses))
    K = torch.as_tensor(K).float()
    return project(posed.vertices[:, vertices], K).numpy(), project(landmarks(posed)["face"], K).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--steps", type=int, default=240, help="eval's tracking steps (eval --track-steps)")
    parser.add_argument("--own-focal", action="store_true", help="eval's tracker chooses the focal length")
    args = parser.parse_args()
    bundle = Bundle.open(args.bundle)
    video = read_tracked_video(bundle)
    if video is None:
        sys.exit(f"{args.bundle}: not tracked from a video")
    p, doc = video.params, video.doc
    stride = doc["frame_index"][1] - doc["frame_index"][0] if len(doc["frame_index"]) > 1 else 1
    footage = load_footage(args.bundle / doc["source"], 1280, 2 * stride, args.frames)
    entries = np.array([doc["frame_index"].index(i) for i in footage.frame_indices])
    detections = detect_all(footage, 1, lambda _: None)
    rig = Rig.from_tensors(*read_rig(bundle)).to("cpu", torch.float32)
    landmarks = GroupedLandmarks(rig.landmarks)
    heights = rig.vertices[:, 1]
    head = torch.nonzero(heights > heights.max() - HEAD_DROP).flatten()
    seen = np.stack([d.face[landmarks.mediapipe_index("face"), :2] for d in detections]) * footage.scale
    stage_head, stage_face = projected(rig, p.poses(entries), p.intrinsics[entries[0]], head, landmarks)
    t0 = time.perf_counter()
    focal = None if args.own_focal else float(p.intrinsics[0][0, 0])
    track = track_with_rig(rig, footage, detections, steps=args.steps, focal=focal)
    K = track.K.copy()
    K[:2] *= footage.scale  # work pixels -> full-resolution pixels
    eval_head, eval_face = projected(rig, (track.joint_rotations, track.root_translation, track.arkit_weights), K,
                                     head, landmarks)
    distance = np.linalg.norm(eval_head - stage_head, axis=-1).mean(1)
    face_error = lambda pts: np.linalg.norm(pts - seen, axis=-1).mean(1)  # noqa: E731
    print(f"frames {footage.frame_indices}, {footage.full_size[0]}x{footage.full_size[1]} px, eval tracking "
          f"{time.perf_counter() - t0:.0f} s, focal {K[0, 0]:.0f} px (the track stage's {p.intrinsics[0][0, 0]:.0f})",
          file=sys.stderr)
    print("| frame | head: eval vs track stage px | face landmarks vs MediaPipe px: track stage | eval |")
    print("|---|---|---|---|")
    for i, frame in enumerate(footage.frame_indices):
        print(f"| {frame} | {distance[i]:.1f} | {face_error(stage_face)[i]:.1f} | {face_error(eval_face)[i]:.1f} |")
    print(f"| mean | {distance.mean():.1f} | {face_error(stage_face).mean():.1f} | {face_error(eval_face).mean():.1f} |")


if __name__ == "__main__":
    main()
