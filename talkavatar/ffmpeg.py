"""Where the ffmpeg binary comes from: ``ffmpeg`` on PATH, else the static one ``imageio-ffmpeg`` ships."""

from __future__ import annotations

import shutil

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
