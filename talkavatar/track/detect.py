"""Person detection with MediaPipe Holistic (``mediapipe==0.10.21``; its models ship in the wheel).

Per frame: 33 body, 478 face and 2 x 21 hand landmarks in work-image pixels with visibilities, and the person mask.
Finding the person: Holistic on the image, else on the variants of :mod:`variants` (contrast normalised, mirrored,
smaller) until one shows a person; then a second pass on a crop around that person's box, so that face and hands
get more of the detector's pixels; on a photo, a third pass on the mirrored crop gives every body point a second
opinion (:func:`talkavatar.track.gating.gate` rejects limb points the two passes disagree on and admits the
low-visibility arm points they agree on), where a pass puts both wrists on one point the arms are seen again on
four more views (:mod:`arm_views`), MediaPipe Hands looks for a hand Holistic missed beyond a seen
forearm (:mod:`hand_search`), and a face behind a hand over its mouth is seen again by MediaPipe Face Mesh with the
hand painted out (:mod:`face_behind_hand`). Several people: MediaPipe's face detector finds their faces (on the
image and its contrast-normalised variant); each is searched for in a window around its face; :mod:`people` ranks
them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from talkavatar.errors import MissingDependency
from talkavatar.mediapipe_import import import_mediapipe
from talkavatar.track import arm_views, face_behind_hand, hand_search
from talkavatar.track.gating import body_height, real_hands
from talkavatar.track.metrics import VISIBLE
from talkavatar.track.people import people_record, pick
from talkavatar.track.pose_points import ELBOWS, SIDES, WRISTS
from talkavatar.track.variants import BODY_MIRROR, VARIANTS, Variant, apply, face_mirror, mirror_points

N_BODY, N_FACE, N_HAND = 33, 478, 21


@dataclass
class Detection:
    """Landmarks of one person in one frame. Coordinates ``(x, y)`` in work pixels, ``z`` MediaPipe's relative depth
    (same scale as x); missing parts are zeros with ``*_present`` False.

    body: [33, 3], body_visibility: [33]; face: [478, 3]; left_hand, right_hand: [21, 3] (the person's own left and
    right); mask: [H, W] float32 in 0..1 (raw MediaPipe segmentation, refined later). ``check_body`` [33, 3] and
    ``check_visibility`` [33] and ``check_mask`` [H, W]: the same person found on the mirrored crop (None when not
    checked or not found);
    ``other_faces``: Face Mesh boxes ``(x0, y0, x1, y1)`` of the other people in view; ``searched_hands``: the
    sides whose hand, wrist and body hand points come from the hand search (:mod:`hand_search`). ``trust``,
    ``confirmed``, ``rejected`` and ``turn`` are filled by :func:`talkavatar.track.fit_frames.gate_detections`.
    """

    body: np.ndarray
    body_visibility: np.ndarray
    face: np.ndarray
    left_hand: np.ndarray
    right_hand: np.ndarray
    face_present: bool
    left_hand_present: bool
    right_hand_present: bool
    mask: np.ndarray
    people: int = 1
    variant: str = "as given"
    everyone: list[dict] = field(default_factory=list)  # people.people_record of the frame (work pixels)
    check_body: np.ndarray | None = None
    check_visibility: np.ndarray | None = None
    check_mask: np.ndarray | None = None
    other_faces: list[tuple[float, float, float, float]] = field(default_factory=list)
    searched_hands: list[str] = field(default_factory=list)
    trust: dict[str, np.ndarray] = field(default_factory=dict)  # gating.gate: weight multipliers per group
    confirmed: np.ndarray | None = None  # gating.second_opinion: [33] unsure points the fit may use
    rejected: list[dict] = field(default_factory=list)  # gating.gate: the points it rejected (work pixels)
    turn: int = 0  # gating.profile_turn: -1 / +1 a face in profile turned to the person's right / left, else 0

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` around the seen body points and the face, in work pixels, within the image."""
        pts = self.body[self.body_visibility >= 0.5, :2]
        if self.face_present:
            pts = np.concatenate([pts, self.face[:, :2]])
        if not len(pts):
            pts = self.body[:, :2]
        h, w = self.mask.shape
        (x0, y0), (x1, y1) = np.clip(pts.min(0), 0, [w, h]), np.clip(pts.max(0), 0, [w, h])
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def face_box(self) -> tuple[float, float, float, float] | None:
        """``(x0, y0, x1, y1)`` around the Face Mesh points, or None without a face."""
        if not self.face_present:
            return None
        (x0, y0), (x1, y1) = self.face[:, :2].min(0), self.face[:, :2].max(0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def found(self) -> bool:
        return bool(self.body_visibility.max(initial=0.0) > 0.0)


def empty_detection(height: int, width: int) -> Detection:
    z = np.zeros
    return Detection(z((N_BODY, 3), np.float32), z(N_BODY, np.float32), z((N_FACE, 3), np.float32),
                     z((N_HAND, 3), np.float32), z((N_HAND, 3), np.float32), False, False, False,
                     z((height, width), np.float32), 0)


def _heavy_model_path() -> Path:
    mediapipe = import_mediapipe()  # heavy (~5 s): loaded when detection runs, not when track is imported
    return Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_heavy.tflite"


def _points(landmarks, width: int, height: int, n: int) -> np.ndarray:
    return np.array([[p.x * width, p.y * height, p.z * width] for p in landmarks.landmark[:n]], np.float32)



FACE_WINDOWS = ((3.0, 9.0), (1.5, 9.0))
"""Windows around a face to look for its person in, as (half-width beside the face, height below its top) in face
sizes: a wide one (arms spread), then a narrow one where the wide window's person was a neighbour."""
CROP_MARGIN = 0.3
"""The second pass crops the person's box grown by this fraction of its longer side on every side."""


class HolisticDetector:
    """MediaPipe Holistic in static-image mode; use as a context manager. ``detect(image)`` → :class:`Detection`."""

    def __init__(self, model_complexity: int = 1, check: bool = False):
        if model_complexity == 2 and not _heavy_model_path().is_file():
            raise MissingDependency(
                "model_complexity 2 needs MediaPipe's heavy pose model, which its wheel does not ship",
                tip=f"copy pose_landmark_heavy.tflite (npm package @mediapipe/pose) to {_heavy_model_path()}, "
                    "or use model_complexity 1")
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        mp = import_mediapipe()
        self._mp = mp
        self._holistic = mp.solutions.holistic.Holistic(
            static_image_mode=True, refine_face_landmarks=True, enable_segmentation=True,
            model_complexity=model_complexity)
        self._faces = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6)
        self._check = check  # photos: the mirrored check pass (one more Holistic pass per person), the hand search
        self._hands = None  # MediaPipe Hands, made on the first hand search
        self._face_mesh = None  # MediaPipe Face Mesh, made on the first face behind a hand (face_behind_hand)

    def __enter__(self) -> "HolisticDetector":
        return self

    def __exit__(self, *exc) -> None:
        self._holistic.close()
        self._faces.close()
        if self._hands is not None:
            self._hands.close()
        if self._face_mesh is not None:
            self._face_mesh.close()

    def face_boxes(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Faces as ``(x0, y0, w, h)`` in pixels, on the image and its contrast-normalised variant, duplicates
        merged, largest first."""
        h, w = image.shape[:2]
        boxes: list[tuple[float, float, float, float]] = []
        for variant in (Variant(), Variant(contrast=True)):
            seen, _ = apply(variant, image)
            for d in self._faces.process(seen).detections or []:
                b = d.location_data.relative_bounding_box
                box = (b.xmin * w, b.ymin * h, b.width * w, b.height * h)
                if all(_box_iou(box, other) < 0.3 for other in boxes):
                    boxes.append(box)
        return sorted(boxes, key=lambda b: -b[2] * b[3])

    def detect(self, image: np.ndarray, person: int | None = None) -> Detection:
        """Landmarks and mask of the main person in ``image`` ([H, W, 3] uint8 RGB), or of person number
        ``person`` (1-based, numbered left to right; :func:`people.pick`)."""
        found = self.detect_people(image)
        if not found:
            return empty_detection(*image.shape[:2])
        h, w = image.shape[:2]
        picked = pick(found, w, h, person)
        det = found[picked]
        det.people, det.everyone = len(found), people_record(found, picked, w, h)
        det.other_faces = [d.face_box for i, d in enumerate(found) if i != picked and d.face_present]
        return det

    def detect_people(self, image: np.ndarray) -> list[Detection]:
        """Every person found in ``image``, ordered left to right (by the centre of their boxes)."""
        faces = self.face_boxes(image)
        if len(faces) < 2:
            det = self.find(image)
            return [det] if det.found else []
        people: list[Detection] = []
        for face in faces:
            det = self._find_near(image, face)
            if det is not None and all(not _same_person(det, other) for other in people):
                people.append(det)
        if not people:
            det = self.find(image)
            people = [det] if det.found else []
        return sorted(people, key=lambda d: (d.box[0] + d.box[2]) / 2)

    def _find_near(self, image: np.ndarray, face) -> Detection | None:
        """The person whose face is ``face`` (x0, y0, w, h), searched for in windows around it; None if not found."""
        h, w = image.shape[:2]
        fx, fy, fw, fh = face
        size = max(fw, fh)
        for beside, below in FACE_WINDOWS:
            x0, x1 = int(max(0, fx - beside * size)), int(min(w, fx + fw + beside * size))
            y0, y1 = int(max(0, fy - size)), int(min(h, fy + below * size))
            det = self.find(np.ascontiguousarray(image[y0:y1, x0:x1]))
            if not det.found:
                continue
            det = shifted(det, x0, y0, w, h)
            nose = det.body[0, :2]
            if fx - 0.5 * size <= nose[0] <= fx + fw + 0.5 * size and fy - 0.5 * size <= nose[1] <= fy + fh + size:
                return det
        return None

    def find(self, image: np.ndarray) -> Detection:
        """The person Holistic finds in ``image``, trying :data:`VARIANTS` in order, refined by a second pass on a
        crop around them; an empty detection if no variant shows anyone."""
        h, w = image.shape[:2]
        for variant in VARIANTS:
            if variant.side is not None and max(h, w) <= variant.side:
                continue
            det = self._detect_variant(image, variant)
            if det.found:
                det = self._second_pass(image, det, variant)
                if not self._check:
                    return det
                det = self._arms_seen_again(image, self._checked(image, det, variant), variant)
                return self._unhanded(image, self._searched(image, det, variant), variant)
        return empty_detection(h, w)

    def _detect_variant(self, image: np.ndarray, variant: Variant) -> Detection:
        h, w = image.shape[:2]
        seen, scale = apply(variant, image)
        det = self._detect_in(seen)
        if not det.found:
            return empty_detection(h, w)
        if variant.mirrored:
            det = mirrored(det)
        if scale != 1.0:
            det = rescaled(det, 1.0 / scale, w, h)
        det.variant = variant.name
        return det

    def _second_pass(self, image: np.ndarray, det: Detection, variant: Variant) -> Detection:
        """Holistic again on a crop around ``det``'s box (at full resolution), kept where it finds the same person
        with at least as many parts (face, hands)."""
        h, w = image.shape[:2]
        cx0, cy0, cx1, cy1 = grown_box(det.box, CROP_MARGIN, w, h)
        if (cx1 - cx0) * (cy1 - cy0) > 0.7 * w * h or min(cx1 - cx0, cy1 - cy0) < 32:
            return det  # the person fills the image: a crop gives the detector nothing more
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        second = self._detect_variant(crop, Variant(variant.contrast, variant.mirrored))
        if not second.found:
            return det
        second = shifted(second, cx0, cy0, w, h)
        parts = lambda d: d.face_present + d.left_hand_present + d.right_hand_present  # noqa: E731
        if not _same_person(second, det) or parts(second) < parts(det):
            return det
        second.variant = f"{second.variant}, person crop"
        return second

    def _checked(self, image: np.ndarray, det: Detection, variant: Variant) -> Detection:
        """``det`` with the body points Holistic finds for the same person on the mirror image of the crop around
        them (``check_body``, ``check_visibility``): a second opinion on every point
        (:func:`talkavatar.track.gating.second_opinion`)."""
        h, w = image.shape[:2]
        cx0, cy0, cx1, cy1 = grown_box(det.box, CROP_MARGIN, w, h)
        crop = np.ascontiguousarray(image[cy0:cy1, cx0:cx1])
        other = self._detect_variant(crop, Variant(variant.contrast, not variant.mirrored))
        if not other.found:
            return det
        other = shifted(other, cx0, cy0, w, h)
        if _same_person(other, det):
            det.check_body, det.check_visibility, det.check_mask = other.body, other.body_visibility, other.mask
        return det

    def _arms_seen_again(self, image: np.ndarray, det: Detection, variant: Variant) -> Detection:
        """``det`` with its arms seen again on four more views where one of its two passes put both wrists on one
        point (:mod:`arm_views`): every elbow, wrist and hand point, in both passes, becomes the median over the
        views that find the same person and the pass that did not."""
        h, w = image.shape[:2]
        height = body_height(det, (w, h))
        passes = [(det.body, det.body_visibility)]
        if det.check_body is not None:
            passes.append((det.check_body, det.check_visibility))
        if not arm_views.collapsed(passes, height):
            return det
        x0, y0, x1, y1 = grown_box(arm_views.arms_extent(det.body), arm_views.MARGIN, w, h)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        views = [one for one in passes if not arm_views.collapsed([one], height)]
        for contrast in (variant.contrast, not variant.contrast):
            for mirror in (False, True):
                view = self._detect_variant(crop, Variant(contrast, mirror))
                if view.found:
                    view = shifted(view, x0, y0, w, h)
                    if _same_person(view, det):
                        views.append((view.body, view.body_visibility))
        if not views:
            return det
        det.body, det.body_visibility = arm_views.median_arms(det.body, det.body_visibility, views)
        if det.check_body is not None:
            det.check_body, det.check_visibility = arm_views.median_arms(det.check_body, det.check_visibility, views)
        det.variant = f"{det.variant}, arms seen again on {len(views)} views"
        return det

    def _searched(self, image: np.ndarray, det: Detection, variant: Variant) -> Detection:
        """``det`` with the hands MediaPipe Hands finds beyond the seen forearms whose hand Holistic missed
        (:mod:`hand_search`): each becomes that side's hand and moves the body's wrist and hand points to it."""
        h, w = image.shape[:2]
        for side in SIDES:
            elbow, wrist = ELBOWS[side], WRISTS[side]
            if getattr(det, f"{side}_hand_present") or det.body_visibility[[elbow, wrist]].min() < VISIBLE:
                continue
            box = hand_search.window(det.body[elbow, :2], det.body[wrist, :2], w, h)
            if box is None:
                continue
            placed = [getattr(det, f"{s}_hand") for s in ("left", "right") if getattr(det, f"{s}_hand_present")]
            hand = hand_search.pick(self._hands_in(image, box, variant.contrast), det.body[elbow, :2],
                                    det.body[wrist, :2], placed)
            if hand is None:
                continue
            det.body = hand_search.place(det.body, hand, side)
            setattr(det, f"{side}_hand", hand)
            setattr(det, f"{side}_hand_present", True)
            det.searched_hands.append(side)
        return det

    def _unhanded(self, image: np.ndarray, det: Detection, variant: Variant) -> Detection:
        """``det`` with its Face Mesh seen again on the head crop with the hands over its mouth painted out
        (:mod:`face_behind_hand`), where a hand of a plausible size (as the gating judges, which also gives no
        weight to the face points under it) is over the mouth and the mesh is found there (``found_on`` says so)."""
        over = face_behind_hand.over_mouth(det.face[:, :2], real_hands(det)) if det.face_present else []
        if not over:
            return det
        x0, y0, x1, y1 = face_behind_hand.head_crop(det.face[:, :2], image.shape[1], image.shape[0])
        crop = face_behind_hand.painted_out(image[y0:y1, x0:x1], [hand - (x0, y0) for hand in over])
        if self._face_mesh is None:
            self._face_mesh = self._mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True,
                                                                    max_num_faces=1)
        found = self._face_mesh.process(apply(Variant(contrast=variant.contrast), crop)[0]).multi_face_landmarks
        if not found:
            return det
        det.face = _points(found[0], x1 - x0, y1 - y0, N_FACE) + np.array([x0, y0, 0], np.float32)
        det.variant = f"{det.variant}, face seen again with the hand over its mouth painted out"
        return det

    def _hands_in(self, image: np.ndarray, box: tuple[int, int, int, int], contrast: bool) -> list[np.ndarray]:
        """[21, 3] points (image pixels) of every hand MediaPipe Hands finds in ``box`` ``(x0, y0, x1, y1)`` of
        ``image``, seen at :data:`hand_search.VIEW` pixels (contrast normalised with ``contrast``)."""
        if self._hands is None:
            self._hands = self._mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1)
        x0, y0, x1, y1 = box
        crop, _ = apply(Variant(contrast), np.ascontiguousarray(image[y0:y1, x0:x1]))
        scale = hand_search.VIEW / max(x1 - x0, y1 - y0)
        view = np.asarray(Image.fromarray(crop).resize((round((x1 - x0) * scale), round((y1 - y0) * scale)),
                                                        Image.BICUBIC))
        found = self._hands.process(np.ascontiguousarray(view)).multi_hand_landmarks or []
        vh, vw = view.shape[:2]
        return [_points(lm, vw, vh, N_HAND) / np.float32(scale) + np.array([x0, y0, 0], np.float32) for lm in found]

    def _detect_in(self, image: np.ndarray) -> Detection:
        h, w = image.shape[:2]
        r = self._holistic.process(image)
        det = empty_detection(h, w)
        if r.pose_landmarks is None:
            return det
        det.body = _points(r.pose_landmarks, w, h, N_BODY)
        det.body_visibility = np.array([max(p.visibility, 1e-3) for p in r.pose_landmarks.landmark], np.float32)
        if r.face_landmarks is not None:
            det.face, det.face_present = _points(r.face_landmarks, w, h, N_FACE), True
        if r.left_hand_landmarks is not None:
            det.left_hand, det.left_hand_present = _points(r.left_hand_landmarks, w, h, N_HAND), True
        if r.right_hand_landmarks is not None:
            det.right_hand, det.right_hand_present = _points(r.right_hand_landmarks, w, h, N_HAND), True
        if r.segmentation_mask is not None:
            det.mask = np.asarray(r.segmentation_mask, np.float32)
        return det


def grown_box(box: tuple[float, float, float, float], margin: float, width: int, height: int
              ) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)``: ``box`` grown by ``margin`` of its longer side, within the ``width`` x ``height``
    image."""
    x0, y0, x1, y1 = box
    grow = margin * max(x1 - x0, y1 - y0)
    return int(max(0, x0 - grow)), int(max(0, y0 - grow)), int(min(width, x1 + grow)), int(min(height, y1 + grow))


def _box_iou(a, b) -> float:
    """IoU of two ``(x0, y0, w, h)`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def _same_person(a: Detection, b: Detection) -> bool:
    """Whether two detections are of one person: their noses within a fifth of the smaller box's height."""
    height = min(a.box[3] - a.box[1], b.box[3] - b.box[1])
    return bool(np.linalg.norm(a.body[0, :2] - b.body[0, :2]) < 0.2 * max(height, 1.0))


def _with(det: Detection, move, place) -> Detection:
    """``det`` with every point array passed through ``move`` ([K, 3] → [K, 3]) and its masks through ``place``."""
    out = Detection(move(det.body), det.body_visibility, move(det.face) if det.face_present else det.face,
                    move(det.left_hand) if det.left_hand_present else det.left_hand,
                    move(det.right_hand) if det.right_hand_present else det.right_hand,
                    det.face_present, det.left_hand_present, det.right_hand_present, place(det.mask), det.people,
                    det.variant)
    out.searched_hands = list(det.searched_hands)
    if det.check_body is not None:
        out.check_body, out.check_visibility = move(det.check_body), det.check_visibility
        out.check_mask = None if det.check_mask is None else place(det.check_mask)
    return out


def shifted(det: Detection, x0: int, y0: int, width: int, height: int) -> Detection:
    """A detection made in a crop at ``(x0, y0)`` moved back into the full ``width`` x ``height`` image."""
    def place(crop_mask: np.ndarray) -> np.ndarray:
        mask = np.zeros((height, width), np.float32)
        ch, cw = crop_mask.shape
        mask[y0:y0 + ch, x0:x0 + cw] = crop_mask
        return mask

    shift = np.array([x0, y0, 0], np.float32)
    return _with(det, lambda p: p + shift, place)


def rescaled(det: Detection, factor: float, width: int, height: int) -> Detection:
    """A detection made on a resized image, in the ``width`` x ``height`` image (``factor``: its pixels per pixel
    of the resized one)."""
    return _with(det, lambda p: p * np.float32(factor),
                 lambda m: np.asarray(Image.fromarray(m).resize((width, height), Image.BILINEAR), np.float32))


def mirrored(det: Detection) -> Detection:
    """A detection made on the mirrored image, in the image itself: x mirrored; the person's left and right body
    points, hands and Face Mesh points swap (the mirror image of a left hand is a right hand)."""
    width = det.mask.shape[1]
    out = Detection(mirror_points(det.body[BODY_MIRROR], width), det.body_visibility[BODY_MIRROR],
                    mirror_points(det.face[face_mirror()], width) if det.face_present else det.face,
                    mirror_points(det.right_hand, width) if det.right_hand_present else det.right_hand,
                    mirror_points(det.left_hand, width) if det.left_hand_present else det.left_hand,
                    det.face_present, det.right_hand_present, det.left_hand_present,
                    np.ascontiguousarray(det.mask[:, ::-1]), det.people, det.variant)
    return out
