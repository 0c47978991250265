"""Tiny deterministic clips made by the tests from the shipped astronaut photo (``talkavatar/samples``): a person
who sways and turns a little, optionally leaving the picture for a stretch, at a variable frame rate, or stored
landscape with portrait rotation metadata. Encoded with the ffmpeg every stage uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from talkavatar.ffmpeg import ffmpeg_exe
from talkavatar.samples import SAMPLE_PHOTO


def person_frames(count: int = 10, size: tuple[int, int] = (192, 256), empty: tuple[int, int] | None = None
                  ) -> list[np.ndarray]:
    """``count`` portrait RGB frames of ``size`` (w, h): the astronaut's upper body, shifted and turned a little frame by frame;
    frames ``empty[0]`` to ``empty[1] - 1`` show only the wall behind (the person has left)."""
    photo = Image.open(SAMPLE_PHOTO).convert("RGB")
    frames = []
    for i in range(count):
        phase = i / max(count - 1, 1)
        angle = 4.0 * np.sin(2 * np.pi * phase)
        dx = round(14 * np.sin(2 * np.pi * phase))
        box = (94 + dx, 0, 418 + dx, 432)
        frame = photo.rotate(angle, resample=Image.BILINEAR, center=(256, 180)).crop(box).resize(size)
        if empty is not None and empty[0] <= i < empty[1]:
            frame = Image.new("RGB", size, (128, 120, 110))
        frames.append(np.asarray(frame))
    return frames


def encode(frames: list[np.ndarray], path: Path, fps: float = 10.0, times: list[float] | None = None,
           rotation: int = 0) -> Path:
    """Write ``frames`` as H.264 at ``fps``, or at the presentation ``times`` (s; a variable frame rate), with
    ``rotation`` degrees of display-rotation metadata (the frames are stored turned the other way, as a phone does)."""
    h, w = frames[0].shape[:2]
    if rotation:
        turns = {90: 1, 180: 2, 270: 3}[rotation]
        frames = [np.rot90(f, -turns).copy() for f in frames]  # stored turned; the metadata turns them back
        h, w = frames[0].shape[:2]
    raw = Path(path).with_suffix(".raw.mp4")
    rate = ["-r", str(fps)] if times is None else ["-r", "1000"]
    cmd = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", *rate,
           "-i", "-"]
    if times is not None:  # timestamps in milliseconds: frame i at times[i]
        expr = "+".join(f"eq(N,{i})*{round(t * 1000)}" for i, t in enumerate(times))
        cmd += ["-vf", f"setpts='({expr})/(1000*TB)'", "-fps_mode", "vfr"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", str(raw)]
    subprocess.run(cmd, input=b"".join(f.tobytes() for f in frames), check=True)
    if rotation:
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-display_rotation", str(rotation), "-i", str(raw),
                        "-c", "copy", str(path)], check=True)
        raw.unlink()
    else:
        raw.replace(path)
    return Path(path)
