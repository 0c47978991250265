"""Completing the UV texture where the photo does not see the surface.

In order, each step filling only what the previous ones left (confidence decreasing):

0. hands: a seen hand texel that is not the hands' material (their dominant seen colour, lit or shaded) shows what
   the hand holds and counts as unseen;
1. left/right symmetry: a texel takes its mirror texel's colour (the face mirror map of :mod:`mesh`, barycentrics
   carried across) where that one was seen well (not at a grazing angle), and, below the head, replaces a grazing
   seen colour by a much more confident mirror one. On the head only what the photo does not see at all is
   mirrored: a turned face's far cheek keeps the photo's colours, which the fit's photo loss keeps anyway (a fitted
   head never matches the real one exactly: mirrored near-side eyes, nostrils and hair land beside the far side's
   own, a second face once the fit blends both);
1b. a profile (the photo saw the face from beyond :data:`~talkavatar.core.body.facing.PROFILE_YAW`): its face,
   which the photo saw edge-on (the nose, lips and chin: the outline's smear) or in a profile's shadows, is drawn
   from the rig's geometry in the seen cheek's tone: lit from the front, eyes, brows and lips darker
   (:func:`_profile_front`; the fit gives those Gaussians this colour back,
   :func:`~talkavatar.fit.visibility.profile_front`);
2. transfer from the seen front below the head: an unseen texel (the back, or a side hidden behind an arm) takes
   the mean colour of the well seen front surface around the same (x, y) of the rest pose (``cell``-sized cells,
   3 x 3 neighbourhood, a few mean-shift steps towards its dominant colour), so the back gets the
   garment's colour without copies of front details;
3. head and hair: an unseen head texel takes the colour of the seen sides of the head at its height (texels seen
   at a grazing angle, but not from the mask's edge band), drawn towards the colour of the top of the head (the
   seen crown and upper sides: hair, or skin if bald) where the two differ, since the sides at jaw height show
   the cheeks, which the back of the head does not;
4. every texel still unknown is dressed by its body part (:mod:`garments`): torso and arms the seen upper
   garment, legs the seen lower garment or neutral trousers, feet shoes, neck skin, head the seen hair; hands the
   photo never shows (one behind an object, both out of frame) the seen hands' colour (glove or skin), else the
   face's skin; next to what the photo or the mirror shows, its local colour continues (a shirt's shaded waist
   below the photo's lower edge is not the colour of its bright chest); with low-frequency shading and the seen
   fabric's grain, never an inpainted smear;
5. the gutter between charts (texels no triangle covers) filled so the result has no unfilled texel
   (:func:`fill_gutter`: the chart's edge continued one texel, then a push-pull pyramid).

Every per-texel step is torch on the caller's device (float64; the CPU is the reference twin,
tests/test_pseudo_texture.py compares CUDA with it): on a GPU the ~0.7 M texels of a 1024² map are a few hundred
small kernels instead of ~1 s of numpy on the host. What is per vertex or per face (the mirror map's k-d tree,
creases, parts by skinning bone) stays numpy on the host. Random draws (the dressed grain and shading) come from
numpy's generator, so each device gets the same.

The chin and the jaw's underside are skin: seen only at a grazing angle, their colours mix in the shadow under the
chin (a dark rim once the jaw opens), so they are treated as unseen, skipped by the head band step and dressed as
neck (skin). So is the forward-facing face below the eyes where neither the photo nor the mirror shows it (a
turned face's far cheek: the head band gave it the hair's colour at its height), and the forward-facing face behind
a hand in the photo (laughing's forehead: the head band gave it a brown cap of hair), which takes the face's lit skin
(:func:`_lit_skin`: a beard darkens the outfit's skin) shaded as a face lit from the front (:func:`front_light`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from talkavatar.core.binding import Binding
from talkavatar.core.body.facing import PROFILE_WELL_SEEN, PROFILE_YAW, ProfileFace, head_height, profile_face
from talkavatar.core.body.mouth import MOUTH_COLOURS
from talkavatar.core.color import shade_distance
from talkavatar.pseudo.garments import (MIN_TEXELS, RELIEF_RADIUS, continued, dominant, dress, median, part_colours,
                                        read_outfit, skin_like)
from talkavatar.pseudo.mesh import enclosure, face_mirror, face_normals, head_vertices, vertex_mirror
from talkavatar.core.body.parts import PART, nearest_corners, strongest_bone_names, texel_parts
from talkavatar.pseudo.texture import texels_to_image


EDGE_CONFIDENCE = 0.06  # seen texels at most this confident came from the mask's edge band (texture.py fades them)
SOURCE_CONFIDENCE = 0.1  # mirror and front sources seen at least this well (grazing colours mix in the background)
JAW_HEIGHT = 0.3  # the chin and jaw: the head's lowest 30 % (front and sides)
CHEEK_HEIGHT = 0.5  # the face below the eyes, facing forward (normal z above CHEEK_FACING): skin where neither the
CHEEK_FACING = 0.3  # photo nor the mirror says (the face's sides, where hair may lie, keep the head band's colour)
HAIRLINE = 0.8  # the forehead behind a hand is skin up to this height of the head (0 chin, 1 crown); hair above
JAW = max(PART.values()) + 1  # the chin and jaw's own fill "part" (the face's skin)
HAND_CHROMA = 0.05  # a hand texel is the hands' material within this chromaticity distance (unit) ...
HAND_SHADE = math.log(3.0)  # ... and this log-luminance ratio (unit), combined: a hand in shadow is still the hand
FACE_LIGHT, FACE_AMBIENT = (0.0, 0.35, 1.0), 0.35  # a drawn face's light: from the front and a little above (rest
# pose), and the shade of a surface facing away from it
EYE_SHADE = 0.25  # a drawn face's eyeballs: this share of the tone
FACE_MARKS = {  # a drawn face's soft dark marks: (offset from the centre, half size across and up, depth) in metres
    "lips": (((0.0, 0.0, 0.0), (0.025, 0.008), 0.5),),                      # about the lip point
    "eye": (((0.0, 0.0, 0.0), (0.018, 0.012), 0.45),                        # the socket, about the eyeball
            ((0.0, 0.024, 0.0), (0.022, 0.005), 0.5)),                      # the brow above it
}


def robust_mean(colours: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean colour [3] of ``colours`` [N, 3] after down-weighting those far from the weighted median
    (a badge on a glove, a shadow); float64."""
    centre = torch.stack([_weighted_median(colours[:, c], weights) for c in range(3)])
    w = weights * torch.exp(-((colours - centre) ** 2).sum(1) / (2 * 0.1 ** 2))
    return (colours * w[:, None]).sum(0) / w.sum().clamp_min(1e-12)


def _weighted_median(values: Tensor, weights: Tensor) -> Tensor:
    ordered, order = torch.sort(values)
    cumulative = torch.cumsum(weights[order], 0)
    return ordered[torch.searchsorted(cumulative, cumulative[-1:] / 2)[0]]


def mirror_texels(rig, binding: Binding) -> tuple[Tensor, Tensor]:
    """For each texel, the (col, row) of its mirror texel [N, 2] int64 and whether it has one [N] bool, on the
    binding's device (the vertex and face mirror maps on the host, :mod:`mesh`)."""
    mirror, dist = vertex_mirror(rig.vertices.detach().cpu().double().numpy())
    faces = rig.faces.cpu().numpy()
    findex, perm = face_mirror(faces, mirror)
    dev = binding.face_index.device
    f = binding.face_index
    g = torch.from_numpy(findex).to(dev)[f]
    far = torch.from_numpy(dist[faces].max(1)).to(dev)  # [F] the face's corners' largest reflection distance
    ok = (g >= 0) & (far[f] < 0.02)
    bary = binding.barycentrics.double()
    moved = torch.zeros_like(bary).scatter_(1, torch.from_numpy(perm).to(dev)[f], bary)
    uv = (rig.face_uvs.to(dev, torch.float64)[g.clamp_min(0)] * moved[..., None]).sum(1)
    uv_res = binding.uv_res
    col = torch.floor(uv[:, 0] * uv_res).clamp(0, uv_res - 1)
    row = torch.floor((1 - uv[:, 1]) * uv_res).clamp(0, uv_res - 1)
    return torch.stack([col, row], 1).long(), ok


@dataclass
class _Texels:
    """The completion's working state, per texel (torch, one device): sRGB ``rgb`` [N, 3] float64, ``conf`` [N]
    (0 = unknown), ``source`` [N] int64 (0 unseen, 1 seen, 2 mirror, 3 front-back, 4 head band, 5 dressed, 6 a
    profile's front), the photo's own ``seen_conf`` [N],
    ``from_photo`` [N] bool, rest ``points`` and ``normals`` [N, 3], ``head`` [N] bool and ``jaw`` [N] bool (the
    chin, the jaw's underside and the forward-facing face below the eyes: skin, whatever the head band or the hair
    say: a turned face's unseen far cheek took the hair's colour at its height, dark strokes across it),
    ``enclosed`` [N] (:func:`~talkavatar.pseudo.mesh.enclosure` of the rest surface: creases), ``under_hand`` [N]
    bool (the forward-facing face behind a hand in the photo, part of ``jaw``: skin lit from the front)."""

    rgb: Tensor
    conf: Tensor
    source: Tensor
    seen_conf: Tensor
    from_photo: Tensor
    points: Tensor
    normals: Tensor
    head: Tensor
    jaw: Tensor
    enclosed: Tensor
    under_hand: Tensor

    @property
    def known(self) -> Tensor:
        return self.conf > 0

    @property
    def photo(self) -> Tensor:
        """Texels whose colour is still the photo's own."""
        return self.from_photo & (self.source == 1)

    def set(self, where: Tensor, rgb, conf, source: int) -> float:
        self.rgb[where], self.conf[where], self.source[where] = rgb, conf, source
        return _share(where)


def _share(where: Tensor) -> float:
    """The share of True in ``where`` [N] bool."""
    return float(where.count_nonzero()) / max(where.numel(), 1)


def complete_texture(rig, rest_vertices: torch.Tensor, binding: Binding, rgb: torch.Tensor,
                     confidence: torch.Tensor, cell: float = 0.025,
                     given: torch.Tensor | None = None,
                     off_face: torch.Tensor | None = None,
                     behind_hand: torch.Tensor | None = None,
                     face_yaw: float | None = None, device="cpu", parts: np.ndarray | None = None,
                     mirror: tuple[Tensor, Tensor] | None = None) -> tuple[np.ndarray, dict]:
    """rgb: [N, 3] seen colours in 0..1; confidence: [N] (0 = unseen); rest_vertices: [V, 3] the proxy's rest
    surface; given: [N] bool texels whose colour is known but not from the photo (the mouth interior): kept, and
    no source for the head and hand steps; off_face: [N] bool texels seen below the photo's face oval (a chin
    texel there sees the neck's shadow or the collar); behind_hand: [N] bool texels behind a hand in the photo
    (:mod:`~talkavatar.core.hand_cover`; their forward-facing face is skin); face_yaw: degrees, the photo's view of
    the face (:func:`~talkavatar.core.body.facing.face_yaw`), beyond ``PROFILE_YAW`` a profile
    (:func:`_profile_front`); device: where the per-texel steps run (inputs on any device); parts: [N] the texels'
    :func:`~talkavatar.core.body.parts.texel_parts` and mirror: their :func:`mirror_texels`, when already made (the
    stage makes both beside the proxy fit). Returns the completed [R, R, 3] float32 image (row 0 at v = 1) and the
    share of texels each step filled."""
    dev = torch.device(device)
    binding = binding.to(dev)
    t = _texels(rig, rest_vertices, binding, rgb, confidence, given, off_face, behind_hand)
    stats = {"seen": _share(t.known), "jaw_regrazed": _share(t.jaw & (t.seen_conf > 0) & ~t.known)}
    if parts is None:
        parts = texel_parts(rig, binding.face_index, binding.barycentrics)
    parts = torch.from_numpy(parts).to(dev)
    stats["held"] = _one_colour_hands(t, parts)
    stats["mirror"] = _mirror(t, *(mirror_texels(rig, binding) if mirror is None else mirror), binding)
    if face_yaw is not None and abs(face_yaw) > PROFILE_YAW:
        stats["profile_front"] = _profile_front(t, rig, rest_vertices, binding, face_yaw, given)
    photo = t.photo & (t.seen_conf > SOURCE_CONFIDENCE)
    outfit = read_outfit(t.rgb, photo, parts, t.points, t.normals)
    stats["front_to_back"] = _front_to_back(t, cell, outfit)
    stats["head_band"] = _head_band(t, outfit)
    stats.update(_dress(t, parts, photo, outfit))
    return _fill_gutter(t, binding), {k: round(v, 4) for k, v in stats.items()}


def _texels(rig, rest_vertices, binding, rgb, confidence, given, off_face, behind_hand) -> _Texels:
    """The state before completion, on the binding's device; the chin and jaw underside seen only at a grazing
    angle, or seen below the photo's face oval, count as unseen (their colours are the shadow under the chin or the
    collar: a dark band once the jaw opens)."""
    dev = binding.face_index.device
    rest = rest_vertices.detach().to(dev, torch.float64)
    faces = rig.faces.to(dev)
    points = binding.surface_points(rest[None], faces)[0]
    normals = face_normals(rest, faces)[binding.face_index]
    head = torch.from_numpy(head_vertices(rig)).to(dev)[faces[binding.face_index]].any(1)
    height = head_height(points, head)
    jaw = head & (height < JAW_HEIGHT) & (normals[:, 2] > -0.3)
    cheeks = head & (height < CHEEK_HEIGHT) & (normals[:, 2] > CHEEK_FACING)
    # above the hairline: the head band's hair
    under_hand = head & (normals[:, 2] > CHEEK_FACING) & (height < HAIRLINE)
    under_hand &= torch.zeros_like(head) if behind_hand is None else behind_hand.to(dev)
    rgb, conf = rgb.to(dev, torch.float64).clone(), confidence.to(dev, torch.float64).clone()
    seen_conf = conf.clone()
    below_face = torch.zeros_like(head) if off_face is None else off_face.to(dev)
    grazing_jaw = jaw & (((conf < 0.35) & (normals[:, 1] < -0.35)) | below_face)
    rgb[grazing_jaw], conf[grazing_jaw] = 0.0, 0.0
    source = (conf > 0).long()
    from_photo = (source == 1) & ~(torch.zeros_like(head) if given is None else given.to(dev))
    enclosed = binding.interpolate(enclosure(rest, faces, RELIEF_RADIUS).to(dev)[None], faces)[0]
    return _Texels(rgb, conf, source, seen_conf, from_photo, points, normals, head, jaw | cheeks | under_hand,
                   enclosed, under_hand)


def _one_colour_hands(t: _Texels, parts: Tensor) -> float:
    """Step 0: hands are one material, skin or gloves. A seen hand texel whose colour is neither that of both hands'
    dominant seen colour nor a shade of it (:func:`~talkavatar.core.color.shade_distance` within HAND_CHROMA and
    HAND_SHADE) shows what the hand holds or the background by it (camera: the camera's light metal on a black
    glove, white blobs once mirrored onto the other hand): it counts as unseen, and the later steps give it the
    rest of the hand's colour."""
    hand = (parts == PART["hand"]) & t.photo
    source = hand & (t.seen_conf > SOURCE_CONFIDENCE)
    if source.count_nonzero() < MIN_TEXELS:
        return 0.0
    material = dominant(t.rgb[source])
    held = hand.clone()
    held[hand] = shade_distance(t.rgb[hand], material, HAND_CHROMA, HAND_SHADE) >= 1.0
    return t.set(held, 0.0, 0.0, 0)


def _mirror(t: _Texels, where: Tensor, ok: Tensor, binding: Binding) -> float:
    """Step 1: a texel takes its well-seen mirror texel's colour (on the head only where the photo does not see it);
    ``where`` [N, 2], ``ok`` [N]: :func:`mirror_texels`."""
    where, ok = where.to(t.rgb.device), ok.to(t.rgb.device)
    image = texels_to_image(torch.cat([t.rgb, t.conf[:, None]], 1), binding)
    mirrored = image[where[:, 1], where[:, 0]]
    m_rgb, m_conf = mirrored[:, :3], mirrored[:, 3] * ok
    grazed = ~t.head & (t.conf < 0.3) & (m_conf > 2 * t.conf)
    take = (m_conf > SOURCE_CONFIDENCE) & ((t.conf == 0) | grazed)
    return t.set(take, m_rgb[take], 0.9 * m_conf[take], 2)


def _profile_front(t: _Texels, rig, rest_vertices: torch.Tensor, binding: Binding, yaw: float,
                   given: torch.Tensor | None) -> float:
    """Step 1b, a profile (the photo saw the face from ``yaw`` degrees aside, beyond
    :data:`~talkavatar.core.body.facing.PROFILE_YAW`): the forward-facing face up to the brows
    (:func:`~talkavatar.core.body.facing.profile_face`) becomes :func:`drawn_face` in the skin tone of the cheek the
    photo saw well (cosine to its view at least ``PROFILE_WELL_SEEN``; the robust mean of its lit half). The photo
    saw the nose, lips and chin only edge-on (the outline's smear; a shouting mouth's opening painted on the closed
    lips) and the near side through a profile's shadows and film grain, registered on the mesh a few centimetres off
    (the eye under the cap lands on the cheek): a view that shows the face to a viewer, or to FaceMesh, needs a whole
    face, which none of the photo's pixels give. The mouth interior (``given``) becomes the cavity's colour
    throughout: the drawn closed lips do not meet over the teeth, which then read as lips parted at rest, and a
    talking mouth reads by its dark opening."""
    a = math.radians(yaw)
    dev = t.rgb.device
    region = _on(profile_face(rig, t.points.cpu().numpy(), t.normals.cpu().numpy(), t.head.cpu().numpy()), dev)
    known_colour = torch.zeros_like(t.head) if given is None else given.to(dev)
    well = t.known & (t.normals @ t.rgb.new_tensor([math.sin(a), 0.0, math.cos(a)]) >= PROFILE_WELL_SEEN)
    well &= ~known_colour
    fill = region.face & ~known_colour
    if not fill.any() or not (well & region.face).any():
        return 0.0
    lit = _lit(t.rgb, well & region.face)
    tone = robust_mean(t.rgb[lit], t.conf[lit])
    eyes, eye_centres = _eyes(rig, rest_vertices, binding)
    rgb = drawn_face(t.points, t.normals, region, tone, eyes, eye_centres)
    fill |= eyes & ~known_colour
    t.set(fill, rgb[fill], 0.3, 6)
    t.rgb[known_colour] = t.rgb.new_tensor(MOUTH_COLOURS["cavity"])
    return _share(fill)


def _on(region: ProfileFace, device) -> ProfileFace:
    """``region`` (numpy, :func:`~talkavatar.core.body.facing.profile_face`) as tensors on ``device``."""
    return ProfileFace(*(torch.from_numpy(np.ascontiguousarray(a)).to(device)
                         for a in (region.face, region.mouth, region.from_lips)))


def _lit(rgb: Tensor, where: Tensor) -> Tensor:
    """[N] bool: the texels ``where`` [N] bool whose luminance (of ``rgb`` [N, 3]) is in the upper half of theirs: the
    lit skin, whose colour a face lit from the front shows (a profile's seen cheek is half in its own shadow)."""
    luminance = rgb @ rgb.new_tensor([0.2126, 0.7152, 0.0722])
    return where & (luminance >= median(luminance[where]))


def drawn_face(points: Tensor, normals: Tensor, region: ProfileFace, tone: Tensor, eyes: Tensor,
               eye_centres: Tensor) -> Tensor:
    """[N, 3] sRGB: a face drawn on the rest surface (``points``, ``normals`` [N, 3] of a binding's texels) in the
    colour ``tone`` [3]: lit by :data:`FACE_LIGHT` (its facing of the light over :data:`FACE_AMBIENT`, divided by the
    face's median so the face keeps the tone), the eyeballs (``eyes`` [N] bool) :data:`EYE_SHADE` of it, their
    sockets and the brows above ``eye_centres`` [E, 3] (rest, metres) and the lips (``region.from_lips``) darker
    (:data:`FACE_MARKS`). Only the shade changes (a greyscale photo's face stays grey). Tensors of one device."""
    shade = front_light(normals, region.face)
    for offset, size, depth in FACE_MARKS["lips"]:
        shade *= torch.where(region.mouth, _mark(region.from_lips - points.new_tensor(offset), size, depth), 1.0)
    for centre in eye_centres:
        for offset, size, depth in FACE_MARKS["eye"]:
            shade *= torch.where(region.face, _mark(points - centre - points.new_tensor(offset), size, depth), 1.0)
    shade = torch.where(eyes, EYE_SHADE, shade)
    return (tone[None] * shade[:, None]).clamp(0.0, 1.0)


def front_light(normals: Tensor, where: Tensor) -> Tensor:
    """[N] the shade of surfaces with ``normals`` [N, 3] (rest pose) lit by :data:`FACE_LIGHT` (their facing of it
    over :data:`FACE_AMBIENT`), divided by its median over ``where`` [N] bool (1 there on the whole)."""
    light = normals.new_tensor(FACE_LIGHT)
    light = light / light.norm()
    shade = FACE_AMBIENT + (1 - FACE_AMBIENT) * (normals @ light).clamp(0.0, 1.0)
    return shade / (max(float(median(shade[where])), 1e-6) if where.any() else 1.0)


def _mark(d: Tensor, size: tuple[float, float], depth: float) -> Tensor:
    """[N] the shade of a soft mark ``depth`` deep (1 - depth at its centre) over the half ``size`` (metres, across
    and up) at texels ``d`` [N, 3] metres from its centre."""
    dx, dy = d[:, 0] / size[0], d[:, 1] / size[1]
    return 1 - depth * torch.exp(-(dx ** 2 + dy ** 2) ** 2)


def _eyes(rig, rest_vertices: torch.Tensor, binding: Binding) -> tuple[Tensor, Tensor]:
    """The eyeballs: [N] bool, the texels whose nearest corner's strongest bone is an eye's, and [E, 3] the mean rest
    position of each eye bone's vertices (none for a rig without eyes); on the binding's device."""
    names = strongest_bone_names(rig).astype(str)
    eye = np.char.find(np.char.lower(names), "eye") >= 0  # [V]
    points = rest_vertices.detach().cpu().double().numpy()
    centres = np.array([points[names == n].mean(0) for n in np.unique(names[eye])]).reshape(-1, 3)
    dev = binding.face_index.device
    corners = torch.from_numpy(nearest_corners(rig, binding.face_index, binding.barycentrics)).to(dev)
    return torch.from_numpy(eye).to(dev)[corners], torch.from_numpy(centres).to(dev)


def _front_to_back(t: _Texels, cell: float, outfit) -> float:
    """Step 2: from the seen front below the head, the mean colour of the seen front surface in coarse (x, y)
    cells, so the back gets the garment's colours without copies of front details (logos, zips). Skin seen in
    front (a V-neck, an open collar) does not go onto a clothed back: step 4 dresses that."""
    points, colours = t.points, t.rgb
    cells = torch.floor(points[:, :2] / cell).long()
    lo = cells.min(0).values
    cells -= lo
    gw, gh = (cells.max(0).values + 1).tolist()
    key = cells[:, 1] * gw + cells[:, 0]
    front = t.known & (t.conf > SOURCE_CONFIDENCE) & (t.normals[:, 2] > 0) & ~t.head
    front_key, front_colours = key[front], colours[front]
    kernel = colours.new_ones(4, 1, 3, 3)

    def cell_mean(weight: Tensor) -> tuple[Tensor, Tensor]:  # weight [front texels] -> [gh, gw], [gh, gw, 3]
        grid = colours.new_zeros(gh * gw, 4).index_add_(0, front_key, torch.cat([weight[:, None],
                                                                                weight[:, None] * front_colours], 1))
        grid = F.conv2d(grid.T.reshape(1, 4, gh, gw), kernel, padding=1, groups=4)[0]  # the 3 x 3 cells' sums
        return grid[0], grid[1:].permute(1, 2, 0) / grid[0].clamp_min(1e-9)[..., None]

    weight = t.conf[front]
    grid_w, mean = cell_mean(weight)
    # reweighting steps (mean shift): colours far from their neighbourhood's mean (logos, badges, straps) count
    # less, so each cell converges to its dominant colour (the garment's)
    for _ in range(3):
        far = ((front_colours - mean.reshape(-1, 3)[front_key]) ** 2).sum(1)
        _, mean = cell_mean(weight * torch.exp(-far / (2 * 0.08 ** 2)) + 1e-6)
    back = ~t.known & ~t.head & (grid_w.reshape(-1)[key] > 1.0)
    # bilinear lookup between cell centres (no blocks on the back)
    fx = (points[back, 0] / cell - lo[0] - 0.5).clamp(0, gw - 1)
    fy = (points[back, 1] / cell - lo[1] - 0.5).clamp(0, gh - 1)
    x0, y0 = torch.floor(fx).long(), torch.floor(fy).long()
    x1, y1 = (x0 + 1).clamp_max(gw - 1), (y0 + 1).clamp_max(gh - 1)
    ax, ay = (fx - x0)[:, None], (fy - y0)[:, None]
    valid = grid_w > 1.0
    corners = [(y0, x0, (1 - ax) * (1 - ay)), (y0, x1, ax * (1 - ay)), (y1, x0, (1 - ax) * ay), (y1, x1, ax * ay)]
    total = sum(w * valid[yy, xx][:, None] for yy, xx, w in corners)
    colour = sum(w * valid[yy, xx][:, None] * mean[yy, xx] for yy, xx, w in corners) / total.clamp_min(1e-9)
    if not skin_like(outfit.upper, outfit.skin):
        clothed = (colour - outfit.skin).norm(dim=1) >= 2 * (colour - outfit.upper).norm(dim=1)
        back[torch.nonzero(back)[:, 0][~clothed]] = False
        colour = colour[clothed]
    return t.set(back, colour, 0.3, 3)


def _head_band(t: _Texels, outfit) -> float:
    """Step 3: head sides -> back of the head, per height band, drawn towards the seen hair (else the colour of
    the top of the head) where they differ (not the chin and jaw: they are skin, step 4); a skin-coloured band
    (ears, cheeks seen at a grazing angle) becomes the seen hair, so the back of the head is not a flat skin patch
    unless the person is bald."""
    points, normals, colours = t.points, t.normals, t.rgb
    seen_head = t.known & t.head & t.photo
    grazing = seen_head & (t.seen_conf > EDGE_CONFIDENCE) & (t.seen_conf < 0.45)
    upper = points[:, 1] > median(points[t.head, 1]) if t.head.any() else torch.zeros_like(t.head)
    top_of_head = (seen_head & (normals[:, 1] > 0.5) & (t.seen_conf > EDGE_CONFIDENCE)) | (grazing & upper)
    band = torch.floor(points[:, 1] / 0.02).long()
    band -= band.min()
    profile, counts = _band_profile(colours[grazing], band[grazing], int(band.max()) + 1)
    fill = ~t.known & t.head & ~t.jaw & (counts[band] >= 5)
    side = profile[band[fill]]
    top = outfit.hair
    if top is None and top_of_head.count_nonzero() >= 5:
        top = robust_mean(colours[top_of_head], torch.ones_like(colours[top_of_head, 0]))
    if top is not None:
        agree = torch.exp(-((side - top) ** 2).sum(1, keepdim=True) / (2 * 0.12 ** 2))
        side = agree * side + (1 - agree) * top
    if outfit.hair is not None:
        nearer_skin = (side - outfit.skin).norm(dim=1) < (side - outfit.hair).norm(dim=1)
        side = torch.where(nearer_skin[:, None], outfit.hair, side)
    return t.set(fill, side, 0.2, 4)


def _band_profile(colours: Tensor, band: Tensor, bands: int) -> tuple[Tensor, Tensor]:
    """The dominant colour of each height band [B, 3] (mode, not mean: hair strands over a wall at the head's edge
    mix in the wall), smoothed over neighbouring bands (no stripes), and the texel count per band [B]."""
    counts = torch.bincount(band, minlength=bands)
    modes = colours.new_zeros(bands, 3)
    for b in torch.nonzero(counts)[:, 0].tolist():
        modes[b] = dominant(colours[band == b])
    x = torch.arange(-3, 4, dtype=colours.dtype, device=colours.device)
    kernel = torch.exp(-0.5 * (x / 1.5) ** 2).reshape(1, 1, -1)
    sums = torch.cat([counts[:, None].to(colours.dtype), modes * counts[:, None]], 1)  # [B, 4]
    smooth = F.conv1d(sums.T[:, None], kernel, padding=3)[:, 0].T  # "same" convolution (a symmetric kernel)
    return smooth[:, 1:] / smooth[:, :1].clamp_min(1e-9), counts


def _dress(t: _Texels, parts: Tensor, photo: Tensor, outfit) -> dict:
    """Step 4: everything still unknown by body part and garment (:mod:`garments`); hands the seen hands' colour,
    else the skin; the chin and jaw the face's skin; the unseen lower half of the neck the upper
    garment (a collar, not a skin blob on the back). ``photo``: [N] texels well seen in the photo."""
    colours = part_colours(outfit, t.rgb, photo, parts)
    seen_hand = (parts == PART["hand"]) & t.known & (t.photo | (t.source == 2))
    if seen_hand.count_nonzero() >= 5:
        colours[PART["hand"]] = robust_mean(t.rgb[seen_hand], t.conf[seen_hand])
    fill = ~t.known
    neck = parts == PART["neck"]
    collar = fill & neck & (t.points[:, 1] < median(t.points[neck, 1])) if neck.any() else torch.zeros_like(fill)
    colours[JAW] = outfit.skin  # not the neck's seen colour: a close-up's fitted neck sees the collar
    parts = torch.where(t.jaw, JAW, torch.where(collar, PART["torso"], parts))
    base = torch.stack([colours[p] for p in range(max(colours) + 1)])[parts]
    # below the head, the local light and shade of what the photo or its mirror shows continue (skin only onto a bare
    # part; not the front-to-back step's colours: on a hand hanging by the body they are the sleeve's)
    sources = (t.photo | (t.source == 2)) & ~torch.isin(parts, parts.new_tensor([PART["head"], PART["neck"], JAW]))
    sources[sources.clone()] = skin_like(base[sources], outfit.skin) | ~skin_like(t.rgb[sources], outfit.skin)
    base = continued(base, fill, parts, t.rgb, sources, t.points)
    under = fill & t.under_hand
    if under.any():  # a forehead behind a hand: the face's lit skin, shaded as a face lit from the front
        base[under] = _lit_skin(t, photo, outfit)[None] * front_light(t.normals, under)[under, None]
    dressed = dress(t.rgb, fill, base, t.points, t.enclosed, outfit.noise)
    t.set(fill, dressed[fill], 0.2, 5)
    return {"hands": _share(fill & (parts == PART["hand"])), "dressed": _share(fill)}


def _lit_skin(t: _Texels, photo: Tensor, outfit) -> Tensor:
    """[3] sRGB: the face's skin as lit from the front: the robust mean of the lit half (:func:`_lit`) of the
    forward-facing head texels well seen in the ``photo`` [N] bool that are skin-coloured (not the beard, brows or
    hair), else ``outfit.skin`` (read from the face's middle, which a beard darkens: laughing's 174 / 123 / 109
    against his lit skin's 202 / 144 / 131 at UV 256, a brown cap on his forehead)."""
    face = photo & t.head & (t.normals[:, 2] > 0.6)
    face[face.clone()] = skin_like(t.rgb[face], outfit.skin)
    if face.count_nonzero() < MIN_TEXELS:
        return outfit.skin
    lit = _lit(t.rgb, face)
    return robust_mean(t.rgb[lit], t.conf[lit])


def _fill_gutter(t: _Texels, binding: Binding) -> np.ndarray:
    """Step 5: the texels no triangle covers filled (:func:`fill_gutter`) -> [R, R, 3] float32 (host)."""
    image = texels_to_image(torch.cat([t.rgb, t.known[:, None].double()], 1), binding)
    holes = image[..., 3] == 0
    colour = (image[..., :3] * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    if holes.any() and not holes.all():
        colour = fill_gutter(colour, holes)
    return colour.cpu().numpy().astype(np.float32) / 255  # on the host: CUDA divides by a scalar as a product


def fill_gutter(colour: Tensor, holes: Tensor) -> Tensor:
    """``colour`` [R, R, 3] uint8 with ``holes`` [R, R] bool (some, not all) filled, on their device (plain torch:
    the CPU is the reference, tests/test_pseudo_texture.py compares CUDA with it); the other texels unchanged.

    What reads the gutter reads it next to the charts (bilinear lookups of the mesh renderer, the fit's area
    resampling to a coarser UV map), so its first ring matters: each hole texel beside a chart takes the mean of
    its covered 8-neighbours (the chart's edge continued). The rest is a push-pull pyramid: each level the mean of
    the known texels of 2 x 2 blocks of the finer one, then from the coarsest level down each level's empty blocks
    take the bilinear upsampling of the coarser one (smooth, no seams; one pass of ~20 small steps: 14 ms at
    R = 1024 on an H100, 33 ms on its host's CPU). This replaced OpenCV's Telea inpainting of a 12-texel band
    (0.46 s of pseudo's cProfile on that host, 0.26 s on one CPU core here): the first ring lies nearer the
    chart's own edge colour than Telea's (astronaut, R = 1024: mean |difference| to the nearest chart texel 3.9
    against 5.7 levels of 255)."""
    c = colour.permute(2, 0, 1)[None].float()  # [1, 3, R, R]
    w = (~holes)[None, None].float()  # [1, 1, R, R] 1: known
    c = c * w
    around = F.avg_pool2d(w, 3, 1, 1)  # the share of known texels among each texel's 3 x 3
    ring = (w == 0) & (around > 0)
    c = torch.where(ring, F.avg_pool2d(c, 3, 1, 1) / around.clamp_min(1e-12), c)
    w = torch.where(ring, torch.ones_like(w), w)
    sums, weights = [c], [w]
    while max(sums[-1].shape[-2:]) > 1:  # push: block means (sums and weights pooled alike, so their ratio is one)
        sums.append(F.avg_pool2d(sums[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    filled = sums[-1] / weights[-1]
    for total, weight in zip(sums[-2::-1], weights[-2::-1]):  # pull: empty blocks from the coarser level
        coarser = F.interpolate(filled, size=total.shape[-2:], mode="bilinear", align_corners=False)
        filled = torch.where(weight > 0, total / weight.clamp_min(1e-12), coarser)
    out = (filled[0].permute(1, 2, 0).clamp(0, 255) + 0.5).floor().to(torch.uint8)
    return torch.where(holes[..., None], out, colour)
