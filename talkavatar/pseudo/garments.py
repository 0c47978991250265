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

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from talkavatar.core.body.parts import PART
from talkavatar.core.color import shade_distance

SKIN_DEFAULT = (0.80, 0.62, 0.52)
UPPER_DEFAULT = (0.26, 0.29, 0.36)   # a navy-grey top when the photo shows no torso
CHARCOAL = (0.20, 0.21, 0.24)
SHOES_DEFAULT = (0.13, 0.12, 0.12)
MIN_TEXELS = 20          # seen texels a colour is read from
SEEN_SHARE = 0.15        # a part whose texels the photo saw at least this share of keeps its own colour
BARE_SHARE = 0.05        # skin seen on at least this share of the torso's texels (and on most of what is seen of
                         # it) makes a bare torso; less is the throat or a V-neck over a garment
SKIN_DISTANCE = 0.12     # sRGB distance within which a colour counts as the face's skin (lit as the face)
SKIN_CHROMA = 0.03       # a colour is the skin's within this chromaticity distance (unit) ...
SKIN_SHADE = math.log(1.6)  # ... and this log-luminance ratio (unit), combined: skin in shadow is still skin
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
    """sRGB colours [3] (float64 tensors on the texels' device) in 0..1; ``hair`` None when bald or unknown;
    ``noise``: fine-texture standard deviation."""

    skin: Tensor
    hair: Tensor | None
    upper: Tensor
    lower: Tensor
    shoes: Tensor
    noise: float


def median(values: Tensor, dim: int | None = None) -> Tensor:
    """numpy's median (the mean of the two middle values of an even count; torch's ``median`` takes the lower; nan
    of none, as numpy's)."""
    if values.numel() == 0:
        return values.new_full(values.shape[:dim] + values.shape[dim + 1:] if dim is not None else (), math.nan)
    return torch.quantile(values, 0.5) if dim is None else torch.quantile(values, 0.5, dim=dim)


def dominant(colours: Tensor) -> Tensor:
    """The dominant colour [3] of ``colours`` [N, 3] (float64): the mean after three re-weightings towards the
    densest colour (mean shift from the median), so a logo or a shadow does not shift it."""
    centre = median(colours, 0)
    for _ in range(3):
        w = torch.exp(-((colours - centre) ** 2).sum(1) / (2 * 0.08 ** 2)) + 1e-9
        centre = (colours * w[:, None]).sum(0) / w.sum()
    return centre


def skin_like(colour: Tensor, skin: Tensor) -> Tensor:
    """Whether colours [..., 3] are the skin colour [3]: within SKIN_DISTANCE, or, when the skin has a hue, lit or
    shaded (:func:`shade_distance` within SKIN_CHROMA and SKIN_SHADE): the throat in the shadow under a close-up's
    chin is skin, dark hair and a brown jacket are not. A greyscale photo's skin has no hue to tell it by: there only
    the plain distance counts (a grey garment within a factor of the skin's brightness is not skin). [...] bool."""
    near = (colour - skin).norm(dim=-1) < SKIN_DISTANCE
    if shade_distance(skin, skin.mean().expand(3), SKIN_CHROMA, SKIN_SHADE) < 1.0:
        return near
    return near | (shade_distance(colour, skin, SKIN_CHROMA, SKIN_SHADE) < 1.0)


def read_outfit(rgb: Tensor, seen: Tensor, parts: Tensor, points: Tensor, normals: Tensor) -> Outfit:
    """rgb [N, 3] sRGB (float64); seen [N] bool (well seen in the photo itself); parts [N] (:mod:`parts`); points,
    normals [N, 3] rest surface (+Y up, facing +Z); all on one device."""
    head = parts == PART["head"]
    skin = rgb.new_tensor(SKIN_DEFAULT)
    hair = None
    if head.any():
        y = points[:, 1]
        low, high = y[head].min(), y[head].max()
        t = (y - low) / (high - low).clamp_min(1e-6)  # 0 at the chin, 1 at the crown
        face = seen & head & (normals[:, 2] > 0.6) & (t > 0.15) & (t < 0.6)
        if face.count_nonzero() >= MIN_TEXELS:
            skin = dominant(rgb[face])
        upper_head = seen & head & (t > 0.7)
        upper_head &= (rgb - skin).norm(dim=1) > SKIN_DISTANCE * 1.5
        if upper_head.count_nonzero() >= MIN_TEXELS:
            hair = dominant(rgb[upper_head])
    upper = _upper_garment(rgb, seen, parts, skin)
    leg_part = torch.isin(parts, parts.new_tensor([PART["thigh"], PART["shin"]]))
    legs = seen & leg_part
    if legs.count_nonzero() >= max(MIN_TEXELS, SEEN_SHARE * int(leg_part.count_nonzero())):
        lower = dominant(rgb[legs])
    else:
        grey = upper.mean().expand(3)
        lower = 0.6 * (0.25 * upper + 0.75 * grey) + 0.4 * rgb.new_tensor(CHARCOAL)
        if skin_like(lower, skin):
            lower = rgb.new_tensor(CHARCOAL)
    feet = seen & (parts == PART["foot"])
    shoes = dominant(rgb[feet]) if feet.count_nonzero() >= MIN_TEXELS else rgb.new_tensor(SHOES_DEFAULT)
    garment = seen & ~torch.isin(parts, parts.new_tensor([PART["head"], PART["hand"], PART["neck"]]))
    spread = float(median((rgb[garment] - dominant(rgb[garment])).abs().mean(1))) if garment.any() else 0.0
    return Outfit(skin, hair, upper, lower, shoes, min(MAX_NOISE, GRAIN * spread))


def _upper_garment(rgb: Tensor, seen: Tensor, parts: Tensor, skin: Tensor) -> Tensor:
    """The dominant seen colour of the torso's garment: of the torso's seen texels when the photo shows SEEN_SHARE of
    it, else (a close-up's strip of shirt, which the fit may give to the shoulders and mix with the throat) of the
    torso's and arms' non-skin seen texels together; else UPPER_DEFAULT. Skin seen on the torso makes a
    bare torso only when it covers BARE_SHARE of it and most of what is seen of it: a close-up's fitted torso
    sees the throat and the neck under the chin."""
    torso_part = parts == PART["torso"]
    torso = seen & torso_part
    bare = _where_skin(rgb, torso, skin)
    bare_count, torso_count, part_count = (int(m.count_nonzero()) for m in (bare, torso, torso_part))
    if bare_count >= max(MIN_TEXELS, BARE_SHARE * part_count) and bare_count > 0.5 * torso_count:
        return dominant(rgb[bare])
    if torso_count >= SEEN_SHARE * part_count:  # well seen: its dominant colour (a V-neck is a minority)
        return dominant(rgb[torso])
    seen_top = seen & torch.isin(parts, parts.new_tensor([PART["torso"], PART["upper_arm"], PART["forearm"]]))
    garment = seen_top & ~_where_skin(rgb, seen_top, skin)
    return dominant(rgb[garment]) if garment.count_nonzero() >= MIN_TEXELS else rgb.new_tensor(UPPER_DEFAULT)


def _where_skin(rgb: Tensor, where: Tensor, skin: Tensor) -> Tensor:
    """[N] bool: the texels ``where`` [N] bool whose colour (``rgb`` [N, 3]) is :func:`skin_like`; only those are
    tested (the same values as testing all ~700k texels of a 1024² map, in a fraction of the time)."""
    out = torch.zeros_like(where)
    out[where] = skin_like(rgb[where], skin)
    return out


def part_colours(outfit: Outfit, rgb: Tensor, seen: Tensor, parts: Tensor) -> dict[int, Tensor]:
    """The fill colour [3] of each part: its own dominant seen colour when seen well, else the outfit's rule."""
    rule = {"torso": outfit.upper, "upper_arm": outfit.upper, "forearm": outfit.upper, "thigh": outfit.lower,
            "shin": outfit.lower, "foot": outfit.shoes, "neck": outfit.skin, "hand": outfit.skin,
            "head": outfit.hair if outfit.hair is not None else outfit.skin}
    colours = {}
    for name, colour in rule.items():
        part = parts == PART[name]
        own = seen & part
        well_seen = own.count_nonzero() >= max(MIN_TEXELS, SEEN_SHARE * int(part.count_nonzero()))
        colours[PART[name]] = dominant(rgb[own]) if well_seen and name != "head" else colour
    if skin_like(outfit.upper, outfit.skin):  # a bare torso: bare arms
        for name in ("upper_arm", "forearm"):
            colours[PART[name]] = outfit.skin
    return colours


def shading(points: Tensor, seed: int = 0) -> Tensor:
    """[N] a smooth field in -1..1 over rest points [N, 3] (float64): three plane waves, ~0.3 m wavelength (drawn
    by numpy's generator from ``seed``, so every device gets the same waves)."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(3, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    phases = rng.uniform(0, 2 * np.pi, 3)
    return torch.sin(points @ points.new_tensor(directions).T * (2 * np.pi / 0.3) + points.new_tensor(phases)).mean(1)


def gaussian_blur(grid: Tensor, sigma: float, axes: int, truncate: float = 4.0) -> Tensor:
    """``grid`` [D0, ..., C] (float64) smoothed along its first ``axes`` axes by a Gaussian of ``sigma`` cells, zeros
    beyond its edges: scipy's ``gaussian_filter(grid[..., c], sigma, mode="constant")`` for each c (its kernel:
    ``int(truncate * sigma + 0.5)`` cells either side, normalised), as separable 1-D convolutions."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=grid.dtype, device=grid.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = (kernel / kernel.sum()).reshape(1, 1, -1)
    for axis in range(axes):
        moved = grid.movedim(axis, -1)
        flat = F.conv1d(moved.reshape(-1, 1, moved.shape[-1]), kernel, padding=radius)
        grid = flat.reshape(moved.shape).movedim(-1, axis)
    return grid


def continued(base: Tensor, fill: Tensor, parts: Tensor, rgb: Tensor, sources: Tensor, points: Tensor) -> Tensor:
    """[N, 3]: ``base`` [N, 3] (each texel's part colour) with the texels ``fill`` [N] bool drawn towards the local
    mean colour of their own part's ``sources`` [N] bool (seen texels; ``rgb`` [N, 3]) around them on the rest
    surface (``points`` [N, 3]; CELL-sized cells, smoothed over ~2 cells), in proportion to the share of the part's
    texels there that are sources: the seen fabric's light and shade continue past the photo's edge (a shirt lit
    from above: its bright chest is not the colour of its shaded waist, which the photo's lower edge cuts off)."""
    out = base.clone()
    cells = torch.floor((points - points.min(0).values) / CELL).long()
    shape = (cells.max(0).values + 1).tolist()
    flat = (cells[:, 0] * shape[1] + cells[:, 1]) * shape[2] + cells[:, 2]

    for part in torch.unique(parts[fill]).tolist():
        own = parts == part
        src = own & sources
        if src.count_nonzero() < MIN_TEXELS:
            continue
        where = fill & own
        at = flat[where]

        def smooth(texels: Tensor, weights: Tensor) -> Tensor:  # the grid of the texels' weights [T, C], smoothed,
            grid = weights.new_zeros(shape[0] * shape[1] * shape[2], weights.shape[1])  # read at ``where`` [W, C]
            grid.index_add_(0, flat[texels], weights)
            return gaussian_blur(grid.reshape(*shape, -1), SPREAD, 3).reshape(-1, weights.shape[1])[at]

        both = smooth(src, torch.cat([torch.ones_like(rgb[src, :1]), rgb[src]], 1))  # [W, 4]: weight, colour sums
        weight = both[:, 0]
        share = (2 * weight / smooth(own, torch.ones_like(rgb[own, :1]))[:, 0].clamp_min(1e-9)).clamp(0, 1)
        local = both[:, 1:] / weight.clamp_min(1e-9)[:, None]
        out[where] = share[:, None] * local + (1 - share[:, None]) * base[where]
    return out


def dress(rgb: Tensor, fill: Tensor, base: Tensor, points: Tensor, enclosed: Tensor, noise: float,
          seed: int = 0) -> Tensor:
    """rgb [N, 3] with the texels ``fill`` [N] bool set to their colour in ``base`` [N, 3], shaded (and darker in
    creases, ``enclosed`` [N] in 0..1: :func:`~talkavatar.pseudo.mesh.enclosure`) and textured (the grain drawn by
    numpy's generator from ``seed``: the same on every device)."""
    out = rgb.clone()
    light = (1 + SHADING * shading(points[fill], seed)[:, None]) * (1 - RELIEF * enclosed[fill, None])
    grain = np.random.default_rng(seed + 1).normal(0.0, noise, (int(fill.count_nonzero()), 1))
    out[fill] = (base[fill] * light + rgb.new_tensor(grain)).clamp(0, 1)
    return out
