"""Person detection with MediaPipe Holistic (``mediapipe==0.10.21``; its models ship in the wheel).

Per frame: 33 body, 478 face and 2 x 21 hand landmarks in work-image pixels with visibilities, and the person mask.
Several people: MediaPipe's face detector counts faces; Holistic then runs on a crop around the largest one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkavatar.errors import MissingDependency

N_BODY, N_FACE, N_HAND = 33, 478, 21


@dataclass
class Detection:
    """Landmarks of one person in one frame. Coordinates ``(x, y)`` in work pixels, ``z`` MediaPipe's relative depth
    (same scale as x); missing parts are zeros with ``*_present`` False.

    body: [33, 3], body_visibility: [33]; face: [478, 3]; left_hand, right_hand: [21, 3] (the person's own left and
    right); mask: [H, W] float32 in 0..1 (raw MediaPipe segmentation, refined later).
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

    @property
    def found(self) -> bool:
        return bool(self.body_visibility.max(initial=0.0) > 0.0)


def empty_detection(height: int, width: int) -> Detection:
    z = np.zeros
    return Detection(z((N_BODY, 3), np.float32), z(N_BODY, np.float32), z((N_FACE, 3), np.float32),
                     z((N_HAND, 3), np.float32), z((N_HAND, 3), np.float32), False, False, False,
                     z((height, width), np.float32), 0)


def _heavy_model_path() -> Path:
    import mediapipe  # heavy (~5 s): loaded when detection runs, not by every command that imports track

    return Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_heavy.tflite"


def _points(landmarks, width: int, height: int, n: int) -> np.ndarray:
    return np.array([[p.x * width, p.y * height, p.z * width] for p in landmarks.landmark[:n]], np.float32)


class HolisticDetector:
    """MediaPipe Holistic in static-image mode; use as a context manager. ``detect(image)`` → :class:`Detection`."""

    def __init__(self, model_complexity: int = 1):
        if model_complexity == 2 and not _heavy_model_path().is_file():
            raise MissingDependency(
                "model_complexity 2 needs MediaPipe's heavy pose model, which its wheel does not ship",
                tip=f"copy pose_landmark_heavy.tflite (npm package @mediapipe/pose) to {_heavy_model_path()}, "
                    "or use model_complexity 1")
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import mediapipe as mp

        self._mp = mp
        self._holistic = mp.solutions.holistic.Holistic(
            static_image_mode=True, refine_face_landmarks=True, enable_segmentation=True,
            model_complexity=model_complexity)
        self._faces = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6)

    def __enter__(self) -> "HolisticDetector":
        return self

    def __exit__(self, *exc) -> None:
        self._holistic.close()
        self._faces.close()

    def _face_boxes(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Faces as ``(x0, y0, w, h)`` in pixels, largest first."""
        h, w = image.shape[:2]
        result = self._faces.process(image)
        boxes = []
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            boxes.append((b.xmin * w, b.ymin * h, b.width * w, b.height * h))
        return sorted(boxes, key=lambda b: -b[2] * b[3])

    def detect(self, image: np.ndarray) -> Detection:
        """Landmarks and mask of the (largest) person in ``image``: [H, W, 3] uint8 RGB."""
        h, w = image.shape[:2]
        faces = self._face_boxes(image)
        x0 = y0 = 0
        crop = image
        if len(faces) > 1:
            # several people: look only at a window around the largest face (shoulders to feet below it)
            fx, fy, fw, fh = faces[0]
            x0 = int(max(0, fx - 2.5 * fw))
            x1 = int(min(w, fx + 3.5 * fw))
            y0 = int(max(0, fy - 1.0 * fh))
            crop = image[y0:, x0:x1]
        det = self._detect_in(np.ascontiguousarray(crop))
        det.people = max(len(faces), 1 if det.found else 0)
        if crop is not image:
            det = _uncrop(det, x0, y0, w, h)
        return det

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


def _uncrop(det: Detection, x0: int, y0: int, width: int, height: int) -> Detection:
    """Move a detection made in a crop at ``(x0, y0)`` back into the full ``width`` x ``height`` image."""
    shift = np.array([x0, y0, 0], np.float32)
    mask = np.zeros((height, width), np.float32)
    ch, cw = det.mask.shape
    mask[y0:y0 + ch, x0:x0 + cw] = det.mask
    return Detection(det.body + shift * det.found, det.body_visibility, det.face + shift * det.face_present,
                     det.left_hand + shift * det.left_hand_present, det.right_hand + shift * det.right_hand_present,
                     det.face_present, det.left_hand_present, det.right_hand_present, mask, det.people)
