"""Loading the input: one image or the frames of a video, as RGB uint8 arrays ready for detection.

Images: anything Pillow reads (JPEG, PNG, WebP, BMP, TIFF, …), grey, palette, 16-bit or RGBA (composited on white),
turned upright by their EXIF orientation. Videos: anything the ffmpeg binary of ``imageio-ffmpeg`` decodes.
Frames are resized to the *work* resolution (longer side at most ``detect_size``, shorter side at least
``MIN_SIDE``); ``scale`` maps work pixels to the pixels of the input as given (``full = work * scale``).
"""

from __future__ import annotations

import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from talkavatar.errors import InvalidInput
from talkavatar.ffmpeg import ffmpeg_exe

MIN_SIDE = 128
"""Inputs whose shorter side is below this many pixels are upscaled (with a warning) before detection."""
UPSCALED_SIDE = 256
"""The shorter side that small inputs are upscaled to."""


@dataclass
class Footage:
    """The frames to track. ``frames``: list of ``[H, W, 3]`` uint8 at work resolution."""

    kind: str                       # "image" or "video"
    frames: list[np.ndarray]
    frame_indices: list[int]        # index of each kept frame in the input
    fps: float                      # 0 for an image
    full_size: tuple[int, int]      # (width, height) of the input as given (upright)
    scale: float                    # full-resolution pixels per work pixel
    exif_focal_px: float | None = None
    full_frame: np.ndarray | None = None  # [H, W, 3] uint8 upright input at full resolution (images only)
    warnings: list[str] = field(default_factory=list)

    @property
    def work_size(self) -> tuple[int, int]:
        h, w = self.frames[0].shape[:2]
        return w, h


def work_scale(width: int, height: int, detect_size: int) -> float:
    """Work pixels per input pixel: shrink the longer side to ``detect_size``, grow a short side to UPSCALED_SIDE."""
    if min(width, height) < MIN_SIDE:
        return UPSCALED_SIDE / min(width, height)
    return min(1.0, detect_size / max(width, height))


def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return image

    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


def _to_rgb(im) -> np.ndarray:
    """A Pillow image of any mode as ``[H, W, 3]`` uint8 (alpha composited over white, 16-bit scaled)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if a.max() > 255 else 255.0
        return np.repeat(np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
        return np.repeat((a * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def _exif_focal_px(im, width: int, height: int) -> float | None:
    """Focal length in pixels from EXIF: the 35 mm equivalent (scaled by the diagonal), else mm / sensor size."""
    try:
        exif = im.getexif()
        sub = exif.get_ifd(0x8769)  # the Exif sub-IFD holds the lens tags
    except Exception:  # noqa: BLE001 - broken EXIF is no reason to refuse the photo
        return None
    f35 = sub.get(0xA405)  # FocalLengthIn35mmFilm
    if f35:
        return float(f35) * math.hypot(width, height) / math.hypot(36.0, 24.0)
    f_mm, x_res, unit = sub.get(0x920A), sub.get(0xA20E), sub.get(0xA210, 2)  # FocalLength, FocalPlaneXResolution
    if f_mm and x_res:
        per_mm = float(x_res) / {2: 25.4, 3: 10.0, 4: 1.0}.get(int(unit), 25.4)
        # the resolution refers to the sensor's own pixel grid; assume the image is the full sensor width
        return float(f_mm) * per_mm
    return None


def _load_image(path: Path, detect_size: int) -> Footage | None:
    """The image at ``path``, or None if Pillow does not recognise the file as an image."""
    try:
        with Image.open(path) as im:
            im.load()
            n_frames = getattr(im, "n_frames", 1)
            if im.format in ("GIF",) and n_frames > 1:
                return None  # animated: decode as a video
            upright = ImageOps.exif_transpose(im)
            width, height = upright.size
            focal = _exif_focal_px(im, width, height)
            rgb = _to_rgb(upright)
    except UnidentifiedImageError:
        return None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise InvalidInput(f"{path}: cannot read the image ({e})", tip="re-save it as PNG or JPEG") from None
    if width < 2 or height < 2:
        raise InvalidInput(f"{path}: the image is {width}x{height} pixels, too small to track a person")
    factor = work_scale(width, height, detect_size)
    warnings = []
    if min(width, height) < MIN_SIDE:
        warnings.append(f"the image is only {width}x{height} px; upscaled x{factor:.2f} for detection "
                        "(expect a rough fit)")
    return Footage("image", [_resize(rgb, factor)], [0], 0.0, (width, height), 1.0 / factor, focal, rgb, warnings)


def _video_size_fps(path: Path, exe: str) -> tuple[int, int, float] | None:
    probe = subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    for line in probe.stderr.splitlines():
        if "Video:" in line:
            size = re.search(r", (\d{2,5})x(\d{2,5})", line)
            fps = re.search(r"([\d.]+) fps", line) or re.search(r"([\d.]+) tbr", line)
            if size:
                return int(size.group(1)), int(size.group(2)), float(fps.group(1)) if fps else 25.0
    return None


def _load_video(path: Path, detect_size: int, stride: int, max_frames: int | None, start: int = 0) -> Footage:
    exe = ffmpeg_exe()
    info = _video_size_fps(path, exe)
    if info is None:
        raise InvalidInput(f"{path}: neither an image nor a video that ffmpeg can decode",
                           tip="give a photo (JPEG/PNG/WebP/BMP/TIFF) or a video file")
    width, height, fps = info  # ffmpeg applies the rotation metadata when decoding; the probe size may be unrotated
    if start > 0:
        selector = f"select='gte(n\\,{start})*not(mod(n-{start}\\,{stride}))',"
    else:
        selector = f"select='not(mod(n\\,{stride}))'," if stride > 1 else ""
    cmd = [exe, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(path), "-an", "-sn",
           "-vf", f"{selector}format=rgb24", "-fps_mode", "passthrough"]
    if max_frames is not None:
        cmd += ["-frames:v", str(max_frames)]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    run = subprocess.run(cmd, capture_output=True)
    raw = run.stdout
    if run.returncode != 0 and not raw:
        raise InvalidInput(f"{path}: ffmpeg cannot decode it ({run.stderr.decode(errors='replace').strip()[-200:]})")
    if raw and len(raw) % (width * height * 3) != 0:
        width, height = height, width  # rotated by 90 degrees on decode
    frame_bytes = width * height * 3
    count = len(raw) // frame_bytes if frame_bytes else 0
    if count == 0:
        raise InvalidInput(f"{path}: the video has no frames", tip="check the file plays in a video player")
    factor = work_scale(width, height, detect_size)
    frames = [_resize(np.frombuffer(raw, np.uint8, frame_bytes, i * frame_bytes).reshape(height, width, 3).copy(),
                      factor) for i in range(count)]
    warnings = []
    if min(width, height) < MIN_SIDE:
        warnings.append(f"the video is only {width}x{height} px; upscaled x{factor:.2f} for detection")
    return Footage("video", frames, [start + i * stride for i in range(count)], fps / stride, (width, height), 1.0 / factor,
                   None, None, warnings)


def load_footage(path: Path, detect_size: int = 1280, stride: int = 1, max_frames: int | None = None,
                 start: int = 0) -> Footage:
    """Read ``path`` as an image, else as a video (frames ``start``, ``start + stride``, …, at most ``max_frames``);
    raises :class:`InvalidInput` if it is neither."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file", tip="check the path")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path}: the file is empty")
    image = _load_image(path, detect_size)
    if image is not None:
        return image
    return _load_video(path, detect_size, stride, max_frames, start)
