"""A CPU stand-in for issue 16's face check of the default video: only a square window around the head is rendered.

    python benchmarks/face_window_video.py MOTION SPEECH_A SPEECH_B BUNDLE [BUNDLE ...] [--seconds 8] [--window 256]
        [--sheet SHEET.png] [--json FILE] [--video-device cuda]

A full default render (``talkavatar render --audio``: ``--camera auto``, 1080x1920 for a full body on a GPU) takes
~11 s a frame on this 2-core CPU. Here every frame uses that render's camera exactly (``render.stage.
auto_camera_path``, sized as on ``--video-device``: the face keeps the pixels it has in the GPU video), posed by the
full speech motion (``talkavatar drive-audio SPEECH_A``: gestures, head, face), but only a ``--window`` px square
centred on the head's projection (the rig's head vertices, posed) is rasterized: the intrinsics are shifted, not
scaled. Then, as benchmarks/presentable_video.py does on the whole video: MediaPipe FaceMesh (its ``face_track``)
on the windows, and Pearson r of the inner-lip gap with SPEECH_A's RMS envelope and SPEECH_B's (the control), best
lag within +-100 ms. The window holds the face at the video's scale, so FaceMesh gets what its crop of the whole
frame would get; the figures are this stand-in's, not the GPU video's (earlier sessions' stand-in read r about
half the GPU's on grace_hopper with a 80-step fit).

Writes ``--sheet``: per bundle a row of six windows (evenly spaced over the loudest quarter of frames, where the
mouth should be open) with FaceMesh's inner lip drawn in green, and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
SHEET_TILES = 6


class HeadWindow:
    """The frames' cameras (a :class:`~talkavatar.render.camera_path.CameraPath`) cut to a ``side`` px square whose
    centre is each frame's ``head`` [T, 2] pixel in the full frame: :meth:`at` as the path's, K's principal point
    moved."""

    def __init__(self, path, head, side: int):
        self.path, self.head, self.width, self.height = path, head, side, side

    def at(self, frame_index, *, device=None, dtype=None):
        import torch

        from talkavatar.core.cameras import Cameras

        full = self.path.at(frame_index, dtype=torch.float64)
        K = full.K.clone()
        shift = torch.from_numpy(self.head[frame_index.numpy()]) - self.width / 2  # [B, 2]
        K[:, :2, 2] -= shift
        return Cameras(full.world_to_camera, K, self.width, self.height).to(device=device,
                                                                           dtype=dtype or torch.float32)


def head_pixels(avatar, timeline, path) -> np.ndarray:
    """[T, 2]: the mean of the rig's posed head vertices projected by each frame's camera of ``path``."""
    import torch

    from talkavatar.core.body.parts import PART, vertex_parts

    rig = avatar.rig
    head = torch.from_numpy(vertex_parts(rig) == PART["head"]).to(rig.device)
    out = []
    for first in range(0, timeline.frames, 32):
        index = np.arange(first, min(first + 32, timeline.frames))
        jr, rt, aw = (t.to(rig.device, rig.dtype) for t in timeline.poses(index))
        centre = rig.pose(jr, rt, aw).vertices[:, head].mean(1)  # [B, 3]
        cams = path.at(torch.from_numpy(index), dtype=rig.dtype)
        px, _ = cams.project(centre[:, None])
        out.append(px[:, 0].detach().cpu().double().numpy())
    return np.concatenate(out)


def windows(bundle_path: Path, motion_path: Path, seconds: float, side: int, video_device: str) -> tuple:
    """(frames [T, side, side, 3] uint8, fps, head [T, 2] pixels in the full frame, the full frame's size)."""
    import torch

    from talkavatar.motion.any import load_motion_any
    from talkavatar.render.background import Background
    from talkavatar.render.config import RenderConfig
    from talkavatar.render.frames import FrameProducer
    from talkavatar.render.stage import auto_camera_path, open_bundle
    from talkavatar.render.timeline import Timeline

    bundle, avatar = open_bundle(bundle_path)
    avatar = avatar.to(torch.device("cpu"), torch.float32)
    motion = load_motion_any(motion_path)
    timeline = Timeline.of(motion, motion.fps, 0.0, seconds)
    path = auto_camera_path(bundle, avatar, RenderConfig(), timeline, video_device, print)
    head = head_pixels(avatar, timeline, path)
    producer = FrameProducer(avatar, timeline, HeadWindow(path, head, side), Background.parse("white", side, side),
                             pixel_format="rgb24", batch=2, device="cpu")
    frames = np.concatenate([b.pixels.numpy() for b in producer]).reshape(timeline.frames, side, side, 3)
    return frames, timeline.fps, head, (path.width, path.height)


def lip_drawn(frame: np.ndarray) -> np.ndarray:
    """``frame`` with FaceMesh's inner-lip contour (static mode, refined) drawn in green, if it finds a face."""
    import mediapipe as mp
    from PIL import Image, ImageDraw

    im = Image.fromarray(frame)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        result = mesh.process(np.ascontiguousarray(frame))
    if result.multi_face_landmarks:
        lm = result.multi_face_landmarks[0].landmark
        ImageDraw.Draw(im).line([(lm[i].x * frame.shape[1], lm[i].y * frame.shape[0]) for i in INNER_LIP + (78,)],
                                fill=(0, 220, 0), width=1)
    return np.asarray(im)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("motion", type=Path, help="talkavatar drive-audio SPEECH_A's motion")
    parser.add_argument("speech_a", type=Path)
    parser.add_argument("speech_b", type=Path, help="the control clip")
    parser.add_argument("bundles", type=Path, nargs="+")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--video-device", default="cuda", help="the device whose default video size is matched")
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from presentable_video import best_lag_r, face_track, rms_envelope

    rows, tiles = [], []
    for bundle in args.bundles:
        frames, fps, head, size = windows(bundle, args.motion, args.seconds, args.window, args.video_device)
        found, height, gap, _ = face_track(frames)
        envelope = rms_envelope(args.speech_a, fps, len(frames))
        rows.append({"bundle": str(bundle), "frames": len(frames), "video": f"{size[0]}x{size[1]}",
                     "face_found": round(float(found.mean()), 3),
                     "face_px": round(float(np.nanmedian(height)) * args.window, 1) if found.any() else None,
                     "r_speech": round(best_lag_r(gap, envelope, fps), 3),
                     "r_other_speech": round(best_lag_r(gap, rms_envelope(args.speech_b, fps, len(frames)), fps), 3),
                     "gap_loud": round(float(np.nanmedian(gap[envelope >= np.quantile(envelope, 0.75)])), 4),
                     "gap_quiet": round(float(np.nanmedian(gap[envelope <= np.quantile(envelope, 0.25)])), 4)})
        print(json.dumps(rows[-1]), flush=True)
        loud = np.nonzero(envelope >= np.quantile(envelope, 0.75))[0]
        picks = loud[np.linspace(0, len(loud) - 1, SHEET_TILES).round().astype(int)]
        tiles.append(np.concatenate([lip_drawn(frames[i]) for i in picks], 1))
    if args.sheet:
        from PIL import Image

        Image.fromarray(np.concatenate(tiles, 0)).save(args.sheet)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    print("| bundle | video | frames | face found | face px | r speech | r control | gap loud / quiet |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['bundle']} | {r['video']} | {r['frames']} | {100 * r['face_found']:.1f} % | {r['face_px']} | "
              f"{r['r_speech']:.3f} | {r['r_other_speech']:.3f} | {r['gap_loud']} / {r['gap_quiet']} |")


if __name__ == "__main__":
    main()
