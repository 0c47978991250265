"""``--camera auto``: frame what the photo showed, follow the body's slow motion, keep gestures in the frame.

1. What the photo showed (:func:`shown_vertices`): the rig posed as ``track`` fitted it, seen through the tracked
   camera; a vertex was shown when it projects inside the picture, in front of the camera, and its body part was
   seen by the detector (:func:`~talkavatar.core.body.parts.hidden_parts`: a thigh only with a seen knee below the
   hips, shins and feet only with a seen ankle too, so legs that the fit folded into the frame behind an object or
   onto a cropped body's belly do not count). A head-and-shoulders portrait shows the head, neck and shoulders; a
   full-body photo shows everything.
2. Over the clip (:func:`follow`), the shown vertices posed by the motion (sampled frames), boxed per frame by
   :func:`band_extents`: down to the lowest shown point of the trunk (head, neck, torso, legs), where the photo cut
   the body, so the arms of a half-body photo that hang below its edge in the clip do not stretch the frame to the
   knees; the camera's target is the box centre smoothed over ``follow_seconds`` (a Gaussian), so the camera
   follows the body's slow sway but not its quick gestures; the box (half extents about the target) is the
   ``quantile`` of the per-frame extents, so gestures stay inside the frame except the rarest extremes.
3. The frame size (:func:`frame_size`): among square, 4:5 and 9:16 portrait frames (1080 pixels wide), the
   tallest that is not taller than the box (height / width), so the box's height fills the frame and the room left
   over lies beside the body: a frame taller than the box shows, below where the photo cut the body, legs it never
   saw (camera.png, cut at the knees, box 0.75 x 1.23 m with the clip's gestures: 9:16 showed it to mid-shin).
4. The side (:func:`seen_side_yaw`): the camera looks from the front unless the photo saw the face from far aside
   (a profile): then it turns towards the side the photo saw, to within :data:`FACE_TURN` degrees of the photo's
   view, so the video shows the cheek, eye and mouth the photo showed rather than a front the photo never saw (a
   face turned ``FACE_TURN`` or less is still filmed from the front: a 60-degree photo gets a 15-degree turn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from talkavatar.core.body.facing import face_yaw
from talkavatar.core.body.parts import PART, vertex_parts
from talkavatar.core.body.rig import PosedBody
from talkavatar.core.cameras import Cameras
from talkavatar.render.camera_path import FRAMING_MARGIN, FOV_Y_DEGREES, Framing

FRAME_SIZES = ((1080, 1080), (1080, 1350), (1080, 1920))
MIN_HALF_HEIGHT = 0.2    # metres: a face-only photo still gets the whole head and a little of the shoulders
MAX_POINTS = 2000        # shown vertices posed per sampled frame
MAX_SAMPLES = 120        # sampled frames of the clip
LIMBS = ("upper_arm", "forearm", "hand")  # parts that do not set the frame's bottom (band_extents)
FACE_TURN = 45.0         # degrees: the camera turns to within this of the photo's view of the face (seen_side_yaw)


@dataclass(frozen=True)
class Shot:
    """The auto camera's targets ``centers`` [T, 3] (metres, world; one per output frame) and the box ``half_size``
    [3] about them that must stay in the frame."""

    centers: Tensor
    half_size: Tensor

    @property
    def framing(self) -> Framing:
        return Framing(self.centers[0], self.half_size)


def tracked_pose(rig, joint_rotations: Tensor, root_translation: Tensor, arkit_weights: Tensor) -> PosedBody:
    """The rig posed as ``track`` fitted the photo (``joint_rotations`` [1, 55, 3], ``root_translation`` [1, 3],
    ``arkit_weights`` [1, 52]), once for :func:`shown_vertices` and :func:`seen_side_yaw`."""
    return rig.pose(joint_rotations.to(rig.dtype), root_translation.to(rig.dtype), arkit_weights.to(rig.dtype))


def shown_vertices(rig, posed: PosedBody, camera: Cameras, hidden: list[int] = ()) -> Tensor:
    """[V] bool: the rig's vertices inside the picture of ``camera`` (one camera) when posed as tracked (``posed``:
    :func:`tracked_pose`), except those of the ``hidden`` parts (:func:`~talkavatar.core.body.parts.hidden_parts`)."""
    pixels, depth = camera.to(dtype=rig.dtype).project(posed.vertices[0])
    px, d = pixels[0], depth[0]
    inside = (px[:, 0] >= 0) & (px[:, 0] < camera.width) & (px[:, 1] >= 0) & (px[:, 1] < camera.height) & (d > 0)
    if len(hidden):
        inside &= ~torch.from_numpy(np.isin(vertex_parts(rig), list(hidden))).to(inside.device)
    return inside


def seen_side_yaw(rig, posed: PosedBody, camera: Cameras, face_turn: float = FACE_TURN) -> float:
    """The auto camera's yaw (degrees, :class:`~talkavatar.render.camera_path.CameraPath`'s sign: + towards the
    body's left) for a photo that saw the face from ``yaw`` degrees aside
    (:func:`~talkavatar.core.body.facing.face_yaw` of the tracked pose ``posed``, :func:`tracked_pose`, and the
    photo's ``camera``; the clip's head faces roughly as the rest pose's does): ``sign(yaw) * max(|yaw| - face_turn,
    0)``. 0 for a rig without head vertices (a toy mesh)."""
    yaw = face_yaw(rig, posed, camera)
    if yaw is None:
        return 0.0
    return math.copysign(max(abs(yaw) - face_turn, 0.0), yaw)


def band_extents(points: Tensor, trunk: Tensor) -> tuple[Tensor, Tensor]:
    """points: [S, N, 3] shown vertices at S instants, trunk: [N] bool (head, neck, torso, legs: not arms or hands)
    -> (low, high) [S, 3]: the box of what the photo showed at each instant. Its bottom is the trunk's lowest shown
    point (where the photo cut the body: arms hanging below a half-body photo's edge leave the frame, as they would
    in a half-body video); its top, sides and depth those of every shown point above that bottom (a gesture inside
    the band stays in the frame)."""
    if not bool(trunk.any()):
        return points.min(dim=1).values, points.max(dim=1).values
    bottom = points[:, trunk, 1].min(dim=1).values  # [S]
    above = points[..., 1] >= bottom[:, None]  # [S, N]
    big = torch.finfo(points.dtype).max
    low = torch.where(above[..., None], points, torch.full_like(points, big)).min(dim=1).values
    high = torch.where(above[..., None], points, torch.full_like(points, -big)).max(dim=1).values
    return low, high


def follow(points: Tensor, fps: float, follow_seconds: float = 1.0, quantile: float = 0.98,
           trunk: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """points: [S, N, 3] the shown vertices at S evenly sampled instants ``fps`` samples per second apart, trunk:
    [N] bool (:func:`band_extents`; None: every point counts) -> (targets [S, 3], half extents [3]) as in the
    module docstring (float64)."""
    p = points.double()
    low, high = band_extents(p, torch.ones(p.shape[1], dtype=torch.bool) if trunk is None else trunk)  # [S, 3]
    middle = (low + high) / 2
    sigma = follow_seconds * fps
    if p.shape[0] > 1 and sigma > 0:
        t = torch.arange(p.shape[0], dtype=torch.float64)
        weights = torch.exp(-0.5 * ((t[:, None] - t[None]) / sigma) ** 2)
        middle = (weights / weights.sum(1, keepdim=True)) @ middle
    lo = torch.quantile(low - middle, 1 - quantile, dim=0)
    hi = torch.quantile(high - middle, quantile, dim=0)
    half = (hi - lo) / 2
    half[1] = half[1].clamp_min(MIN_HALF_HEIGHT)
    return middle + (hi + lo) / 2, half


def frame_size(half_size: Tensor) -> tuple[int, int]:
    """(width, height): the tallest of :data:`FRAME_SIZES` whose height/width is at most the box's (``half_size``
    [3]), the squarest for a box wider than tall."""
    ratio = float(half_size[1]) / max(float(half_size[0]), 1e-6)
    fitting = [s for s in FRAME_SIZES if s[1] / s[0] <= ratio]
    return max(fitting, key=lambda s: s[1] / s[0]) if fitting else min(FRAME_SIZES, key=lambda s: s[1] / s[0])


def front_distance(half_size: Tensor, width: int, height: int, fov_y_degrees: float = FOV_Y_DEGREES,
                   yaw: float = 0.0) -> float:
    """Distance (metres) from the box centre at which the box, seen from ``yaw`` degrees aside (0: the front),
    fills the frame with the margin (its near face at that distance minus its half depth)."""
    tan_y = math.tan(math.radians(fov_y_degrees) / 2)
    tan_x = tan_y * width / height
    c, s = abs(math.cos(math.radians(yaw))), abs(math.sin(math.radians(yaw)))
    hx, hy, hz = float(half_size[0]) * c + float(half_size[2]) * s, float(half_size[1]), \
        float(half_size[0]) * s + float(half_size[2]) * c  # the box's extents across and along the view
    return FRAMING_MARGIN * max(hy / tan_y, hx / tan_x) + hz


def plan_shot(rig, shown: Tensor, poses, frames: int, fps: float, follow_seconds: float = 1.0) -> Shot:
    """The auto camera's :class:`Shot` for a clip of ``frames`` frames at ``fps``: ``poses(indices)`` gives
    (joint_rotations [B, 55, 3], root_translation [B, 3], arkit_weights [B, 52]) of output frames ``indices``;
    ``shown``: [V] bool (:func:`shown_vertices`; all vertices when nothing is known)."""
    index = torch.nonzero(shown).squeeze(1) if bool(shown.any()) else torch.arange(shown.shape[0])
    if index.numel() > MAX_POINTS:
        index = index[torch.linspace(0, index.numel() - 1, MAX_POINTS).round().long()]
    limbs = torch.from_numpy(np.isin(vertex_parts(rig), [PART[p] for p in LIMBS]))
    sampled = np.unique(np.linspace(0, frames - 1, min(frames, MAX_SAMPLES)).round().astype(np.int64))
    points = []
    for start in range(0, len(sampled), 32):
        jr, rt, aw = (t.to(rig.device, rig.dtype) for t in poses(sampled[start:start + 32]))
        points.append(rig.pose(jr, rt, aw).vertices[:, index.to(rig.device)].cpu())
    step_fps = fps * (len(sampled) - 1) / max(frames - 1, 1) if len(sampled) > 1 else fps
    targets, half = follow(torch.cat(points), step_fps, follow_seconds, trunk=~limbs[index])
    every = torch.arange(frames, dtype=torch.float64)
    centers = torch.stack([torch.from_numpy(np.interp(every.numpy(), sampled.astype(np.float64),
                                                      targets[:, k].numpy())) for k in range(3)], -1)
    return Shot(centers, half)
