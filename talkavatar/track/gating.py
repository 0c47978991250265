"""Landmark plausibility gating: which detected points the fit may trust, before it sees any of them.

One wrong landmark can drag a limb across the frame (a wrist placed on a building behind a side view, a hand over
the mouth labelled as the far hand). Every rule compares a point with the rest of the same person, in units of the
person's height H estimated from the points themselves (:func:`body_height`):

- arms: an elbow within 0.27 H of its shoulder, a wrist within 0.5 H (arm's reach), the body's hand points within
  0.12 H of their wrist, and not over the face while their wrist is unseen; elbows, wrists and hand points farther
  than 0.06 H outside the person mask are rejected;
- legs: a knee within 0.35 H of its hip, an ankle within 0.35 H of its knee; knees, ankles and feet farther than
  0.06 H outside the person mask are rejected (with the points below them), and so are knees that do not lie beyond
  the hips along the torso (:func:`~talkavatar.core.body.parts.knee_below_hips` under
  :data:`~talkavatar.core.body.parts.KNEE_BELOW`, as ``render --camera auto`` counts a thigh unseen): MediaPipe puts
  a cropped body's knees on its belly with a high visibility and its ankles on the ground beside it, and the fit
  folded soldier_bw's legs forward over the background, which the photo fit then thinned to holes (fit's yaw +30
  view: 3.6 % after 60 CPU steps, 6.8 % on the GPU); the hips of such a body go too where its torso is shorter
  than an adult's over its shoulder span (:func:`_gate_hips`: MediaPipe raised them with the folded legs);
- hands (21 points): the hand's wrist within 0.1 H of its body wrist (0.2 H where MediaPipe is unsure of that wrist)
  and within reach of its shoulder, a plausible size, mostly on the person mask; a hand over the face whose arm is
  not seen is rejected (its side is a guess);
- second opinion (photos): elbows, wrists, hand points, knees, ankles and feet that Holistic places more than
  0.1 H apart on the image and on its mirror image (:meth:`~talkavatar.track.detect.HolisticDetector._checked`) are
  rejected, with the points further down the chain; elbows and wrists MediaPipe is unsure of (visibility 0.2-0.5: a
  forearm at the frame's edge, a hand beside the body) are admitted where both passes put them within 0.05 H of
  each other, inside the frame, and arm points only the mirrored pass sees are taken from it
  (:func:`second_opinion`), and so are the disagreeing points of an arm the first pass puts off the person (off both
  passes' masks, beyond reach) where the mirrored pass keeps it on; a wrist and hand points the hand search placed
  on a found hand (:mod:`~talkavatar.track.hand_search`) are neither taken nor rejected (:func:`searched_points`);
- other people: body points on another person's face are taken from the mirrored pass where it puts them on no
  other face, else rejected (a crowded window mixes two people's points); a shoulder so taken brings its arm along
  from that pass (confirmed from visibility :data:`FOLLOW`, and kept on another person's face: hidden behind it);
- profile: with no Face Mesh of the head, a nose beyond one of the ears (along the line between them) is a face
  turned more than ~45 degrees (:func:`profile_turn`); the far side's eye, ear and mouth corner are then MediaPipe's
  guesses (it reads a profile as a frontal face squeezed onto the near cheek) and are rejected, and so are the nose
  and the near side's eye and mouth corner (that frontal face's; only the near ear is kept);
- face: the Face Mesh nose within half a face size (width or length) of the body's nose, its length (forehead to
  chin) within 1.6-4.5 x the body's eyes-to-mouth distance; face points under a hand (of a plausible size,
  trusted or not; inside the hull of its points grown by half a finger's width) get no weight (they are guessed
  through the hand).

:func:`gate` returns the weight multipliers per group and what it rejected (for ``--json`` and the overlay).
"""

from __future__ import annotations

import cv2
import numpy as np

from talkavatar.core import hand_cover
from talkavatar.core.body.parts import KNEE_BELOW, TORSO_POINTS, knee_below_hips
from talkavatar.track.fitting import ARMS, LEGS
from talkavatar.track.metrics import VISIBLE
from talkavatar.track.pose_points import EARS, ELBOWS, HEAD_SIDES, HIPS, SHOULDERS, SIDES, WRISTS, hand_points

SEEN = VISIBLE
OCCLUDED_WEIGHT = 0.0
"""Weight of face points that lie under a hand: none, they are guessed through it (at 0.2 the fit still followed
the guessed jaw under a hand over the mouth: hand_over_mouth's face 2.96 % of its height against the marks, 2.59 %
at 0)."""
LIMITS = {"upper_arm": 0.27, "reach": 0.5, "thigh": 0.35, "shin": 0.35, "hand_points": 0.12, "off_mask": 0.06,
          "hand_wrist": 0.1, "hand_wrist_unsure": 0.2, "hand_size": (0.015, 0.12), "disagree": 0.1, "agree": 0.05}
"""Gates in units of the person's height (see the module docstring)."""
UNSURE = 0.2
"""Elbows and wrists with a visibility from this up to :data:`SEEN` may be confirmed by :func:`second_opinion`."""
FOLLOW = 0.1
"""The elbow and wrist of a shoulder taken from the mirrored pass (:func:`_off_other_faces`) come from that pass too
and are confirmed from this visibility up: the first pass's arm hung from another person's point, and the mirrored
pass's, though unsure (a forearm behind someone's head), belongs to the shoulder the fit uses (group: his left
wrist, unseen by the first pass and held lowered onto the woman's chest 34 % of his height from its mark; the
mirrored pass's at visibility 0.12, 5 % off)."""
ELBOWS_WRISTS = tuple(sorted((*ELBOWS.values(), *WRISTS.values())))
ARM_POINTS = tuple(sorted((*ELBOWS_WRISTS, *(i for side in SIDES for i in hand_points(side)))))
"""MediaPipe elbows, wrists and the body's hand points (pinky, index, thumb)."""
CHAINS = {**{ELBOWS[side]: [ELBOWS[side], WRISTS[side], *hand_points(side)] for side in SIDES},
          **{WRISTS[side]: [WRISTS[side], *hand_points(side)] for side in SIDES},
          **{i: [i] for side in SIDES for i in hand_points(side)},
          **{c[i]: list(c[i:]) for c, _ in LEGS.values() for i in range(1, 5)}}
"""A limb point and the points further down its chain (which it takes along when it is rejected)."""
FACE_TO_EYES_MOUTH = (1.6, 4.5)
"""Plausible range of the Face Mesh length (forehead 10 to chin 152) over the body's eyes-to-mouth distance
(measured 2.6-2.8 on four upright real faces, frontal to 45 degrees). Both lie on the face's midline, so turning
the head (a three-quarter or side view) shortens neither, unlike the face's width against the ear distance, which
rejected the right mesh of a 45-degree close-up; nodding shortens both."""
HEIGHT_RATIOS = {"shoulders": 0.22, "torso": 0.30, "ears": 0.09, "face": 0.11}
"""Fractions of an adult's height: shoulder-point distance, shoulder-centre to hip-centre, ear to ear, Face Mesh
forehead (10) to chin (152). Projection only shortens lengths, so the largest estimate is used."""


def _seen(det, i: int, size: tuple[int, int]) -> bool:
    x, y = det.body[i, :2]
    w, h = size
    sure = det.body_visibility[i] >= SEEN or (det.confirmed is not None and det.confirmed[i])
    return bool(sure and -0.03 * w <= x <= 1.03 * w and -0.03 * h <= y <= 1.03 * h)


def second_opinion(det, size: tuple[int, int]) -> np.ndarray:
    """Settle the arm points MediaPipe is unsure of (visibility below :data:`SEEN`) with the mirrored check pass
    (``det.check_body``), in place: where the two passes put one within ``LIMITS["agree"]`` H of each other, it
    stands, and an elbow or wrist of visibility :data:`UNSURE` or more inside the frame is confirmed; where they
    disagree and the check pass sees it, the check pass's point and visibility are taken (a person partly hidden by
    someone in front: the first pass followed the other person's arm), and so are the points they disagree on of an
    arm the first pass puts where no arm can be and the check pass does not (:func:`_plausible_chains`), and the body
    points the first pass puts on another person's face and the check pass does not (:func:`_off_other_faces`). Returns
    [33] bool: the confirmed points, which the fit uses at their low visibility as weight."""
    out = np.zeros(len(det.body), bool)
    if det.check_body is None or not det.found:
        return out
    w, h = size
    arm = np.array(ARM_POINTS)
    height = body_height(det, size)
    near = np.linalg.norm(det.check_body[arm, :2] - det.body[arm, :2], axis=1) <= LIMITS["agree"] * height
    unsure = det.body_visibility[arm] < SEEN
    taken = arm[unsure & ~near & (det.check_visibility[arm] >= SEEN)]
    det.body, det.body_visibility = det.body.copy(), det.body_visibility.copy()
    chains = _plausible_chains(det, height, size)
    taken = np.union1d(taken, np.intersect1d(chains, arm[~near]))  # where the passes agree, the first one stands
    moved = _off_other_faces(det)
    follow = _arms_of(moved)
    taken = np.setdiff1d(np.union1d(np.union1d(taken, moved), follow), searched_points(det))
    det.body[taken], det.body_visibility[taken] = det.check_body[taken], det.check_visibility[taken]
    p = det.body[arm, :2]
    inside = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
    out[arm] = near & unsure & inside & (det.body_visibility[arm] >= UNSURE) & np.isin(arm, ELBOWS_WRISTS)
    out[arm] |= np.isin(arm, follow) & np.isin(arm, ELBOWS_WRISTS) & inside & (det.body_visibility[arm] >= FOLLOW)
    return out


def searched_points(det) -> np.ndarray:
    """The MediaPipe wrist and hand points the hand search placed on a found hand (``det.searched_hands``): a hand
    seen there is their own second opinion, so the mirrored pass neither replaces nor rejects them."""
    return np.array([i for side in det.searched_hands for i in (ARMS[side][2], *hand_points(side))], np.int64)


def _arms_of(shoulders: np.ndarray) -> np.ndarray:
    """The elbow, wrist and hand points of the arms whose shoulder is among ``shoulders`` (MediaPipe indices)."""
    out = [i for side, (s, e, w, _) in ARMS.items() if s in shoulders for i in (e, w, *hand_points(side))]
    return np.array(out, np.int64)


def _on_faces(points: np.ndarray, faces) -> np.ndarray:
    """[N] bool: which ``points`` [N, 2] lie in one of the boxes ``faces`` ((x0, y0, x1, y1), ...)."""
    on = np.zeros(len(points), bool)
    for x0, y0, x1, y1 in faces:
        on |= (x0 <= points[:, 0]) & (points[:, 0] <= x1) & (y0 <= points[:, 1]) & (points[:, 1] <= y1)
    return on


def _off_other_faces(det) -> np.ndarray:
    """The body points below the head (11-32) that the first pass puts on another person's face and the check pass
    puts on no other face, seen: the first pass mixed two people's points there (group: his left shoulder on the
    woman's face beside him, 16 % of his height off its mark; the mirrored pass's 5 % off)."""
    below = np.arange(11, len(det.body))
    moved = _on_faces(det.body[below, :2], det.other_faces) & ~_on_faces(det.check_body[below, :2], det.other_faces)
    return below[moved & (det.check_visibility[below] >= SEEN)]


def _plausible_chains(det, height: float, size: tuple[int, int]) -> np.ndarray:
    """The arm points (elbow, wrist, hand points) of every arm whose chain the two passes disagree on (more than
    ``LIMITS["disagree"]`` H apart somewhere) where the first pass's chain breaks a rule of :func:`_gate_arm` and
    the check pass's keeps every rule: off the person's silhouette (here where both passes' masks agree: each
    pass's mask follows its own arms), an elbow beyond an upper arm or a wrist beyond reach of its shoulder. The
    check pass then saw that arm better (the camera man's far arm: the first pass put its wrist on a building behind
    him, its mask following it there; the mirrored pass up at the camera he holds)."""
    dist = _off_mask(det.mask if det.check_mask is None else np.minimum(det.mask, det.check_mask))
    out = []
    for side in ("left", "right"):
        _, elbow, wrist, _ = ARMS[side]
        chain = [elbow, wrist, *hand_points(side)]
        apart = np.linalg.norm(det.check_body[chain, :2] - det.body[chain, :2], axis=1) > LIMITS["disagree"] * height
        if apart.any() and not _arm_plausible(det.body, det.body_visibility, side, height, dist, size) and \
                _arm_plausible(det.check_body, det.check_visibility, side, height, dist, size):
            out.extend(chain)
    return np.array(out, np.int64)


def _arm_plausible(body: np.ndarray, visibility: np.ndarray, side: str, height: float, dist: np.ndarray,
                   size: tuple[int, int]) -> bool:
    """Whether the seen elbow and wrist of ``body`` [33, 3] (``visibility`` [33]) keep :func:`_gate_arm`'s rules
    about their shoulder and the silhouette (``dist``: :func:`_off_mask`)."""
    p = body[:, :2]
    s, e, w, _ = ARMS[side]
    seen = [i for i in (e, w) if visibility[i] >= SEEN]
    if not seen or (_distance_to_mask(dist, p[seen]) > LIMITS["off_mask"] * height).any():
        return False
    limit = {e: LIMITS["upper_arm"], w: LIMITS["reach"]}
    return visibility[s] < SEEN or all(np.linalg.norm(p[i] - p[s]) <= limit[i] * height for i in seen)


def body_height(det, size: tuple[int, int]) -> float:
    """The person's height in pixels, from their shoulders, torso and ears (else the face, else the box)."""
    p = det.body[:, :2]
    cues = []
    (sl, sr), (hl, hr), (el, er) = SHOULDERS.values(), HIPS.values(), EARS.values()
    if _seen(det, sl, size) and _seen(det, sr, size):
        cues.append(np.linalg.norm(p[sl] - p[sr]) / HEIGHT_RATIOS["shoulders"])
        if _seen(det, hl, size) and _seen(det, hr, size):
            cues.append(np.linalg.norm((p[sl] + p[sr]) / 2 - (p[hl] + p[hr]) / 2) / HEIGHT_RATIOS["torso"])
    if _seen(det, el, size) and _seen(det, er, size):
        cues.append(np.linalg.norm(p[el] - p[er]) / HEIGHT_RATIOS["ears"])
    if not cues and det.face_present:
        cues.append(np.linalg.norm(det.face[10, :2] - det.face[152, :2]) / HEIGHT_RATIOS["face"])
    if not cues:
        x0, y0, x1, y1 = det.box
        cues.append(max(y1 - y0, x1 - x0))
    return float(max(max(cues), 1.0))


def _off_mask(mask: np.ndarray) -> np.ndarray:
    """[H, W] distance in pixels from each pixel to the person mask (> 0.5); zeros inside."""
    outside = (mask <= 0.5).astype(np.uint8)
    if not outside.any() or outside.all():
        return np.zeros(mask.shape, np.float32)
    return cv2.distanceTransform(outside, cv2.DIST_L2, 3)


def _distance_to_mask(dist: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = dist.shape
    x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    return np.where(inside, dist[y, x], 0.0)  # points beyond the frame are not judged by the mask


class _Gate:
    """Collects weights and rejections for one detection."""

    def __init__(self, det):
        self.det = det
        self.weights = {"body": np.ones(33, np.float32), "face": np.ones(478, np.float32),
                        "left_hand": np.ones(21, np.float32), "right_hand": np.ones(21, np.float32)}
        self.rejected: list[dict] = []

    def reject(self, group: str, indices, reason: str) -> None:
        """Weight 0 for ``indices`` of ``group``; a body point is reported on its own (if it was seen), a hand or
        face as one entry at the centre of its points."""
        indices = np.atleast_1d(np.asarray(indices, np.int64))
        pts = getattr(self.det, group)
        if group == "body":
            for i in indices:
                if self.weights["body"][i] > 0 and self.det.body_visibility[i] >= SEEN:
                    self.rejected.append(_entry(group, [int(i)], pts[i], reason))
        elif self.weights[group][indices].max(initial=0) > 0:
            self.rejected.append(_entry(group, "all", pts[indices].mean(0), reason))
        self.weights[group][indices] = 0.0


def _entry(group: str, index, point: np.ndarray, reason: str) -> dict:
    return {"group": group, "index": index, "reason": reason, "x": round(float(point[0]), 1),
            "y": round(float(point[1]), 1)}


def _gate_hips(g: _Gate, size) -> None:
    """The hips of a body whose knees MediaPipe put on its belly (:func:`_gate_leg`'s cropped-body rule) and whose
    torso (shoulders' centre to hips' centre) is shorter than an adult's over the shoulder span
    (:data:`HEIGHT_RATIOS`; turning only narrows the span, so a real torso seen straight on is longer) are rejected:
    they top the same folded guess of the legs (combat: its hips 0.97 shoulder spans below the shoulders, above the
    belt, 15-17 % of its height from their marks; an adult's 1.36)."""
    det, p = g.det, g.det.body[:, :2]
    (sl, sr), (hl, hr) = SHOULDERS.values(), HIPS.values()
    if not all(_seen(det, i, size) for i in (sl, sr, hl, hr)):
        return
    knees = [LEGS[side][0][1] for side in SIDES]
    if not any(_seen(det, k, size) and knee_below_hips(p, k) < KNEE_BELOW for k in knees):
        return
    torso = np.linalg.norm((p[sl] + p[sr]) / 2 - (p[hl] + p[hr]) / 2)
    if torso < np.linalg.norm(p[sl] - p[sr]) * HEIGHT_RATIOS["torso"] / HEIGHT_RATIOS["shoulders"]:
        g.reject("body", [hl, hr], "hips on a torso shorter than an adult's under a cropped body's folded legs")


def _gate_leg(g: _Gate, side: str, height: float, dist: np.ndarray, size) -> None:
    """A knee beyond the hips along the torso, within a thigh of its hip, an ankle within a shin of its knee, no leg
    point off the silhouette; a rejected point takes the points below it along."""
    det, p = g.det, g.det.body[:, :2]
    chain = LEGS[side][0]  # hip, knee, ankle, heel, foot index
    torso = [i for pair in TORSO_POINTS for i in pair]
    if all(_seen(det, i, size) for i in torso + [chain[1]]) and knee_below_hips(p, chain[1]) < KNEE_BELOW:
        g.reject("body", list(chain[1:]), "a knee on the belly, not below the hips (a cropped body's guess)")
    for upper, lower, limit in ((chain[0], chain[1], "thigh"), (chain[1], chain[2], "shin")):
        if _seen(det, upper, size) and _seen(det, lower, size) and \
                np.linalg.norm(p[lower] - p[upper]) > LIMITS[limit] * height:
            joint = "hip" if limit == "thigh" else "knee"
            g.reject("body", list(chain[chain.index(lower):]), f"farther from the {joint} than a {limit}")
    below = np.array(chain[1:])
    off = _distance_to_mask(dist, p[below]) > LIMITS["off_mask"] * height
    for i in below[off]:
        g.reject("body", list(chain[chain.index(int(i)):]), "off the person's silhouette")


def _gate_arm(g: _Gate, side: str, height: float, dist: np.ndarray, size) -> None:
    det, p = g.det, g.det.body[:, :2]
    (s, e, w, _), hp = ARMS[side], list(hand_points(side))
    if _seen(det, s, size):
        if _seen(det, e, size) and np.linalg.norm(p[e] - p[s]) > LIMITS["upper_arm"] * height:
            g.reject("body", [e, w] + hp, "elbow farther from its shoulder than an upper arm")
        if _seen(det, w, size) and np.linalg.norm(p[w] - p[s]) > LIMITS["reach"] * height:
            g.reject("body", [w] + hp, "wrist beyond arm's reach of its shoulder")
    far = np.linalg.norm(p[hp] - p[w], axis=1) > LIMITS["hand_points"] * height
    g.reject("body", np.array(hp)[far], "hand point far from its wrist")
    face = det.face_box
    if face is not None and not _seen(det, w, size):
        over = [i for i in hp if face[0] <= p[i, 0] <= face[2] and face[1] <= p[i, 1] <= face[3]]
        g.reject("body", over, "hand point over the face with its wrist unseen (which hand it is is a guess)")
    limb = np.array([e, w] + hp)
    off = _distance_to_mask(dist, p[limb]) > LIMITS["off_mask"] * height
    for i in limb[off]:
        chain = [i] if i in hp else ([w] + hp if i == w else [e, w] + hp)
        g.reject("body", chain, "off the person's silhouette")


def _overlap(inner, outer) -> float:
    """Fraction of box ``inner`` (x0, y0, x1, y1) inside box ``outer``."""
    ix = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    return ix * iy / max((inner[2] - inner[0]) * (inner[3] - inner[1]), 1e-9)


def _gate_hand(g: _Gate, side: str, height: float, dist: np.ndarray, size) -> None:
    det = g.det
    group = f"{side}_hand"
    if not getattr(det, f"{group}_present"):
        return
    hand, p = getattr(det, group)[:, :2], det.body[:, :2]
    every = np.arange(21)
    span = np.linalg.norm(hand[0] - hand[9]) / height
    lo, hi = LIMITS["hand_size"]
    shoulder, _, wrist, _ = ARMS[side]
    trusted_wrist = g.weights["body"][wrist] > 0  # a wrist the arm gate rejected cannot judge its hand
    sure = _seen(det, wrist, size) and trusted_wrist
    tolerance = LIMITS["hand_wrist" if sure else "hand_wrist_unsure"] * height
    box = (*hand.min(0), *hand.max(0))
    face = det.face_box
    if not lo <= span <= hi:
        g.reject(group, every, "hand of implausible size")
    elif trusted_wrist and np.linalg.norm(hand[0] - p[wrist]) > tolerance:
        g.reject(group, every, "hand far from its wrist")
    elif _seen(det, shoulder, size) and np.linalg.norm(hand[0] - p[shoulder]) > LIMITS["reach"] * height:
        g.reject(group, every, "hand beyond arm's reach of its shoulder")
    elif (_distance_to_mask(dist, hand) > LIMITS["off_mask"] * height).mean() > 0.5:
        g.reject(group, every, "hand off the person's silhouette")
    elif not sure and face is not None and _overlap(box, face) > 0.3:
        reason = "hand over the face with its arm unseen (which hand it is is a guess)"
        g.reject(group, every, reason)
        g.reject("body", list(hand_points(side)), reason)  # the body model's own points of that hand


def _gate_check(g: _Gate, height: float) -> None:
    """Limb points that the mirrored check pass puts more than ``LIMITS["disagree"]`` H away are rejected, with the
    points below them."""
    det = g.det
    if det.check_body is None:
        return
    apart = np.linalg.norm(det.check_body[:, :2] - det.body[:, :2], axis=1) > LIMITS["disagree"] * height
    searched = searched_points(det)
    for i in sorted(CHAINS):
        chain = np.setdiff1d(CHAINS[i], searched)
        if apart[i] and len(chain):
            g.reject("body", chain, "placed elsewhere on the mirror image (a guess)")


def _gate_others(g: _Gate) -> None:
    """Body points below the head that lie on another person's face (after :func:`second_opinion`) are rejected,
    but for those :func:`second_opinion` confirmed: this person's, hidden behind the other's head."""
    below = np.arange(11, len(g.det.body))
    if g.det.confirmed is not None:
        below = below[~g.det.confirmed[below]]
    g.reject("body", below[_on_faces(g.det.body[below, :2], g.det.other_faces)], "on another person's face")


def profile_turn(det, size: tuple[int, int]) -> int:
    """-1 where the face is turned in profile to the person's right, +1 to their left, 0 otherwise: with no Face Mesh
    of this head (a Face Mesh that is the head's places it better: the camera man's three-quarter mesh; started in
    profile, his fit came back to it and lost 0.4 % of face error on the way), the body's nose lies beyond the right
    (left) ear along the line from one ear to the other. Facing the camera the nose lies between the ears; it passes
    one of them at ~45 degrees of turn (a nose ~10 cm in front of ears ~7.5 cm either side of the head's axis).
    soldier_bw / combat (~80 degrees, facing left): ears at x 938 and 1050 px, the nose at 919 (the real nose tip at
    ~795: MediaPipe reads a frontal face squeezed onto the near cheek)."""
    if not all(_seen(det, i, size) for i in (0, 7, 8)) or (det.face_present and _face_mesh_fault(det, size) is None):
        return 0
    p = det.body[:, :2]
    across = p[7] - p[8]  # right ear -> left ear
    t = float((p[0] - p[8]) @ across / max(float(across @ across), 1.0))
    return -1 if t < 0 else 1 if t > 1 else 0


def _gate_profile(g: _Gate, size) -> None:
    """A face in profile (:func:`profile_turn`): the far side's eye, ear and mouth corner are rejected, and so are
    the nose and the near side's eye and mouth corner, only the near ear kept: MediaPipe reads a frontal face
    squeezed onto the near cheek, and its nose there held Anny's nose and lips on soldier_bw's cheek ~35 px (of
    1280) behind his real nose and open mouth; without them the silhouette places the face (the nose ~10 px off)."""
    turn = profile_turn(g.det, size)
    if turn:
        far = HEAD_SIDES["right" if turn < 0 else "left"]
        g.reject("body", list(far), "the far side of a face in profile (a guess)")
        near = HEAD_SIDES["left" if turn < 0 else "right"]
        g.reject("body", [0, *near[:3], near[4]], "a frontal face read on a profile's cheek")


def _face_mesh_fault(det, size) -> str | None:
    """Why a present Face Mesh does not belong to the body's head (away from its nose, of another size), or None."""
    face, p = det.face[:, :2], det.body[:, :2]
    width = np.linalg.norm(face[234] - face[454])
    length = np.linalg.norm(face[10] - face[152])  # forehead to chin: unlike the width, kept in a profile
    if _seen(det, 0, size) and np.linalg.norm(face[1] - p[0]) > 0.5 * max(width, length, 1.0):
        return "face mesh away from the body's nose"
    if all(_seen(det, i, size) for i in (2, 5, 9, 10)) and \
            not FACE_TO_EYES_MOUTH[0] <= length / max(_eyes_to_mouth(p), 1.0) <= FACE_TO_EYES_MOUTH[1]:
        return "face mesh of another size than the head"
    return None


def _gate_face(g: _Gate, size) -> None:
    det = g.det
    if not det.face_present:
        return
    fault = _face_mesh_fault(det, size)
    if fault is not None:
        g.reject("face", np.arange(478), fault)
    for hand in real_hands(det):
        under = hand_cover.covers(det.face[:, :2], hand)
        g.weights["face"][under] = np.minimum(g.weights["face"][under], OCCLUDED_WEIGHT)


def _eyes_to_mouth(p: np.ndarray) -> float:
    """Distance from the middle of the body's eye points (2, 5) to the middle of its mouth points (9, 10), px."""
    return float(np.linalg.norm((p[2] + p[5]) / 2 - (p[9] + p[10]) / 2))


def real_hands(det) -> list[np.ndarray]:
    """[21, 2] points of every detected hand of a plausible size for the person (:func:`body_height`), trusted or
    not: a hand the fit must not follow (its side a guess) still hides what is behind it."""
    height = body_height(det, (det.mask.shape[1], det.mask.shape[0]))
    lo, hi = LIMITS["hand_size"]
    hands = [getattr(det, f"{side}_hand")[:, :2] for side in ("left", "right") if getattr(det, f"{side}_hand_present")]
    return [h for h in hands if lo <= np.linalg.norm(h[0] - h[9]) / height <= hi]


def gate(det) -> tuple[dict[str, np.ndarray], list[dict]]:
    """({group: [N_group] weight multipliers by MediaPipe index (0 = rejected)}, [rejected points: group, index,
    reason, x, y in work pixels]) for one detection, judged against its raw MediaPipe mask (the refined mask grows
    from the body points, wrong ones included)."""
    mask = det.mask
    size = (mask.shape[1], mask.shape[0])
    g = _Gate(det)
    if not det.found:
        return g.weights, g.rejected
    height = body_height(det, size)
    dist = _off_mask(mask)
    _gate_others(g)
    _gate_check(g, height)
    for side in ("left", "right"):
        _gate_arm(g, side, height, dist, size)
        _gate_leg(g, side, height, dist, size)
        _gate_hand(g, side, height, dist, size)
    _gate_hips(g, size)
    _gate_face(g, size)
    _gate_profile(g, size)
    return g.weights, g.rejected
