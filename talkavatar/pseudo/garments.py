"""Dressing what the photo never showed: plain, plausible clothing by body part instead of inpainted skin.

The outfit is read from the texels the photo saw (:func:`read_outfit`, sRGB colours):

- skin: the face (front of the head between chin and brows, seen face-on);
- hair: the seen upper head where it is not skin-coloured (none: bald, or the top of the head unseen);
- upper garment: the dominant seen colour of the torso; a torso barely in the picture: the dominant non-skin colour
  of it and the arms together; bare (skin: then the arms are too) only where the photo shows skin over a good part
  of the torso (BARE_SHARE), not a throat or the neck a close-up's fitted torso sees;
- lower garment: the dominant seen colour of the thighs and shins; never seen: a neutral colour consistent with the
  outfit (the upper garment desaturated and drawn towards charcoal), never skin-coloured;
- shoes: the seen feet, else dark leather.

:func:`dress` then fills every texel still unknown after the earlier completion steps by its part: torso and arms
the upper garment (sleeves), thighs and shins the lower garment, feet the shoes, neck the skin, head the hair
(or skin if bald), hands the skin. A part the photo saw well keeps its own dominant colour instead; next to what
the photo saw, the seen garment's local colour continues (:func:`continued`). Filled texels get low-frequency
shading (a smooth +-6 % field over the rest surface, ~0.3 m wavelength; darker in creases: between the fingers,
under the arms) and fine texture noise with the spread of the seen fabric (capped), so unseen parts are neither
flat stickers nor streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from talkavatar.core.body.parts import PART
from talkavatar.core.color import shade_distance

SKIN_DEFAULT = np.array([0.80, 0.62, 0.52])
UPPER_DEFAULT = np.array([0.26, 0.29, 0.36])   # a navy-grey top when the photo shows no torso
CHARCOAL = np.array([0.20, 0.21, 0.24])
SHOES_DEFAULT = np.array([0.13, 0.12, 0.12])
MIN_TEXELS = 20          # seen texels a colour is read from
SEEN_SHARE = 0.15        # a part whose texels the photo saw at least this share of keeps its own colour
BARE_SHARE = 0.05        # skin seen on at least this share of the torso's texels (and on most of what is seen of
                         # it) makes a bare torso; less is the throat or a V-neck over a garment
SKIN_DISTANCE = 0.12     # sRGB distance within which a colour counts as the face's skin (lit as the face)
SKIN_CHROMA = 0.03       # a colour is the skin's within this chromaticity distance (unit) ...
SKIN_SHADE = np.log(1.6)  # ... and this log-luminance ratio (unit), combined: skin in shadow is still skin
SHADING = 0.06           # amplitude of the low-frequency shading
RELIEF = 0.5             # darkening of a dressed texel in a crease, per unit of enclosure (between two fingers
                         # ~0.5: a hand of one flat colour reads as fingers, not a blob)
RELIEF_RADIUS = 0.015    # metres: the neighbourhood of a texel's enclosure
MAX_NOISE = 0.03         # cap of the fine texture noise (sRGB standard deviation)
GRAIN = 0.6              # the noise's share of the seen fabric's spread (its median deviation from its colour)
CELL = 0.03              # metres: the rest-surface cells of the seen garment's local colour (continued)
SPREAD = 2.0             # cells: the Gaussian smoothing of that local colour (its reach, ~6 cm either side)


@dataclass(frozen=True)
class Outfit:
    """sRGB colours [3] in 0..1; ``hair`` None when bald or unknown; ``noise``: fine-texture standard deviation."""

    skin: np.ndarray
    hair: np.ndarray | None
    upper: np.ndarray
    lower: np.ndarray
    shoes: np.ndarray
    noise: float


def dominant(colours: np.ndarray) -> np.ndarray:
    """The dominant colour [3] of ``colours`` [N, 3]: the mean after three re-weightings towards the densest
    colour (mean shift from the median), so a logo or a shadow does not shift it."""
    centre = np.median(colours, 0)
    for _ in range(3):
        w = np.exp(-((colours - centre) ** 2).sum(1) / (2 * 0.08 ** 2)) + 1e-9
        centre = (colours * w[:, None]).sum(0) / w.sum()
    return centre


def skin_like(colour: np.ndarray, skin: np.ndarray) -> np.ndarray | bool:
    """Whether colours [..., 3] are the skin colour [3]: within SKIN_DISTANCE, or, when the skin has a hue, lit or
    shaded (:func:`shade_distance` within SKIN_CHROMA and SKIN_SHADE): the throat in the shadow under a close-up's
    chin is skin, dark hair and a brown jacket are not. A greyscale photo's skin has no hue to tell it by: there only
    the plain distance counts (a grey garment within a factor of the skin's brightness is not skin)."""
    near = np.linalg.norm(colour - skin, axis=-1) < SKIN_DISTANCE
    if shade_distance(skin, np.full(3, skin.mean()), SKIN_CHROMA, SKIN_SHADE) < 1.0:
        return near
    return near | (shade_distance(colour, skin, SKIN_CHROMA, SKIN_SHADE) < 1.0)


def read_outfit(rgb: np.ndarray, seen: np.ndarray, parts: np.ndarray, points: np.ndarray,
                normals: np.ndarray) -> Outfit:
    """rgb [N, 3] sRGB; seen [N] bool (well seen in the photo itself); parts [N] (:mod:`parts`); points, normals
    [N, 3] rest surface (+Y up, facing +Z)."""
    head = parts == PART["head"]
    skin = SKIN_DEFAULT
    hair = None
    if head.any():
        y = points[:, 1]
        low, high = y[head].min(), y[head].max()
        t = (y - low) / max(high - low, 1e-6)  # 0 at the chin, 1 at the crown
        face = seen & head & (normals[:, 2] > 0.6) & (t > 0.15) & (t < 0.6)
        if face.sum() >= MIN_TEXELS:
            skin = dominant(rgb[face])
        upper_head = seen & head & (t > 0.7)
        upper_head &= np.linalg.norm(rgb - skin, axis=1) > SKIN_DISTANCE * 1.5
        if upper_head.sum() >= MIN_TEXELS:
            hair = dominant(rgb[upper_head])
    upper = _upper_garment(rgb, seen, parts, skin)
    leg_part = np.isin(parts, [PART["thigh"], PART["shin"]])
    legs = seen & leg_part
    if legs.sum() >= max(MIN_TEXELS, SEEN_SHARE * leg_part.sum()):
        lower = dominant(rgb[legs])
    else:
        grey = np.full(3, upper.mean())
        lower = 0.6 * (0.25 * upper + 0.75 * grey) + 0.4 * CHARCOAL
        if skin_like(lower, skin):
            lower = CHARCOAL
    feet = seen & (parts == PART["foot"])
    shoes = dominant(rgb[feet]) if feet.sum() >= MIN_TEXELS else SHOES_DEFAULT
    garment = seen & ~np.isin(parts, [PART["head"], PART["hand"], PART["neck"]])
    spread = float(np.median(np.abs(rgb[garment] - dominant(rgb[garment])).mean(1))) if garment.sum() else 0.0
    return Outfit(skin, hair, upper, lower, shoes, min(MAX_NOISE, GRAIN * spread))


def _upper_garment(rgb: np.ndarray, seen: np.ndarray, parts: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The dominant seen colour of the torso's garment: of the torso's seen texels when the photo shows SEEN_SHARE of
    it, else (a close-up's strip of shirt, which the fit may give to the shoulders and mix with the throat) of the
    torso's and arms' non-skin seen texels together; else UPPER_DEFAULT. Skin seen on the torso makes a
    bare torso only when it covers BARE_SHARE of it and most of what is seen of it: a close-up's fitted torso
    sees the throat and the neck under the chin."""
    torso_part = parts == PART["torso"]
    torso = seen & torso_part
    bare = _where_skin(rgb, torso, skin)
    if bare.sum() >= max(MIN_TEXELS, BARE_SHARE * torso_part.sum()) and bare.sum() > 0.5 * torso.sum():
        return dominant(rgb[bare])
    if torso.sum() >= SEEN_SHARE * torso_part.sum():  # well seen: its dominant colour (a V-neck is a minority)
        return dominant(rgb[torso])
    seen_top = seen & np.isin(parts, [PART["torso"], PART["upper_arm"], PART["forearm"]])
    garment = seen_top & ~_where_skin(rgb, seen_top, skin)
    return dominant(rgb[garment]) if garment.sum() >= MIN_TEXELS else UPPER_DEFAULT


def _where_skin(rgb: np.ndarray, where: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """[N] bool: the texels ``where`` [N] bool whose colour (``rgb`` [N, 3]) is :func:`skin_like`; only those are
    tested (the same values as testing all ~700k texels of a 1024² map, in a fraction of the time)."""
    out = np.zeros(len(where), bool)
    out[where] = skin_like(rgb[where], skin)
    return out


def part_colours(outfit: Outfit, rgb: np.ndarray, seen: np.ndarray, parts: np.ndarray) -> dict[int, np.ndarray]:
    """The fill colour of each part: its own dominant seen colour when seen well, else the outfit's rule."""
    rule = {"torso": outfit.upper, "upper_arm": outfit.upper, "forearm": outfit.upper, "thigh": outfit.lower,
            "shin": outfit.lower, "foot": outfit.shoes, "neck": outfit.skin, "hand": outfit.skin,
            "head": outfit.hair if outfit.hair is not None else outfit.skin}
    colours = {}
    for name, colour in rule.items():
        own = seen & (parts == PART[name])
        well_seen = own.sum() >= max(MIN_TEXELS, SEEN_SHARE * (parts == PART[name]).sum())
        colours[PART[name]] = dominant(rgb[own]) if well_seen and name != "head" else colour
    if skin_like(outfit.upper, outfit.skin):  # a bare torso: bare arms
        for name in ("upper_arm", "forearm"):
            colours[PART[name]] = outfit.skin
    return colours


def shading(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """[N] a smooth field in -1..1 over rest points [N, 3]: three plane waves, ~0.3 m wavelength."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(3, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    phases = rng.uniform(0, 2 * np.pi, 3)
    return np.sin(points @ directions.T * (2 * np.pi / 0.3) + phases).mean(1)


def continued(base: np.ndarray, fill: np.ndarray, parts: np.ndarray, rgb: np.ndarray, sources: np.ndarray,
              points: np.ndarray) -> np.ndarray:
    """[N, 3]: ``base`` [N, 3] (each texel's part colour) with the texels ``fill`` [N] bool drawn towards the local
    mean colour of their own part's ``sources`` [N] bool (seen texels; ``rgb`` [N, 3]) around them on the rest
    surface (``points`` [N, 3]; CELL-sized cells, smoothed over ~2 cells), in proportion to the share of the part's
    texels there that are sources: the seen fabric's light and shade continue past the photo's edge (a shirt lit
    from above: its bright chest is not the colour of its shaded waist, which the photo's lower edge cuts off)."""
    out = base.copy()
    cells = np.floor((points - points.min(0)) / CELL).astype(np.int64)
    shape = tuple(cells.max(0) + 1)
    flat = np.ravel_multi_index(cells.T, shape)

    for part in np.unique(parts[fill]):
        own = parts == part
        src = own & sources
        if src.sum() < MIN_TEXELS:
            continue
        where = fill & own
        at = tuple(cells[where].T)

        def smooth(texels, weights):  # the grid of the texels' weights, smoothed, read at ``where``
            grid = np.bincount(flat[texels], weights, minlength=int(np.prod(shape))).reshape(shape)
            return gaussian_filter(grid, SPREAD, mode="constant")[at]

        weight = smooth(src, np.ones(int(src.sum())))
        share = np.clip(2 * weight / np.maximum(smooth(own, np.ones(int(own.sum()))), 1e-9), 0, 1)
        local = np.stack([smooth(src, rgb[src, c]) for c in range(3)], 1) / np.maximum(weight, 1e-9)[:, None]
        out[where] = share[:, None] * local + (1 - share[:, None]) * base[where]
    return out


def dress(rgb: np.ndarray, fill: np.ndarray, base: np.ndarray, points: np.ndarray, enclosed: np.ndarray,
          noise: float, seed: int = 0) -> np.ndarray:
    """rgb [N, 3] with the texels ``fill`` [N] bool set to their colour in ``base`` [N, 3], shaded (and darker in
    creases, ``enclosed`` [N] in 0..1: :func:`~talkavatar.pseudo.mesh.enclosure`) and textured."""
    out = rgb.copy()
    light = (1 + SHADING * shading(points[fill], seed)[:, None]) * (1 - RELIEF * enclosed[fill, None])
    grain = np.random.default_rng(seed + 1).normal(0.0, noise, (int(fill.sum()), 1))
    out[fill] = np.clip(base[fill] * light + grain, 0, 1)
    return out
