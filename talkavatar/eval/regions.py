"""The papers' self-reenactment protocol: a hard person mask, both images matted the same way, scores per region.

The reference frame is matted by the hard person mask (the tracked soft mask thresholded at 0.5: a soft halo of
background around the hair no longer counts), the render is over black like the matted reference, and the scores
are taken inside each region of the reference (:func:`region_masks`): ``person`` (the hard mask), ``face`` (inside
MediaPipe's face oval), ``mouth`` (inside the outer lip contour, grown by a quarter of the mouth's width so a mouth
that should be closed but is rendered open, or the reverse, counts) and ``body`` (person minus face); plus ``frame``:
the whole matted image (a render's halo outside the person counts there).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from talkavatar.core.body.landmarks import FACE_OVAL, FACE_POINTS
from talkavatar.eval.frames import resized
from talkavatar.eval.image_metrics import image_scores

LIPS_OUTER = tuple(FACE_POINTS[f"lip_outer_{k}"] for k in range(20))
REGIONS = ("frame", "person", "face", "mouth", "body")
HARD = 0.5
"""Soft mask level above which a pixel belongs to the person."""


def polygon_mask(points: np.ndarray, size: tuple[int, int], grow: float = 0.0) -> np.ndarray:
    """[h, w] bool inside the polygon ``points`` [N, 2] (pixels, centres at +0.5) of an image of ``size`` (w, h),
    the polygon scaled by ``1 + grow`` about its centroid."""
    centre = points.mean(0)
    pts = centre + (points - centre) * (1.0 + grow)
    image = Image.new("1", size, 0)
    ImageDraw.Draw(image).polygon([(float(x), float(y)) for x, y in pts - 0.5], fill=1)
    return np.asarray(image, dtype=bool)


def region_masks(person: np.ndarray, face: np.ndarray | None) -> dict[str, np.ndarray]:
    """{region: [h, w] bool} of one frame from its soft person mask [h, w] (0..1) and its 478 Face Mesh points
    [478, 2] in the same pixels (None: no face found; face and mouth are then empty)."""
    hard = person >= HARD
    size = (person.shape[1], person.shape[0])
    if face is None:
        face_mask = mouth = np.zeros_like(hard)
    else:
        face_mask = polygon_mask(face[list(FACE_OVAL), :2], size) & hard
        mouth = polygon_mask(face[list(LIPS_OUTER), :2], size, grow=0.25)
    return {"frame": np.ones_like(hard), "person": hard, "face": face_mask, "mouth": mouth,
            "body": hard & ~face_mask}


@torch.no_grad()
def region_scores(rendered: np.ndarray, reference: np.ndarray, masks: np.ndarray, faces: list[np.ndarray | None],
                  size: tuple[int, int], device) -> dict[str, dict[str, np.ndarray]]:
    """Per-region PSNR, SSIM and L1 of T frames ({region: {"psnr", "ssim", "l1": [T] (nan where the region is
    empty)}}): ``rendered`` [T, h, w, 3] uint8 over black, ``reference`` [T, H, W, 3] uint8, soft person ``masks``
    [T, H, W], ``faces``: T Face Mesh point sets [478, 2+] in pixels of ``size`` (or None); compared at ``size``
    (w, h)."""
    soft = resized(masks[..., None].astype(np.float32), size)[..., 0].numpy()
    per_frame = [region_masks(soft[t], None if faces[t] is None else faces[t][:, :2]) for t in range(len(rendered))]
    hard = torch.from_numpy(np.stack([r["person"] for r in per_frame])).float()
    matted = resized(reference, size) * hard[..., None]
    render = resized(rendered, size)
    out = {}
    for region in REGIONS:
        mask = torch.from_numpy(np.stack([r[region] for r in per_frame])).float()
        scores = image_scores(render.to(device), matted.to(device), mask.to(device))
        empty = mask.sum((1, 2)).numpy() < 16
        out[region] = {k: np.where(empty, np.nan, getattr(scores, k)) for k in ("psnr", "ssim", "l1")}
    return out
