"""How squarely the photo sees each Gaussian: the weights of the colour anchor (:meth:`Objective.priors`)
and of the solidity prior (ibid.), and the fitted colours settled after the optimisation
(:func:`settled_colours`: what the photo does not see keeps the completed texture's colour).

A Gaussian the photo sees face-on learns its colour from the photo; one it sees at a grazing angle, hides behind
another part, or leaves outside the picture or the person mask learns it from pseudo frames alone, through a
perceptual distance that hardly constrains hue (and Adam scales its tiny gradients to full steps): those keep the
completed texture's opacity in proportion to how little the photo sees them (the solidity prior), and its colour
where the photo sees them less squarely than ANCHOR_SEEN (the colour anchor, :func:`colour_anchor_weights`; weighted
by 1 - cosine everywhere, it cost the astronaut's input view 0.3-0.6 dB, was left off, and the unseen backs of the
real photos turned to rainbow noise on the GPU). The head is never anchored: the face
learns from the photo and its crops, and an anchored mouth interior and jaw cost the tiny demo's face detection
(independent FaceMesh: 86 % of frames with them anchored, 96 % without, 98.7 % with no anchor at all).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.avatar import SURFACE_OPACITY, Avatar
from talkavatar.core.body.facing import PROFILE_YAW, face_yaw, profile_face
from talkavatar.core.body.landmarks import FACE_POINTS
from talkavatar.core.body.mouth import lip_region_faces, lips_over_opening, mouth_texels
from talkavatar.core.body.parts import PART, texel_parts
from talkavatar.core.color import is_greyscale
from talkavatar.core.hand_cover import hand_region
from talkavatar.core.losses.mesh import face_normals
from talkavatar.core.splats import rasterize
from talkavatar.fit.data import Views

ANCHOR_SEEN = 0.25  # a Gaussian the photo sees at least this squarely (cosine) learns its colour from the photo alone
SHOWN_PIXELS = 0.1  # the settle leaves a Gaussian whose colour makes up this many pixels of the photo's person
ANCHOR_SHOWN = 0.1  # the anchor frees a Gaussian whose colour makes up this share of a squarely seen one's pixels
LIP_ANCHOR = 1.0  # the anchor's weight on the lips (colour_anchor_weights)
SMALL_FACE = 40.0  # px between the eyes' outer corners (photo at training size): opening_lips, small_face_interior
EYE_REACH = 0.75  # an eye's disc in the photo: this share of its width (corner to corner) about its centre
DEPTH_TOLERANCE = 0.02  # metres in front of the rendered depth at its pixel within which a Gaussian is not hidden


@torch.no_grad()
def photo_visibility(avatar: Avatar, photo: Views) -> Tensor:
    """[N] in 0..1: the cosine between each Gaussian's triangle normal and the ray from the photo's camera where its
    centre projects inside the picture and the person mask, unhidden (within DEPTH_TOLERANCE of the rendered depth
    there); 0 elsewhere. ``photo``: the input view (its first image, pose and camera)."""
    p, camera = photo.poses[:1], photo.cameras[0:1]
    frame = avatar.rig_frame(p.joint_rotations, p.root_translation, p.arkit_weights)
    g = avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights, frame=frame)
    depth = rasterize(g, camera, background=torch.zeros(3, dtype=g.means.dtype, device=g.means.device)).depth[0, ..., 0]
    means = g.means[0]
    pixels, z = camera.project(means)
    pixels, z = pixels[0], z[0]
    h, w = camera.height, camera.width
    inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h) & (z > 0)
    col, row = pixels[:, 0].long().clamp(0, w - 1), pixels[:, 1].long().clamp(0, h - 1)
    shown = inside & (photo.mask[0][row, col] > 0.5) & (z <= depth[row, col] + DEPTH_TOLERANCE)
    normals = face_normals(frame.vertices, avatar.rig.faces)[0][avatar.binding.face_index]
    ray = means - camera.centers[0]
    cosine = -(normals * ray).sum(-1) / ray.norm(dim=-1).clamp_min(1e-9)
    return cosine.clamp(0, 1) * shown


def photo_contribution(avatar: Avatar, photo: Views) -> Tensor:
    """[N] how many pixels' worth of the photo's person each Gaussian's colour makes up: its blend weights (opacity
    times the transmittance in front of it) summed over the person mask of the input view (the gradient of the
    masked render's sum with respect to its colour). A Gaussian the visibility test calls hidden may still show
    (beside a hand that the fit placed a little off, or through a translucent one in front), and the photo's loss
    then teaches its colour."""
    p, camera = photo.poses[:1], photo.cameras[0:1]
    with torch.no_grad():  # the colours alone take a gradient: the fit's parameters get none from this
        g = avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights)
    rgb = g.rgb.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = rasterize(replace(g, rgb=rgb), camera, background=torch.zeros(3, dtype=rgb.dtype, device=rgb.device))
        (out.rgb[0] * photo.mask[0][..., None]).sum().backward()
    return rgb.grad.reshape(-1, rgb.shape[-2], 3)[0].mean(-1)


@torch.no_grad()
def behind_hand(avatar: Avatar, photo: Views, hands_xy: Tensor, face_xy: Tensor | None = None) -> Tensor:
    """[N] bool: the Gaussians a detected hand hides in the photo: those, the hands' and forearms' own excepted, whose
    centre in the photo's pose projects into the region the hands ``hands_xy`` [K, 21, 2] (pixels of ``photo``)
    cover (:func:`~talkavatar.core.hand_cover.hand_region`, the region whose texels the pseudo texture completes).
    The photo shows the hand there, not them; but the tracked hand is placed by its 2D points and may lie a few
    millimetres inside the head (laughing's on his forehead: the proxy's hand and forearm draw 9 % of the hand's
    region, the head 64 %), so the visibility test calls the forehead seen, the photo's and the hand crop's losses
    paint the hand's fingers on it, and the talking video shows them there once the arm comes down. The eyes Face
    Mesh found (``face_xy`` [478, 2] pixels of ``photo``; discs of :data:`EYE_REACH` of each eye's width about its
    centre) are not behind the hand: the region reaches half a finger's width beyond the hand's points, over the
    eyes under laughing's and hand_on_head's little finger, which the fit then gave back to the completed skin."""
    out = torch.zeros(avatar.rgb.shape[0], dtype=torch.bool, device=avatar.rgb.device)
    if not len(hands_xy):
        return out
    pixels = _photo_pixels(avatar, photo)
    h, w = photo.cameras.height, photo.cameras.width
    out = _at_pixels(torch.from_numpy(hand_region(list(hands_xy.double().cpu().numpy()), h, w)).to(out.device), pixels)
    if face_xy is not None:
        for outer, inner in ((FACE_POINTS["right_eye_outer"], FACE_POINTS["right_eye_inner"]),
                             (FACE_POINTS["left_eye_outer"], FACE_POINTS["left_eye_inner"])):
            centre, width = (face_xy[outer] + face_xy[inner]) / 2, (face_xy[outer] - face_xy[inner]).norm()
            out &= (pixels - centre.to(pixels)).norm(dim=-1) > EYE_REACH * width
    return out & ~_of_parts(avatar, [PART["hand"], PART["forearm"]])


@torch.no_grad()
def off_photo(avatar: Avatar, photo: Views, parts: tuple[int, ...]) -> Tensor:
    """[N] bool: the Gaussians of the body ``parts`` the photo's detector did not see
    (:func:`~talkavatar.core.body.parts.hidden_parts`: legs a photo cut off) whose centre, in the photo's pose, is not
    on its person mask (off the mask or outside the picture). The photo's losses leave them out (the photo shows
    something else there: :meth:`talkavatar.fit.objective.Objective.pose`), so they keep their completed colour and
    opacity, held by the pseudo frames, the colour anchor and the solidity prior. Fitted like the rest, soldier_bw's
    legs (cut off by the frame, hung down through his coat, which MediaPipe's mask leaves out) were thinned to show
    the photo's background there: holes in every new view of them, growing with the steps (2.3 % after 60 CPU
    steps at the fast settings, 6.8 % after the GPU's 500 on the legs the track had folded forward instead)."""
    if not parts:
        return torch.zeros(avatar.rgb.shape[0], dtype=torch.bool, device=avatar.rgb.device)
    return ~_at_pixels(photo.mask[0] > 0.5, _photo_pixels(avatar, photo)) & _of_parts(avatar, list(parts))


def solid_weights(avatar: Avatar, photo: Views) -> Tensor:
    """[N] the weight of the solidity prior for each Gaussian: 1 - :func:`photo_visibility`, 0 on the head."""
    return (1 - photo_visibility(avatar, photo)) * ~_head(avatar)


def unseen_weights(avatar: Avatar, photo: Views, video: Views | None = None, shown: float | None = None,
                   relative: bool = False) -> Tensor:
    """[N] how little the photo and the frames of the clip ``video`` see each Gaussian: 1 where none of them sees it,
    falling to 0 where one of them sees it at a cosine of ANCHOR_SEEN or more; with ``shown``, also falling to 0 as
    its colour makes up ``shown`` pixels of one of their person pixels (:func:`photo_contribution`), or with
    ``relative`` ``shown`` times the median pixels of a Gaussian the photo sees at ANCHOR_SEEN or more."""
    weight = torch.ones(avatar.rgb.shape[0], dtype=avatar.rgb.dtype, device=avatar.rgb.device)
    for i in range(1 + (0 if video is None else len(video.poses))):
        view = photo if i == 0 else video.select(torch.tensor([i - 1], device=video.rgb.device))
        visibility = photo_visibility(avatar, view)
        weight = torch.minimum(weight, (1 - visibility / ANCHOR_SEEN).clamp(0, 1))
        if shown is not None:
            contribution = photo_contribution(avatar, view)
            if i == 0 and relative:
                squarely = contribution[visibility >= ANCHOR_SEEN]
                shown = shown * float(squarely.median() if len(squarely) else 1.0)
            weight = weight * (1 - contribution / shown).clamp(0, 1)
    return weight


def colour_anchor_weights(avatar: Avatar, photo: Views, video: Views | None = None,
                          behind: Tensor | None = None) -> Tensor:
    """[N] the colour anchor's weight: 1 on the Gaussians a detected hand hides (``behind`` [N] bool,
    :func:`behind_hand`); elsewhere :func:`unseen_weights` with the pixels they show, freed at ANCHOR_SHOWN of the
    median pixels of a Gaussian the photo sees squarely, 0 on the head (weighted by the cosine alone, the anchor held
    Gaussians the photo's render shows: at a grazing angle, or "hidden" behind a hand that the fit placed a little
    off; the H200 fast astronaut's input view: 32.51 dB without the anchor, 31.60 with it; freed as soon as they
    show 0.1 px, tiny laughing's arms took speckles the anchor had held); :data:`LIP_ANCHOR` on the lips (not the
    mouth interior): fitted freely, messi5's lips took the photo's open mouth (its face is 16 px between the eyes:
    the tracked lips lie over the opening's dark pixels), and the avatar's mouth looked open at rest (80 CPU steps at
    the fast settings: FaceMesh's gap 0.17 of the eye distance at jaw 0, close-up slope 0.51 vs 3.02 on the starting
    avatar; anchored: 0.086, 1.27, input view 21.77 dB either way)."""
    weight = unseen_weights(avatar, photo, video, shown=ANCHOR_SHOWN, relative=True) * ~_head(avatar)
    lips, _ = _mouth_parts(avatar)
    weight = torch.where(lips, torch.full_like(weight, LIP_ANCHOR), weight)
    return weight if behind is None else torch.where(behind, torch.ones_like(weight), weight)


@torch.no_grad()
def settled_colours(avatar: Avatar, initial_rgb: Tensor, photo: Views, video: Views | None = None,
                    given_back: Tensor | None = None) -> Tensor:
    """[N, 3] linear: the fitted colours with what the photo and the clip do not see given back to the completed
    texture ``initial_rgb`` [N, 3] (in proportion to :func:`unseen_weights` with the pixels they show), the head
    included (the back of the head's hair, a turned face's far cheek, the chin's underside), the lips and the mouth
    interior excepted (talking opens them: the fit's colours there serve the lip gap); ``given_back`` [N] bool:
    Gaussians given back their completed colour whatever the photo shows (the lips over the photo's open mouth,
    :func:`opening_lips`; a profile's invented face, :func:`profile_front`); all of them grey when the photo is (a
    black-and-white photo teaches no hue). The pseudo frames that teach the fit those colours are renders of that
    texture, through a perceptual distance that hardly constrains hue: what the fit adds there is
    drift (rainbow noise on the backs and legs, colour on a greyscale person), not information."""
    lips, interior = _mouth_parts(avatar)
    weight = unseen_weights(avatar, photo, video, shown=SHOWN_PIXELS) * ~(lips | interior)
    if given_back is not None:
        weight = torch.where(given_back, torch.ones_like(weight), weight)
    rgb = avatar.rgb + weight[:, None] * (initial_rgb - avatar.rgb)
    return rgb.mean(-1, keepdim=True).expand_as(rgb) if is_greyscale(photo.rgb[0].cpu().numpy()) else rgb


@torch.no_grad()
def opening_lips(avatar: Avatar, photo: Views, face_xy: Tensor | None) -> Tensor:
    """[N] bool: on a small face (eyes' outer corners under :data:`SMALL_FACE` pixels of ``photo`` apart), the lips'
    Gaussians the photo sees inside its open mouth (their centre, in the photo's pose, inside the photo's inner-lip
    contour ``face_xy`` [478, 2] pixels of ``photo``, grown by a pixel:
    :func:`talkavatar.core.body.mouth.lips_over_opening`, the texels the pseudo texture gave the lips' colour); none
    on a larger face or without one.
    On a small face the tracked lips lie over the opening's dark pixels, and the fit paints them dark whatever the
    colour anchor says (its pull is a mean over every Gaussian: messi5's lips went dark under LIP_ANCHOR 1): the
    avatar's closed mouth then shows a dark band that FaceMesh reads as parted lips (messi5, eyes 15.5 px apart, 80
    CPU steps at the fast settings: close-up slope 1.46, gap at rest 0.110 of the eye distance; its 128 lips over
    the opening given back: 3.15, 0.029, the starting avatar's 3.02). On large open-mouthed faces the tracked lips
    over the opening are few and the photo's teeth there are real: given back, they cost the input view 0.45 dB
    (laughing, 67 px), 0.90 dB (single_face, 101 px), 0.09 dB (astronaut, 60 px) for small close-up changes."""
    if not _small_face(face_xy):  # before the lips' lookup
        return torch.zeros(avatar.rgb.shape[0], dtype=torch.bool, device=avatar.binding.face_index.device)
    lips, _ = _mouth_parts(avatar)
    if not lips.any():
        return lips
    seen = lips & (photo_visibility(avatar, photo) > 0)
    return lips_over_opening(seen.cpu(), _photo_pixels(avatar, photo).cpu(), face_xy.cpu()).to(lips.device)


@torch.no_grad()
def small_face_interior(avatar: Avatar, face_xy: Tensor | None) -> Tensor:
    """[N] bool: on a small face (:func:`opening_lips`' :data:`SMALL_FACE`, ``face_xy`` [478, 2] the photo's Face
    Mesh points), the mouth interior's Gaussians (teeth, tongue, cavity, the lips' inner surfaces), to be given back
    their known colours and opacity after the fit; none on a larger face or without one. The photo's opening there
    is a few pixels (messi5: eyes 15.5 px apart, the opening ~3 px tall) and shows the photo's interior at under
    0.1 px a Gaussian; what the fit makes of it is drift, not the photo's information: 80 CPU steps at the
    fast settings moved messi5's teeth and inner lips 0.16-0.25 (sRGB, mean) from their known colours, and after
    the H200's 500 steps its opened mouth showed rainbow stripes that FaceMesh read as closed lips (its gap
    against the speech's envelope r -0.17, against jawOpen -0.38)."""
    if not _small_face(face_xy):
        return torch.zeros(avatar.rgb.shape[0], dtype=torch.bool, device=avatar.binding.face_index.device)
    return _mouth_parts(avatar)[1]


def _small_face(face_xy: Tensor | None) -> bool:
    """Whether the photo's face (Face Mesh points ``face_xy`` [478, 2] at the training size) has its eyes' outer
    corners under :data:`SMALL_FACE` pixels apart (False without a face)."""
    return face_xy is not None and \
        float((face_xy[FACE_POINTS["right_eye_outer"]] - face_xy[FACE_POINTS["left_eye_outer"]]).norm()) < SMALL_FACE


@torch.no_grad()
def settled_opacity(avatar: Avatar, given_back: Tensor) -> Tensor:
    """[N]: the fitted ``opacity_logit`` with the ``given_back`` [N] bool Gaussians (a profile's drawn face,
    :func:`profile_front`; a small face's mouth interior, :func:`small_face_interior`) at least as opaque as the fit
    starts them (:meth:`~talkavatar.core.avatar.Avatar.on_surface`'s opacity): the fit thins them to show the
    photo's open mouth and grain behind, and the drawn closed mouth then looks ajar (CPU stand-in, soldier_bw:
    FaceMesh's gap at rest 0.054 -> 0.033 of the eyes' distance, r with the speech 0.32 -> 0.53)."""
    floor = math.log(SURFACE_OPACITY / (1 - SURFACE_OPACITY))
    return torch.where(given_back, avatar.opacity_logit.clamp_min(floor), avatar.opacity_logit)


@torch.no_grad()
def profile_front(avatar: Avatar, photo: Views) -> Tensor:
    """[N] bool: where the photo saw a profile (:data:`~talkavatar.core.body.facing.PROFILE_YAW`), the Gaussians of
    its face (:func:`~talkavatar.core.body.facing.profile_face`) and of the mouth interior: the pseudo stage drew
    that face (:mod:`talkavatar.pseudo.complete`) and the interior has its known colours, while the photo's pixels
    there are the outline's smear, a shouting mouth's opening (teeth painted on the closed lips' inner edge) and the
    near side's shadows and grain, which the fit paints onto them; none otherwise."""
    rig, binding = avatar.rig, avatar.binding
    p = photo.poses[:1]
    posed = rig.pose(p.joint_rotations.to(rig.dtype), p.root_translation.to(rig.dtype), p.arkit_weights.to(rig.dtype))
    yaw = face_yaw(rig, posed, photo.cameras[0:1])
    out = torch.zeros(binding.count, dtype=torch.bool, device=binding.face_index.device)
    if yaw is None or abs(yaw) <= PROFILE_YAW:
        return out
    rest = rig.vertices[None].to(torch.float64)
    points = binding.surface_points(rest, rig.faces)[0].cpu().numpy()
    normals = face_normals(rest, rig.faces)[0][binding.face_index].cpu().numpy()
    region = profile_face(rig.to("cpu"), points, normals, _head(avatar).cpu().numpy())
    _, interior = _mouth_parts(avatar)
    return torch.from_numpy(region.face).to(out.device) | interior


def _photo_pixels(avatar: Avatar, photo: Views) -> Tensor:
    """[N, 2] the Gaussians' centres in pixels of ``photo``, in its pose."""
    p = photo.poses[:1]
    means = avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights).means[0]
    return photo.cameras[0:1].project(means)[0][0]


def _parts(avatar: Avatar) -> np.ndarray:
    """[N] the body part (:data:`~talkavatar.core.body.parts.PART`) of each Gaussian's texel."""
    binding = avatar.binding
    return texel_parts(avatar.rig.to("cpu"), binding.face_index.cpu(), binding.barycentrics.cpu())


def _of_parts(avatar: Avatar, parts: list[int]) -> Tensor:
    """[N] bool: the Gaussians of the body ``parts`` (:data:`~talkavatar.core.body.parts.PART` indices)."""
    return torch.from_numpy(np.isin(_parts(avatar), parts)).to(avatar.binding.face_index.device)


def _head(avatar: Avatar) -> Tensor:
    """[N] bool: the head's Gaussians."""
    return _of_parts(avatar, [PART["head"]])


def _at_pixels(image: Tensor, pixels: Tensor) -> Tensor:
    """[N] bool: ``image`` [H, W] bool at the pixels [N, 2] (x, y) the points fall in; False outside the picture."""
    h, w = image.shape
    col, row = pixels[:, 0].floor().long(), pixels[:, 1].floor().long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = torch.zeros(len(pixels), dtype=torch.bool, device=image.device)
    out[inside] = image[row[inside], col[inside]]
    return out


def _mouth_parts(avatar: Avatar) -> tuple[Tensor, Tensor]:
    """([N] bool, [N] bool): the lips' Gaussians (around the lip line, the mouth interior's excepted) and the mouth
    interior's."""
    rig, faces = avatar.rig.to("cpu"), avatar.binding.face_index.cpu()
    interior = mouth_texels(rig, faces) >= 0
    device = avatar.binding.face_index.device
    return (lip_region_faces(rig)[faces] & ~interior).to(device), interior.to(device)
