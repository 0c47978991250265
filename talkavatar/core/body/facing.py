"""Which way a posed head faces a camera: the photo's view of the face (a profile, a three-quarter view)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from talkavatar.core.body.parts import PART, vertex_parts
from talkavatar.core.cameras import Cameras


def face_yaw(rig, joint_rotations: Tensor, root_translation: Tensor, arkit_weights: Tensor,
             camera: Cameras) -> float | None:
    """Degrees: the direction from the head to ``camera`` (one camera) in the head's own frame (the mean skinning
    rotation of the head's vertices posed by ``joint_rotations`` [1, 55, 3], ``root_translation`` [1, 3],
    ``arkit_weights`` [1, 52]; the head faces +Z at rest), about the up axis: 0 seen from the front, + from the
    head's left (its +X side), 90 a profile. None for a rig without head vertices (a toy mesh)."""
    head = torch.from_numpy(vertex_parts(rig) == PART["head"])
    if not bool(head.any()):
        return None
    posed = rig.pose(joint_rotations.to(rig.dtype), root_translation.to(rig.dtype), arkit_weights.to(rig.dtype))
    head = head.to(posed.vertices.device)
    u, _, vh = torch.linalg.svd(posed.vertex_transforms[0, head, :, :3].double().mean(0))
    to_camera = camera.centers[0].to(u) - posed.vertices[0, head].double().mean(0)
    x, _, z = (u @ vh).T @ to_camera  # in the head's frame
    return math.degrees(math.atan2(float(x), float(z)))
