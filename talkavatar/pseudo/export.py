"""``--export-poses DIR``: the driving poses as OpenPose/DWPose-style skeleton frames for pose-guided video
diffusion tools (MimicMotion and kin), plus an MP4 of them and the reference photo.

Keypoints are the rig's MediaPipe landmarks (:attr:`Rig.landmarks`) projected through each frame's camera, turned
into OpenPose's body-18 layout (neck = mid-shoulders), two 21-point hands (same order in both conventions) and
face points, drawn with OpenPose's limb colours on black. ``DIR/keypoints.json`` holds the 2D points.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from talkavatar.errors import InvalidInput
from talkavatar.ffmpeg import ffmpeg_exe

#: OpenPose body-18 index -> MediaPipe pose index (1, the neck, is the mid-shoulder point)
BODY18_FROM_MEDIAPIPE = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28, 11: 23, 12: 25,
                         13: 27, 14: 5, 15: 2, 16: 8, 17: 7}
LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
         (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]
COLOURS = [(255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85)]
HAND_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11), (11, 12),
              (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20)]
SET_SIZES = {"pose": 33, "left_hand": 21, "right_hand": 21, "face": 478}


def keypoints_2d(rig, joint_rotations, root_translation, arkit_weights, cameras) -> dict[str, np.ndarray]:
    """{set: [N, size, 2]} pixel positions of the MediaPipe point sets (NaN where the rig has no such point)."""
    out = {k: np.full((cameras.count, n, 2), np.nan, np.float32) for k, n in SET_SIZES.items()}
    lm = rig.landmarks
    for start in range(0, cameras.count, 32):
        stop = min(cameras.count, start + 32)
        posed = rig.pose(joint_rotations[start:stop], root_translation[start:stop], arkit_weights[start:stop])
        points = lm(posed.vertices, posed.joints)  # [B, K, 3]
        pixels = torch.cat([cameras[c].project(points[c - start])[0] for c in range(start, stop)]).numpy()
        for name in SET_SIZES:
            rows = lm.select(name).cpu()
            out[name][start:stop, lm.indices[rows].cpu().numpy()] = pixels[:, rows.numpy()]
    return out


def body18(pose: np.ndarray) -> np.ndarray:
    """MediaPipe pose [33, 2] -> OpenPose body-18 [18, 2]."""
    out = np.full((18, 2), np.nan, np.float32)
    for k, m in BODY18_FROM_MEDIAPIPE.items():
        out[k] = pose[m]
    out[1] = (pose[11] + pose[12]) / 2
    return out


def draw_skeleton(size: tuple[int, int], body: np.ndarray, hands: list[np.ndarray], face: np.ndarray) -> np.ndarray:
    """An OpenPose-style drawing [H, W, 3] uint8 of body-18, hands and face points (NaN points are skipped)."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    stick = max(2, round(4 * max(w, h) / 512))

    def ok(p):
        return np.isfinite(p).all()

    for i, (a, b) in enumerate(LIMBS):
        if ok(body[a]) and ok(body[b]):
            pa, pb = body[a], body[b]
            centre = tuple(int(v) for v in ((pa + pb) / 2))
            length = float(np.linalg.norm(pa - pb) / 2)
            angle = float(np.degrees(np.arctan2(pa[1] - pb[1], pa[0] - pb[0])))
            poly = cv2.ellipse2Poly(centre, (int(length), stick), int(angle), 0, 360, 1)
            cv2.fillConvexPoly(img, poly, tuple(int(c * 0.6) for c in COLOURS[i]))
    for i, p in enumerate(body):
        if ok(p):
            cv2.circle(img, (int(p[0]), int(p[1])), stick, COLOURS[i], -1)
    for hand in hands:
        for e, (a, b) in enumerate(HAND_EDGES):
            if ok(hand[a]) and ok(hand[b]):
                hue = np.array(cv2.cvtColor(np.uint8([[[int(180 * e / len(HAND_EDGES)), 255, 255]]]),
                                            cv2.COLOR_HSV2RGB)[0, 0], int)
                cv2.line(img, tuple(int(v) for v in hand[a]), tuple(int(v) for v in hand[b]),
                         tuple(int(c) for c in hue), max(1, stick // 2))
        for p in hand:
            if ok(p):
                cv2.circle(img, (int(p[0]), int(p[1])), max(1, stick // 2), (0, 0, 255), -1)
    for p in face:
        if ok(p):
            cv2.circle(img, (int(p[0]), int(p[1])), max(1, stick // 2), (255, 255, 255), -1)
    return img


def write_mp4(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> None:
    """H.264 MP4 through imageio-ffmpeg's bundled ffmpeg (frames: [H, W, 3] uint8, even sizes)."""
    h, w = frames[0].shape[:2]
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18",
           str(path)]
    proc = subprocess.run(cmd, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames),
                          capture_output=True)
    if proc.returncode != 0:
        raise InvalidInput(f"{path}: ffmpeg could not write the video ({proc.stderr.decode(errors='replace')[-200:]})")


def export_pose_frames(directory: Path, rig, joint_rotations, root_translation, arkit_weights, cameras,
                       photo: np.ndarray) -> Path:
    """Write ``DIR/poses/NNNNN.png``, ``DIR/poses.mp4``, ``DIR/reference.png`` and ``DIR/keypoints.json``."""
    directory = Path(directory)
    try:
        (directory / "poses").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidInput(f"{directory}: cannot create the export directory ({e})") from None
    points = keypoints_2d(rig, joint_rotations, root_translation, arkit_weights, cameras)
    size = (cameras.width, cameras.height)
    frames, records = [], []
    for i in range(cameras.count):
        body = body18(points["pose"][i])
        hands = [points["left_hand"][i], points["right_hand"][i]]
        img = draw_skeleton(size, body, hands, points["face"][i])
        Image.fromarray(img).save(directory / "poses" / f"{i:05d}.png")
        frames.append(img)
        records.append({"body18": np.nan_to_num(body, nan=-1).round(2).tolist(),
                        "left_hand": np.nan_to_num(hands[0], nan=-1).round(2).tolist(),
                        "right_hand": np.nan_to_num(hands[1], nan=-1).round(2).tolist()})
    if frames:
        write_mp4(directory / "poses.mp4", frames)
    Image.fromarray(photo).save(directory / "reference.png")
    (directory / "keypoints.json").write_text(json.dumps({"format": "openpose-body18+hands21", "width": size[0],
                                                          "height": size[1], "missing": -1, "frames": records}))
    return directory
