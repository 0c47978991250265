"""The image variants person detection tries when the photo as given shows nobody to MediaPipe.

MediaPipe's pose detector letterboxes the whole image into its 224 x 224 input and finds a person from the face
and torso; greyscale, dark or low-contrast photos and three-quarter or profile faces make it miss people that are
plainly visible. The variants, in the order they are tried: the image as given, its contrast normalised, each of
the two mirrored (the detector is not symmetric: a profile facing left is found where the same profile facing right
is not), each of those at a smaller scale. A detection made on a mirrored image is mirrored back with
:func:`unmirror` (left and right body points and hands swap; Face Mesh points map to their partners).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

BODY_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26,
                        25, 28, 27, 30, 29, 32, 31])
"""MediaPipe pose point i is point BODY_MIRROR[i] of the mirrored person (left eye <-> right eye, ...)."""
SMALL_SIDE = 512
"""The longer side, in pixels, of the downscaled variants (the detector sees a large image's person as too small
a face to start from, or the other way round)."""


@dataclass(frozen=True)
class Variant:
    """One way of showing the image to the detector: ``contrast`` normalised or not, ``mirrored`` or not, longer
    side at most ``side`` pixels (None: as given)."""

    contrast: bool = False
    mirrored: bool = False
    side: int | None = None

    @property
    def name(self) -> str:
        parts = [p for p, on in (("contrast", self.contrast), ("mirrored", self.mirrored)) if on]
        if self.side:
            parts.append(f"{self.side}px")
        return "+".join(parts) or "as given"


VARIANTS = (Variant(), Variant(contrast=True), Variant(mirrored=True), Variant(True, True),
            Variant(side=SMALL_SIDE), Variant(True, False, SMALL_SIDE), Variant(False, True, SMALL_SIDE),
            Variant(True, True, SMALL_SIDE))


def normalise_contrast(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 RGB → the same with its lightness stretched (1st-99th percentile to the full range) and
    equalised locally (CLAHE, clip 2, 8 x 8 tiles); colours keep their hue."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    light = lab[..., 0].astype(np.float32)
    lo, hi = np.percentile(light, [1, 99])
    light = np.clip((light - lo) * 255.0 / max(hi - lo, 1.0), 0, 255).astype(np.uint8)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(light)
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def apply(variant: Variant, image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image the detector sees for ``variant`` and its scale (variant pixels per image pixel)."""
    scale = 1.0
    out = image
    if variant.side is not None and max(image.shape[:2]) > variant.side:
        scale = variant.side / max(image.shape[:2])
        h, w = image.shape[:2]
        out = np.asarray(Image.fromarray(out).resize((round(w * scale), round(h * scale)), Image.LANCZOS))
    if variant.contrast:
        out = normalise_contrast(out)
    if variant.mirrored:
        out = out[:, ::-1]
    return np.ascontiguousarray(out), scale


@functools.cache
def face_mirror() -> np.ndarray:
    """[478] the mirror partner of every Face Mesh point (``data/face_mirror.json`` says how it was measured)."""
    data = json.loads((Path(__file__).parent / "data" / "face_mirror.json").read_text())
    return np.array(data["mirror"], np.int64)


def mirror_points(points: np.ndarray, width: int) -> np.ndarray:
    """[K, 3] (x, y, z) pixels in an image ``width`` wide → the same points in the mirrored image."""
    out = points.copy()
    out[:, 0] = width - points[:, 0]
    return out
