"""``track/overlay.png``: the fitted mesh (shaded, painter's algorithm) and the landmarks drawn over the photo.

Left panel: the photo with the mesh blended on top and, when several people were found, a numbered box around each
(the number is what ``--person`` takes; the tracked person's box is white, the others grey). Right panel: the photo
with MediaPipe's detections (green) and the fitted model's landmarks (red), a line joining each pair, and the
landmarks the plausibility gating rejected as magenta crosses, so a person can judge the fit at a glance.
"""

from __future__ import annotations

from typing import Mapping

import cv2
import numpy as np
from PIL import Image


def shade_mesh(image: np.ndarray, vertices_px: np.ndarray, depth: np.ndarray, normals_cam: np.ndarray,
               faces: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """Blend a Lambert-shaded mesh over ``image`` [H, W, 3] uint8.

    vertices_px: [V, 2]; depth: [V] (camera z); normals_cam: [F, 3] unit face normals in camera axes (z forward);
    faces: [F, 3]. Triangles facing away are skipped; nearer ones are drawn last.
    """
    shift = 4
    pts = np.round(vertices_px * (1 << shift) - (1 << (shift - 1))).astype(np.int64)
    facing = normals_cam[:, 2] < 0  # towards the camera (which looks along +z)
    order = np.argsort(-depth[faces].mean(axis=1))
    order = order[facing[order]]
    light = np.array([0.3, -0.4, -1.0])
    light /= np.linalg.norm(light)
    lambert = np.clip(normals_cam @ light, 0.0, 1.0)
    base = np.array([200.0, 205.0, 230.0])
    colours = (base[None] * (0.25 + 0.75 * lambert[:, None])).astype(np.int32)
    layer = image.copy()
    covered = np.zeros(image.shape[:2], np.uint8)
    tris = pts[faces[order]]                                  # [F', 3, 2], far to near
    drawable = np.abs(tris).reshape(len(tris), -1).max(1, initial=0) < 1 << 28
    for tri, colour in zip(tris[drawable].astype(np.int32), colours[order[drawable]].tolist()):
        cv2.fillConvexPoly(layer, tri, colour, lineType=cv2.LINE_AA, shift=shift)
        cv2.fillConvexPoly(covered, tri, 1, shift=shift)
    out = image.astype(np.float32)
    a = opacity * covered[..., None]
    return (out * (1 - a) + layer.astype(np.float32) * a + 0.5).astype(np.uint8)


def draw_landmarks(image: np.ndarray, detected: Mapping[str, np.ndarray], fitted: Mapping[str, np.ndarray],
                   radius: int) -> np.ndarray:
    """Detections (green) and fitted landmarks (red) joined by yellow lines; each group is [K, 2] pixels with NaN
    rows for points to skip."""
    out = image.copy()
    for name, det in detected.items():
        fit = fitted.get(name)
        for k in range(len(det)):
            if fit is None or not (np.isfinite(det[k]).all() and np.isfinite(fit[k]).all()):
                continue
            cv2.line(out, tuple(np.round(det[k]).astype(int)), tuple(np.round(fit[k]).astype(int)), (255, 220, 0),
                     1, cv2.LINE_AA)
        for k in range(len(det)):
            if np.isfinite(det[k]).all():
                cv2.circle(out, tuple(np.round(det[k]).astype(int)), radius, (40, 220, 40), -1, cv2.LINE_AA)
            if fit is not None and np.isfinite(fit[k]).all():
                cv2.circle(out, tuple(np.round(fit[k]).astype(int)), radius, (230, 40, 40), -1, cv2.LINE_AA)
    return out


def draw_people(image: np.ndarray, people: list[dict], radius: int) -> np.ndarray:
    """Numbered boxes (``box``: x0, y0, x1, y1 pixels; ``person``; ``picked``) over ``image`` when there are two or
    more people."""
    out = image.copy()
    if len(people) < 2:
        return out
    thick = max(1, radius // 2)
    for p in people:
        x0, y0, x1, y1 = (int(round(v)) for v in p["box"])
        colour = (255, 255, 255) if p["picked"] else (150, 150, 150)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thick, cv2.LINE_AA)
        scale = 0.4 * radius
        label = str(p["person"])
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick + 1)
        cv2.rectangle(out, (x0, y0), (x0 + tw + 2 * radius, y0 + th + 2 * radius), colour, -1)
        cv2.putText(out, label, (x0 + radius, y0 + th + radius), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                    thick + 1, cv2.LINE_AA)
    return out


def draw_rejected(image: np.ndarray, rejected: list[dict], radius: int) -> np.ndarray:
    """Magenta crosses at the rejected landmarks (``x``, ``y`` pixels) over ``image``."""
    out = image.copy()
    for r in rejected:
        centre = (int(round(r["x"])), int(round(r["y"])))
        cv2.drawMarker(out, centre, (255, 0, 255), cv2.MARKER_TILTED_CROSS, 4 * radius, max(1, radius // 2),
                       cv2.LINE_AA)
    return out


def compose_overlay(shaded: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The two panels side by side, at most 2048 px wide in total → [H', W', 3] uint8."""
    both = np.concatenate([shaded, landmarks], axis=1)
    h, w = both.shape[:2]
    if w > 2048:
        both = np.asarray(Image.fromarray(both).resize((2048, max(1, round(h * 2048 / w))), Image.LANCZOS))
    return both
