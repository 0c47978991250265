"""Which way a posed head faces a camera (the photo's view of the face: a profile, a three-quarter view), and where a
profile's face is, which the photo saw only edge-on."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from talkavatar.core.body.mouth import mouth_landmarks
from talkavatar.core.body.parts import PART, vertex_parts
from talkavatar.core.body.rig import PosedBody
from talkavatar.core.cameras import Cameras


def face_yaw(rig, posed: PosedBody, camera: Cameras) -> float | None:
    """Degrees: the direction from the head to ``camera`` (one camera) in the head's own frame (the mean skinning
    rotation of the head's vertices in ``posed``, the rig in one pose; the head faces +Z at rest), about the up
    axis: 0 seen from the front, + from the head's left (its +X side), 90 a profile. None for a rig without head
    vertices (a toy mesh)."""
    head = torch.from_numpy(vertex_parts(rig) == PART["head"])
    if not bool(head.any()):
        return None
    head = head.to(posed.vertices.device)
    u, _, vh = torch.linalg.svd(posed.vertex_transforms[0, head, :, :3].double().mean(0))
    to_camera = camera.centers[0].to(u) - posed.vertices[0, head].double().mean(0)
    x, _, z = (u @ vh).T @ to_camera  # in the head's frame
    return math.degrees(math.atan2(float(x), float(z)))


PROFILE_YAW = 60.0  # degrees: a photo that saw the face from further aside saw a profile
PROFILE_WELL_SEEN = 0.5  # a profile's face seen at least this squarely (cosine) keeps the photo's colours; the rest
# of its forward-facing face (the nose, lips and chin seen edge-on: the outline's smear) is invented
PROFILE_FACE_TOP = 0.7  # ... up to this share of the head's height (the brows; the forehead and crown above: the hair)
PROFILE_MOUTH = (0.035, -0.045, 0.02)  # metres from the lip point: a profile's mouth and chin (half width, bottom,
# top), whose colours an edge-on view mixes with the mouth's opening


@dataclass(frozen=True)
class ProfileFace:
    """Where a profile's face is, per texel (or Gaussian) of a binding: ``face`` [N] bool, the head's forward-facing
    surface and its front half's (the nostrils', eyelids' and lips' undersides) up to :data:`PROFILE_FACE_TOP` of its
    height; ``mouth`` [N] bool, the mouth and chin area
    :data:`PROFILE_MOUTH` of it; ``from_lips`` [N, 3] metres from the lip point (zeros for a rig without a moving
    jaw, whose ``mouth`` is empty)."""

    face: np.ndarray
    mouth: np.ndarray
    from_lips: np.ndarray


def head_height(points, head):
    """[N]: the height of each rest point (``points`` [N, 3]) in the head's (``head`` [N] bool): 0 at its lowest
    point (the chin), 1 at its highest (the crown); zeros without a head. numpy arrays or torch tensors (of one
    device), the result of their kind."""
    if not head.any():
        return points[:, 1] * 0.0
    low, high = points[head, 1].min(), points[head, 1].max()
    return (points[:, 1] - low) / max(float(high - low), 1e-6)


def profile_face(rig, points: np.ndarray, normals: np.ndarray, head: np.ndarray) -> ProfileFace:
    """:class:`ProfileFace` of the rest-pose ``points`` and ``normals`` [N, 3] of a binding on ``rig``; ``head`` [N]
    bool: the head's texels."""
    height, front = head_height(points, head), np.zeros(len(points), bool)
    if head.any():
        front = points[:, 2] > (points[head, 2].min() + points[head, 2].max()) / 2  # the head's front half
    face = head & ((normals[:, 2] > 0) | front) & (height < PROFILE_FACE_TOP)  # nostrils, lids, lips' undersides
    try:
        marks = mouth_landmarks(rig)
    except ValueError:
        return ProfileFace(face, np.zeros(len(points), bool), np.zeros_like(points))
    from_lips = points - np.array([0.0, marks["y_lip"], marks["z_front"]])
    half, bottom, top = PROFILE_MOUTH
    mouth = face & (from_lips[:, 2] > -0.03) & (np.abs(from_lips[:, 0]) < half) & (from_lips[:, 1] > bottom) & \
        (from_lips[:, 1] < top)
    return ProfileFace(face, mouth, from_lips)
