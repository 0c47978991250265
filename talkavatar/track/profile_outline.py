"""The nose tip of a face in profile, read off the person mask.

On a face turned beyond ~45 degrees MediaPipe finds no Face Mesh and reads a frontal face squeezed onto the near
cheek: :mod:`gating` rejects its nose, eyes and mouth corners and keeps the near ear
(:func:`~talkavatar.track.gating.profile_turn`), and the head is then placed by that ear and the silhouette alone,
on a grid far too coarse for a nose. But a profile's face is its outline against the background, and the refined
person mask follows it: the nose tip is the point the mask reaches farthest in front of the ear, near the ear's
height. :func:`place_profile_noses` puts the body's nose point there (combat / soldier_bw, ~80 degrees: the fitted
nose 3 % of the person's height above and behind the nose tip without it, 0.6 % with it).
"""

from __future__ import annotations

import numpy as np

from talkavatar.track.gating import HEAD_SIDES, HEIGHT_RATIOS, body_height

TIP_BAND = 0.5
"""The nose tip is looked for on the rows within this many face lengths (forehead to chin) of the ear's height: a
face tilted back by ~30 degrees still has its tip there, the chin (~0.7 below) does not."""
TIP_REACH = (0.5, 1.3)
"""Plausible distance from the ear to the nose tip of a profile, in face lengths (an adult's ~0.6-0.9; the
soldier's 0.88): a shorter reach is a mask that stops at the cheek, a longer one runs into whatever is in front of
the face (a raised arm, another person), and such a row is not read."""


TIE = 0.02
"""Runs within this many face lengths of the longest one tie with it; the topmost rows that tie are the nose tip's:
a shouting soldier's upper lip and chin reach as far forward as his nose tip (within 1 px of 104, a face length
118 px), and the nose is the first protrusion below the brow."""


def profile_nose(mask: np.ndarray, ear: np.ndarray, facing: int, face_length: float) -> np.ndarray | None:
    """[2] the nose tip of a face in profile in ``mask`` [H, W] (person coverage, > 0.5 inside): on each row within
    :data:`TIP_BAND` face lengths of ``ear`` [2] (px), the run of mask pixels from the ear in the ``facing``
    direction (-1: towards x = 0, +1: away from it) without a gap; the tip ends the longest run, on the middle of
    the topmost rows that tie with it (:data:`TIE`). None where no row's run lies within :data:`TIP_REACH`."""
    h, w = mask.shape
    x0, y0 = int(round(float(ear[0]))), int(round(float(ear[1])))
    band = int(round(TIP_BAND * face_length))
    rows = np.arange(max(0, y0 - band), min(h, y0 + band + 1))
    cols = x0 + facing * np.arange(int(TIP_REACH[1] * face_length) + 2)
    cols = cols[(cols >= 0) & (cols < w)]
    if not len(rows) or not len(cols) or cols[0] != x0:
        return None
    inside = mask[np.ix_(rows, cols)] > 0.5  # [R, C]: each row read from the ear forwards
    run = np.where(inside.all(1), len(cols), np.argmin(inside, 1))  # pixels inside before the first gap
    reach = (run - 1) / face_length
    readable = (reach >= TIP_REACH[0]) & (reach <= TIP_REACH[1]) & ~inside.all(1)  # not cut by the frame's edge
    if not readable.any():
        return None
    longest = run[readable].max()
    near = readable & (run >= longest - TIE * face_length)
    first = int(np.argmax(near))
    block = first + (np.argmin(near[first:]) if not near[first:].all() else len(near) - first)
    return np.array([x0 + facing * (longest - 1), rows[first:block].mean()], np.float32)


def place_profile_noses(detections, masks: list[np.ndarray]) -> None:
    """For every detection of a face in profile (``det.turn``, :func:`~talkavatar.track.gating.gate_detections`),
    the body's nose point (MediaPipe pose 0, which the gating rejected) moved to :func:`profile_nose` of its refined
    ``mask`` [H, W] and trusted again, in place; facing the side where MediaPipe's own nose lies from the near ear.
    Left rejected where the outline shows no nose."""
    for det, mask in zip(detections, masks):
        if not det.turn or "body" not in det.trust:
            continue
        size = (mask.shape[1], mask.shape[0])
        ear = det.body[HEAD_SIDES["left" if det.turn < 0 else "right"][3], :2]
        facing = 1 if det.body[0, 0] > ear[0] else -1
        tip = profile_nose(mask, ear, facing, HEIGHT_RATIOS["face"] * body_height(det, size))
        if tip is not None:
            det.body = det.body.copy()
            det.body[0, :2] = tip
            det.trust["body"][0] = 1.0
