"""Where the ffmpeg binary comes from (``ffmpeg`` on PATH, else the static one ``imageio-ffmpeg`` ships), and
reading videos with it: the probe (size upright, frame rate, rotation metadata) and frame decoding with timestamps."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import imageio_ffmpeg

from talkavatar.errors import MissingDependency


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary every stage runs (decoding audio and video, encoding video)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    raise MissingDependency("no ffmpeg found", tip="pip install imageio-ffmpeg, or install ffmpeg on PATH")


@dataclass(frozen=True)
class VideoInfo:
    """What ffmpeg's probe says of a video's first video stream: ``width`` x ``height`` as decoded (upright: ffmpeg
    applies the rotation metadata when decoding, so a portrait phone video's 90/270 degree ``rotation`` swaps the
    stored size), ``fps`` (the stream's average rate; 25 when unstated), ``rotation`` in degrees (0, 90, 180, 270)."""

    width: int
    height: int
    fps: float
    rotation: int


def probe_video(path: Path) -> VideoInfo | None:
    """The video stream of ``path`` (None when ffmpeg finds no video stream in it)."""
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    lines = probe.stderr.splitlines()
    for i, line in enumerate(lines):
        if "Video:" not in line:
            continue
        size = re.search(r", (\d{2,5})x(\d{2,5})", line)
        if not size:
            continue
        fps = re.search(r"([\d.]+) fps", line) or re.search(r"([\d.]+) tbr", line)
        rotation = 0
        for later in lines[i + 1:]:  # the stream's side data follows it, up to the next stream
            if "Stream #" in later:
                break
            turned = re.search(r"rotation of (-?[\d.]+) degrees", later) or re.search(r"rotate\s*:\s*(-?\d+)", later)
            if turned:
                rotation = int(round(float(turned.group(1)))) % 360
        width, height = int(size.group(1)), int(size.group(2))
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(width, height, float(fps.group(1)) if fps else 25.0, rotation)
    return None


def decode_frames(path: Path, info: VideoInfo, selector: str = "", max_frames: int | None = None
                  ) -> tuple[list[np.ndarray], list[float], str]:
    """Decode the frames of ``path`` that the ffmpeg ``select`` expression ``selector`` keeps (all when empty), in
    input order, one output frame per input frame (variable frame rates are kept as they are) -> (frames: upright
    RGB ``[H, W, 3]`` uint8, their presentation times in seconds, ffmpeg's error text)."""
    filters = (f"select='{selector}'," if selector else "") + "showinfo,format=rgb24"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "info", "-nostdin", "-i", str(path), "-an", "-sn", "-vf",
           filters, "-fps_mode", "passthrough"]
    if max_frames is not None:
        cmd += ["-frames:v", str(max_frames)]
    run = subprocess.run(cmd + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True)
    raw, log = run.stdout, run.stderr.decode(errors="replace")
    frame_bytes = info.width * info.height * 3
    count = len(raw) // frame_bytes
    frames = [np.frombuffer(raw, np.uint8, frame_bytes, i * frame_bytes).reshape(info.height, info.width, 3).copy()
              for i in range(count)]
    times = [float(t) for t in re.findall(r"Parsed_showinfo.*?pts_time:\s*(-?[\d.]+)", log)][:count]
    if len(times) < count:  # no timestamps reported: evenly spaced at the stated rate
        times = [i / info.fps for i in range(count)]
    errors = "\n".join(x for x in log.splitlines() if "error" in x.lower())
    return frames, times, errors if run.returncode != 0 else ""
