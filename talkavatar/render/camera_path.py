"""Camera paths: which camera sees each frame of a clip (auto, input, front or orbit).

Conventions are those of :mod:`talkavatar.core.cameras`. ``front`` and ``orbit`` circle the body's centre on a
sphere: yaw 0, pitch 0 looks at the front of a body facing +Z; yaw turns about +Y (positive yaw moves the camera
towards +X, the body's left), positive pitch raises the camera. ``input`` is the camera ``track`` fitted to the
photo (frame 0 of ``track/params.safetensors``), its intrinsics rescaled so the whole input picture fits the output
size with its aspect ratio kept (centred, letterboxed). ``auto`` is ``front`` with a target per frame: the part of
the body the photo showed, followed smoothly (:mod:`talkavatar.render.framing` plans it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from talkavatar.core.cameras import Cameras

FOV_Y_DEGREES = 30.0
FRAMING_MARGIN = 1.15


@dataclass(frozen=True)
class Framing:
    """Where the body is: ``center`` [3] (metres, world) and its axis-aligned half extents ``half_size`` [3]."""

    center: Tensor
    half_size: Tensor

    @classmethod
    def of_points(cls, points: Tensor) -> "Framing":
        """The bounding box of ``points`` [N, 3]."""
        low, high = points.min(dim=0).values, points.max(dim=0).values
        return cls((low + high) / 2, (high - low) / 2)

    def distance_to_fit(self, width: int, height: int, fov_y_degrees: float = FOV_Y_DEGREES) -> float:
        """Camera distance (metres) at which the box, seen from the front, fits the image with a margin."""
        tan_y = math.tan(math.radians(fov_y_degrees) / 2)
        tan_x = tan_y * width / height
        hx, hy, hz = (float(v) for v in self.half_size)
        radius_xz = math.hypot(hx, hz)  # the box seen from any yaw stays within this horizontal radius
        return FRAMING_MARGIN * max(hy / tan_y, radius_xz / tan_x) + radius_xz


@dataclass(frozen=True)
class CameraPath:
    """Cameras for the frames of a clip of ``frames`` frames.

    kind: "auto", "input", "front" or "orbit". For front/orbit: ``center`` [3], ``distance`` (m), ``yaw``/``pitch``
    (degrees) and ``orbit_degrees`` (turned over the clip); auto: the same with ``center`` [frames, 3] (one target
    per frame). For input: ``world_to_camera`` [4, 4] and ``K`` [3, 3].
    """

    kind: str
    width: int
    height: int
    frames: int
    center: Tensor | None = None
    distance: float = 3.0
    yaw: float = 0.0
    pitch: float = 0.0
    orbit_degrees: float = 0.0
    world_to_camera: Tensor | None = None
    K: Tensor | None = None

    @classmethod
    def around(cls, kind: str, framing: Framing, *, width: int, height: int, frames: int, yaw: float = 0.0,
               pitch: float = 0.0, distance: float | None = None, orbit_degrees: float = 360.0) -> "CameraPath":
        """A ``front`` or ``orbit`` path around ``framing`` (distance fitted to the body when None)."""
        if kind not in ("front", "orbit"):
            raise ValueError(f"kind must be front or orbit, got {kind!r}")
        if distance is None:
            distance = framing.distance_to_fit(width, height)
        return cls(kind, width, height, frames, center=framing.center, distance=float(distance), yaw=yaw,
                   pitch=pitch, orbit_degrees=orbit_degrees if kind == "orbit" else 0.0)

    @classmethod
    def following(cls, centers: Tensor, distance: float, *, width: int, height: int, yaw: float = 0.0,
                  pitch: float = 0.0) -> "CameraPath":
        """An ``auto`` path: the front camera at ``distance`` (m) from a target per frame, ``centers`` [T, 3]."""
        return cls("auto", width, height, int(centers.shape[0]), center=centers, distance=float(distance), yaw=yaw,
                   pitch=pitch)

    @classmethod
    def from_input(cls, world_to_camera: Tensor, K: Tensor, image_size: tuple[int, int], *, width: int,
                   height: int, frames: int) -> "CameraPath":
        """The input photo's camera: ``world_to_camera`` [4, 4], ``K`` [3, 3] for an ``image_size`` (w, h)
        picture, rescaled to ``width`` x ``height`` (whole picture visible, centred)."""
        in_w, in_h = image_size
        s = min(width / in_w, height / in_h)
        K = K.clone().to(torch.float64)
        K[:2] *= s
        K[0, 2] += (width - in_w * s) / 2
        K[1, 2] += (height - in_h * s) / 2
        K[2] = torch.tensor([0.0, 0.0, 1.0], dtype=K.dtype)
        return cls("input", width, height, frames, world_to_camera=world_to_camera.to(torch.float64), K=K)

    def at(self, frame_index: Tensor, *, device=None, dtype=torch.float32) -> Cameras:
        """Cameras of the frames ``frame_index`` [B] (integers, 0 = the clip's first frame): a batch of B."""
        count = int(frame_index.shape[0])
        if self.kind == "input":
            cams = Cameras(self.world_to_camera.expand(count, 4, 4).clone(), self.K.expand(count, 3, 3).clone(),
                           self.width, self.height)
            return cams.to(device=device, dtype=dtype)
        turn = frame_index.to(torch.float64) / max(self.frames, 1) * self.orbit_degrees
        center = self.center.to(torch.float64)
        if center.dim() == 2:  # auto: a target per frame (frames past the end keep the last)
            center = center[frame_index.long().clamp(0, center.shape[0] - 1)]
        cams = Cameras.orbit(center, self.distance, self.yaw + turn,
                             torch.full_like(turn, self.pitch), width=self.width, height=self.height,
                             fov_y_degrees=FOV_Y_DEGREES)
        return cams.to(device=device, dtype=dtype)
