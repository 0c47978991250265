"""Loading the input: one image or the frames of a video, as RGB uint8 arrays ready for detection.

Images: anything Pillow reads (JPEG, PNG, WebP, BMP, TIFF, …), grey, palette, 16-bit or RGBA (composited on white),
turned upright by their EXIF orientation. Videos: anything the ffmpeg binary of ``imageio-ffmpeg`` decodes.
Frames are resized to the *work* resolution (longer side at most ``detect_size``, shorter side at least
``MIN_SIDE``); ``scale`` maps work pixels to the pixels of the input as given (``full = work * scale``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from talkavatar.errors import InvalidInput
from talkavatar.ffmpeg import decode_frames, probe_video

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
    times: list[float] = field(default_factory=list)  # video: each kept frame's presentation time, s
    rotation: int = 0  # video: the rotation metadata ffmpeg applied when decoding, degrees

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


VFR_TOLERANCE = 0.2
"""Frame intervals differing from their median by more than this fraction make a clip variable-frame-rate."""


def variable_frame_rate(times: list[float]) -> bool:
    """Whether the frame ``times`` (seconds) are unevenly spaced (a phone's variable-frame-rate recording)."""
    gaps = np.diff(np.asarray(times, np.float64))
    if len(gaps) < 2:
        return False
    typical = float(np.median(gaps))
    return typical > 0 and bool((np.abs(gaps - typical) > VFR_TOLERANCE * typical).any())


def _load_video(path: Path, detect_size: int, stride: int, max_frames: int | None, start: int = 0) -> Footage:
    info = probe_video(path)
    if info is None:
        raise InvalidInput(f"{path}: neither an image nor a video that ffmpeg can decode",
                           tip="give a photo (JPEG/PNG/WebP/BMP/TIFF) or a video file")
    if start > 0:
        selector = f"gte(n\\,{start})*not(mod(n-{start}\\,{stride}))"
    else:
        selector = f"not(mod(n\\,{stride}))" if stride > 1 else ""
    full, times, errors = decode_frames(path, info, selector, max_frames)
    if errors and not full:
        raise InvalidInput(f"{path}: ffmpeg cannot decode it ({errors.strip()[-200:]})")
    if not full:
        raise InvalidInput(f"{path}: the video has no frames", tip="check the file plays in a video player")
    width, height = info.width, info.height
    factor = work_scale(width, height, detect_size)
    frames = [_resize(frame, factor) for frame in full]
    del full
    warnings = []
    if min(width, height) < MIN_SIDE:
        warnings.append(f"the video is only {width}x{height} px; upscaled x{factor:.2f} for detection")
    if variable_frame_rate(times):
        warnings.append(f"variable frame rate ({len(times) / max(times[-1] - times[0], 1e-6):.1f} fps on average): "
                        "frames are kept with their own timestamps")
    return Footage("video", frames, [start + i * stride for i in range(len(frames))], info.fps / stride,
                   (width, height), 1.0 / factor, None, None, warnings, times, info.rotation)


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
