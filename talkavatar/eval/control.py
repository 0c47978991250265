"""Control accuracy: do rendered frames show the pose the motion asked for?

For each frame, the landmarks the motion asks for are the rig's MediaPipe landmark map on the posed rig
(``rig.landmarks(posed.vertices, posed.joints)``) projected through the render's camera; the landmarks seen are
MediaPipe Holistic's on the rendered frame. The error of a part (body: the 33 pose points seen with visibility
>= 0.5 inside the image; face: the mapped Face Mesh points; left_hand, right_hand: 21 points each, when the hand is
found) is the mean 2D distance over its points as % of the body's height in the image (the vertical extent of the
projected posed mesh, clipped to the image: in a close-up, the visible part's height). A part not detected in a frame has no error for that frame (nan) and counts in ``missed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from talkavatar.core.body.landmark_groups import GROUP_SETS, GroupedLandmarks
from talkavatar.core.body.rig import Rig
from talkavatar.core.cameras import Cameras

PARTS = tuple(GROUP_SETS)  # ("body", "face", "left_hand", "right_hand")


@dataclass(frozen=True)
class ControlErrors:
    """``per_frame[part]``: [T] error in % of body height (nan where the part was not detected); ``body_height_px``
    [T]; ``missed[part]``: frames where the part was not detected."""

    per_frame: dict[str, np.ndarray]
    body_height_px: np.ndarray
    missed: dict[str, int]

    def mean(self) -> dict[str, float | None]:
        """Mean error per part over the frames where it was detected (None: never detected)."""
        return {p: (float(np.nanmean(v)) if np.isfinite(v).any() else None) for p, v in self.per_frame.items()}


@torch.no_grad()
def asked_landmarks(rig: Rig, joint_rotations: torch.Tensor, root_translation: torch.Tensor,
                    arkit_weights: torch.Tensor, cameras: Cameras) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pixels of the landmarks a motion asks for: ({part: [T, K_part, 2]}, visible body height in pixels [T]).

    ``joint_rotations`` [T, 55, 3], ``root_translation`` [T, 3], ``arkit_weights`` [T, 52]; ``cameras``: T cameras.
    """
    rig = rig.to("cpu", torch.float32)
    cameras = cameras.to("cpu", torch.float32)
    posed = rig.pose(joint_rotations.float(), root_translation.float(), arkit_weights.float())
    grouped = GroupedLandmarks(rig.landmarks)(posed)
    pixels = {g: cameras.project(p)[0].numpy() for g, p in grouped.items()}
    mesh_rows = cameras.project(posed.vertices)[0][..., 1].clamp(0, cameras.height)  # the part inside the image
    height = (mesh_rows.max(1).values - mesh_rows.min(1).values).clamp_min(1.0).numpy()
    return pixels, height


def control_errors(asked: dict[str, np.ndarray], body_height_px: np.ndarray,
                   seen: dict[str, tuple[np.ndarray, np.ndarray]], found: np.ndarray) -> ControlErrors:
    """Errors per part and frame of ``asked`` ({part: [T, K, 2]} from :func:`asked_landmarks`) against what
    MediaPipe saw on the T frames, in the same pixels: ``seen`` {part: (points [T, K, 2], weights [T, K]; 0 = not
    seen)} and ``found`` [T] (a person detected; the track stage's ``seen_landmarks`` makes both)."""
    per_frame = {p: np.full(len(found), np.nan) for p in PARTS}
    for t in np.flatnonzero(found):
        for p in PARTS:
            points, weight = seen[p][0][t], seen[p][1][t]
            keep = weight > 0
            if keep.any():
                distance = np.linalg.norm(asked[p][t][keep] - points[keep], axis=1).mean()
                per_frame[p][t] = 100.0 * distance / max(float(body_height_px[t]), 1e-6)
    missed = {p: int((~np.isfinite(v)).sum()) for p, v in per_frame.items()}
    return ControlErrors(per_frame, np.asarray(body_height_px, dtype=np.float64), missed)
