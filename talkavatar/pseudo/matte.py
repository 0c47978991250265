"""The person mask as a source of colours: the segmenter's mask without the background it took in at its border.

MediaPipe's person mask leaks onto plain backgrounds next to the person (side_45: the blue wall between the hair
and the shoulder and under the chin is inside the mask). Texturing from those pixels gives the body the wall's
colour: the dominant "torso" colour becomes the wall's, and every unseen part dressed from it turns wall-blue.
:func:`background_leak` finds them: mask pixels whose colour is that of the background just outside the mask
(a normalised convolution of the pixels outside it) or, on a plain background, that of the background as a whole
(its dominant colour: a light frame along the photo's border mixes into the local average there — laughing's grey
strip under a light-blue wall made his grey T-shirt's waist pass for the background and the wall between his arm and
his side for the shirt, so the texture's waist turned cyan), in regions that touch the outside, within ``reach`` of
the mask's edge, and never inside the face (its Face Mesh oval: a beige wall does not take a cheek; the wall between
a turned face's nose and chin, outside the oval, is not protected). A greyscale photo has no hue to tell the person
from the sky: there the brightness must match more closely (GREY_SHADE).
A flat margin around the picture (a screenshot's frame: laughing's light grey one, 6-16 px on every side) is not the
scene either (:func:`picture_frame`): where the mask reaches it (his shirt at the lower edge) the texture's waist
took its light grey. Where the garment has the background's colour, dropping its border changes nothing the
completion cannot restore (the texels count as unseen and get the garment's colour from the rest of it).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from talkavatar.core.body.landmarks import FACE_OVAL
from talkavatar.core.color import is_greyscale, shade_distance
from talkavatar.pseudo.garments import dominant

WORK_SIDE = 512       # the test runs on the image scaled to at most this many pixels (longer side)
SIGMA = 0.03          # the local background's Gaussian window, share of the longer side
NEAR = 0.05           # a pixel's local background must rest on at least this share of the window's weight
CHROMA = 0.03         # chromaticity (r, g, b over their sum) distance unit
SHADE = np.log(2.0)   # log-luminance ratio unit: the background in the person's shadow is still the background
REACH = 0.06          # at most this far inside the mask (share of the longer side)
ROUNDS = 4            # growing rounds
PLAIN = 0.6           # a background is plain when this share of the pixels outside the mask is its dominant colour
GREY_SHADE = np.log(1.3)  # a greyscale photo's log-luminance ratio unit: no hue tells the person from the sky
# (soldier_bw: 25.9 % of the mask taken for sky at a factor 2, 14.8 % at 1.3, 7.0 % at 1.15, where camera's held
# camera counted as the person and its light metal went onto both gloves)
FRAME_FLAT = 0.01     # a row or column at the picture's edge whose pixels vary by less than this (sRGB standard
                      # deviation, and from the edge's colour) is a frame around the picture: nothing of a scene is
                      # that flat
FRAME_MAX = 0.1       # share of the picture's side a frame may take


def background_leak(image: np.ndarray, mask: np.ndarray, face_xy: np.ndarray | None = None) -> np.ndarray:
    """image: [H, W, 3] uint8 sRGB; mask: [H, W] bool; face_xy: [478, 2] Face Mesh pixels (the face oval is
    protected) or None. Returns [H, W] bool: mask pixels that show the background."""
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    img = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    inside = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    if inside.all() or not inside.any():
        return picture_frame(image) & mask
    protected = np.zeros(inside.shape, bool)
    if face_xy is not None and len(face_xy) >= 3:
        face = np.zeros(inside.shape, np.uint8)
        cv2.fillPoly(face, [np.round(face_xy[list(FACE_OVAL), :2] * scale).astype(np.int32)], 1)
        protected = face.astype(bool)
    depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 5)
    reach = inside & ~protected & (depth < REACH * max(size))
    shade = GREY_SHADE if is_greyscale(img) else SHADE
    plain = plain_background(img, inside, shade)
    leak = np.zeros(inside.shape, bool)
    for _ in range(ROUNDS):  # each round's leak counts as outside in the next: the test grows into a deep patch
        grown = _leak(img, inside & ~leak, reach & ~leak, SIGMA * max(size), plain, shade)
        if not grown.any():
            break
        leak |= grown
    if scale < 1.0:
        leak = cv2.resize(leak.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    return (leak | picture_frame(image)) & mask


def picture_frame(image: np.ndarray) -> np.ndarray:
    """[H, W] bool: the flat margin around ``image`` [H, W, 3] uint8: from each edge inwards, the rows (columns) whose
    pixels are all of one colour (within FRAME_FLAT), at most FRAME_MAX of the side, when all four edges have one
    and it is the same colour (a frame; a flat edge alone may be a scene's plain wall or a clipped black garment)."""
    img = image.astype(np.float32) / 255
    h, w = img.shape[:2]
    cols = img.transpose(1, 0, 2)
    sides = (img, img[::-1], cols, cols[::-1])
    edges = np.stack([side[0].mean(0) for side in sides])

    def depth(lines: np.ndarray) -> int:  # lines [L, K, 3], the first at the edge
        for n, line in enumerate(lines[:int(FRAME_MAX * len(lines))]):
            if line.std(0).max() >= FRAME_FLAT or np.abs(line.mean(0) - edges[0]).max() >= FRAME_FLAT:
                return n
        return int(FRAME_MAX * len(lines))

    top, bottom, left, right = (depth(side) for side in sides)
    frame = np.zeros((h, w), bool)
    if min(top, bottom, left, right) > 0:
        frame[:top], frame[h - bottom:], frame[:, :left], frame[:, w - right:] = True, True, True, True
    return frame


def plain_background(img: np.ndarray, inside: np.ndarray, shade: float) -> np.ndarray | None:
    """The dominant colour [3] of the pixels of ``img`` [h, w, 3] outside ``inside`` [h, w] bool when at least PLAIN of
    them are a shade of it (within ``shade``, a log-luminance ratio unit: a studio wall); None for a busy background
    (a street, a field and the sky)."""
    outside = img[~inside].reshape(-1, 3)
    sample = outside[:: max(1, len(outside) // 20000)]
    colour = dominant(torch.from_numpy(sample.astype(np.float64)))
    plain = (shade_distance(torch.from_numpy(sample), colour, CHROMA, shade) < 1.0).double().mean()
    return colour.numpy() if plain >= PLAIN else None


def _leak(img: np.ndarray, inside: np.ndarray, candidates: np.ndarray, sigma: float,
          plain: np.ndarray | None, shade: float) -> np.ndarray:
    """One round: ``candidates`` [h, w] bool pixels of the colour of the background around them (of the ``plain``
    background's colour [3]; None: a busy background, the local one), in pieces that touch the outside of
    ``inside``. img: [h, w, 3] float."""
    outside = (~inside).astype(np.float32)
    weight = cv2.GaussianBlur(outside, (0, 0), sigma)
    local = cv2.GaussianBlur(img * outside[..., None], (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
    reference = local if plain is None else plain
    like = candidates & (weight > NEAR) & \
        (shade_distance(torch.from_numpy(img), torch.from_numpy(reference), CHROMA, shade) < 1.0).numpy()
    count, labels = cv2.connectedComponents(like.astype(np.uint8), connectivity=8)
    border = cv2.dilate(outside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & like
    touching = np.zeros(count, bool)
    touching[np.unique(labels[border])] = True
    touching[0] = False
    return touching[labels]
