"""What a media file holds, measured by decoding it with ffmpeg (no ffprobe needed): codecs, size, rate, frame count,
decoded audio duration."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from talkavatar.ffmpeg import ffmpeg_exe


@dataclass
class MediaInfo:
    video_codec: str | None
    pixel_format: str | None
    width: int
    height: int
    fps: float
    audio_codec: str | None
    start: float              # container start time (seconds)
    frames: int               # decoded video frames
    audio_seconds: float      # decoded audio samples / sample rate
    header: str               # ffmpeg's description of the file

    @property
    def video_seconds(self) -> float:
        return self.frames / self.fps


def describe(path: Path) -> str:
    """``ffmpeg -i`` output (stderr) for ``path``."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return out.stderr


def probe(path: Path, audio_rate: int = 48_000) -> MediaInfo:
    text = describe(path)
    video = re.search(r"Video: (\w+)[^,]*, (\w+)(?:\([^)]*\))?, (\d+)x(\d+)", text)
    fps = re.search(r"([\d.]+) fps", text)
    audio = re.search(r"Audio: (\w+)", text)
    start = re.search(r"start: (-?[\d.]+)", text)
    frames = 0
    if video:  # decode every frame into the null muxer, counting them
        progress = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0",
                                   "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
                                  capture_output=True, text=True, check=True).stdout
        frames = int(re.findall(r"^frame=(\d+)", progress, re.M)[-1])
    audio_seconds = 0.0
    if audio:
        pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le",
                              "-ac", "1", "-ar", str(audio_rate), "pipe:1"], capture_output=True, check=True).stdout
        audio_seconds = len(pcm) / 2 / audio_rate
    return MediaInfo(video.group(1) if video else None, video.group(2) if video else None,
                     int(video.group(3)) if video else 0, int(video.group(4)) if video else 0,
                     float(fps.group(1)) if fps else 0.0, audio.group(1) if audio else None,
                     float(start.group(1)) if start else 0.0, frames, audio_seconds, text)
