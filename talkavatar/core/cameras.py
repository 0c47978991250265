"""Pinhole cameras in the project's convention, batched.

Convention (DESIGN.md "Conventions"): right-handed world, +Y up, metres. Cameras are OpenCV: x right, y down,
z forward; ``world_to_camera`` maps world points to camera coordinates; intrinsics ``K`` are in pixels, and the
centre of pixel (row i, column j) sits at image coordinates (j + 0.5, i + 0.5). This is also gsplat's
convention, so no conversion is needed between the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Cameras:
    """A batch of ``C`` pinhole cameras sharing one image size.

    world_to_camera: [C, 4, 4] rigid transforms (rotation + translation, last row 0 0 0 1).
    K: [C, 3, 3] intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (no skew).
    width, height: image size in pixels.
    """

    world_to_camera: Tensor
    K: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        w2c, K = self.world_to_camera, self.K
        if w2c.dim() != 3 or w2c.shape[-2:] != (4, 4):
            raise ValueError(f"world_to_camera must be [C, 4, 4], got {list(w2c.shape)}")
        if K.dim() != 3 or K.shape[-2:] != (3, 3):
            raise ValueError(f"K must be [C, 3, 3], got {list(K.shape)}")
        if K.shape[0] != w2c.shape[0]:
            raise ValueError(f"world_to_camera has {w2c.shape[0]} cameras but K has {K.shape[0]}")
        if K.device != w2c.device or K.dtype != w2c.dtype:
            raise ValueError("world_to_camera and K must share device and dtype")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # ------------------------------------------------------------------ basic properties
    @property
    def count(self) -> int:
        """Number of cameras C."""
        return int(self.world_to_camera.shape[0])

    def __len__(self) -> int:
        return self.count

    @property
    def device(self) -> torch.device:
        return self.world_to_camera.device

    @property
    def dtype(self) -> torch.dtype:
        return self.world_to_camera.dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "Cameras":
        return Cameras(self.world_to_camera.to(device=device, dtype=dtype), self.K.to(device=device, dtype=dtype),
                       self.width, self.height)

    def __getitem__(self, index: int | slice | Tensor) -> "Cameras":
        """The cameras at ``index`` (an int keeps a batch of one)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Cameras(self.world_to_camera[index], self.K[index], self.width, self.height)

    @staticmethod
    def cat(cameras: "list[Cameras]") -> "Cameras":
        """Concatenate batches of cameras of one image size."""
        sizes = {(c.width, c.height) for c in cameras}
        if len(sizes) != 1:
            raise ValueError(f"cameras to concatenate must share one image size, got {sorted(sizes)}")
        return Cameras(torch.cat([c.world_to_camera for c in cameras]), torch.cat([c.K for c in cameras]),
                       cameras[0].width, cameras[0].height)

    @property
    def camera_to_world(self) -> Tensor:
        """[C, 4, 4] inverse of ``world_to_camera`` (computed from the rigid parts, exact)."""
        R = self.world_to_camera[:, :3, :3]
        t = self.world_to_camera[:, :3, 3:]
        out = torch.zeros_like(self.world_to_camera)
        out[:, :3, :3] = R.transpose(1, 2)
        out[:, :3, 3:] = -R.transpose(1, 2) @ t
        out[:, 3, 3] = 1
        return out

    @property
    def centers(self) -> Tensor:
        """[C, 3] camera centres in world coordinates."""
        R = self.world_to_camera[:, :3, :3]
        t = self.world_to_camera[:, :3, 3]
        return -(R.transpose(1, 2) @ t[:, :, None])[:, :, 0]

    # ------------------------------------------------------------------ projection helpers
    def to_camera(self, points: Tensor) -> Tensor:
        """World points -> camera coordinates.

        points: [N, 3] (shared by all cameras) or [C, N, 3]. Returns [C, N, 3].
        """
        points = self._batched_points(points)
        R = self.world_to_camera[:, :3, :3]
        t = self.world_to_camera[:, :3, 3]
        return points @ R.transpose(1, 2) + t[:, None, :]

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Project world points to pixels.

        points: [N, 3] or [C, N, 3]. Returns ``(pixels [C, N, 2], depth [C, N])``: pixel coordinates in the
        +0.5-centre convention (u = fx x/z + cx) and camera-space z. Points at z <= 0 give meaningless pixels;
        test ``depth > 0`` before using them.
        """
        p = self.to_camera(points)
        z = p[..., 2]
        fx, fy = self.K[:, 0, 0, None], self.K[:, 1, 1, None]
        cx, cy = self.K[:, 0, 2, None], self.K[:, 1, 2, None]
        u = fx * p[..., 0] / z + cx
        v = fy * p[..., 1] / z + cy
        return torch.stack([u, v], dim=-1), z

    def pixel_rays(self) -> tuple[Tensor, Tensor]:
        """Rays through every pixel centre: ``(origins [C, 3], directions [C, H, W, 3])`` in world space,
        directions unnormalised with camera-space z = 1."""
        dev, dt = self.device, self.dtype
        v, u = torch.meshgrid(torch.arange(self.height, device=dev, dtype=dt) + 0.5,
                              torch.arange(self.width, device=dev, dtype=dt) + 0.5, indexing="ij")
        K = self.K
        x = (u[None] - K[:, 0, 2, None, None]) / K[:, 0, 0, None, None]
        y = (v[None] - K[:, 1, 2, None, None]) / K[:, 1, 1, None, None]
        d_cam = torch.stack([x, y, torch.ones_like(x)], dim=-1)  # [C, H, W, 3]
        R_c2w = self.world_to_camera[:, :3, :3].transpose(1, 2)
        d_world = torch.einsum("cij,chwj->chwi", R_c2w, d_cam)
        return self.centers, d_world

    def _batched_points(self, points: Tensor) -> Tensor:
        if points.dim() == 2 and points.shape[-1] == 3:
            return points[None].expand(self.count, -1, -1)
        if points.dim() == 3 and points.shape[0] == self.count and points.shape[-1] == 3:
            return points
        raise ValueError(f"points must be [N, 3] or [{self.count}, N, 3], got {list(points.shape)}")

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def intrinsics_from_fov(fov_y_degrees: float, width: int, height: int, *, dtype=torch.float32,
                            device=None) -> Tensor:
        """[3, 3] intrinsics with square pixels, the principal point at the image centre and vertical field
        of view ``fov_y_degrees``."""
        if not 0 < fov_y_degrees < 180:
            raise ValueError(f"fov_y_degrees must be in (0, 180), got {fov_y_degrees}")
        f = 0.5 * height / math.tan(math.radians(fov_y_degrees) / 2)
        return torch.tensor([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]], dtype=dtype,
                            device=device)

    @classmethod
    def from_fov(cls, world_to_camera: Tensor, fov_y_degrees: float, width: int, height: int) -> "Cameras":
        """Cameras at the given poses (``world_to_camera`` [C, 4, 4] or [4, 4]) sharing a vertical field of view,
        square pixels and a centred principal point."""
        w2c = world_to_camera if world_to_camera.dim() == 3 else world_to_camera[None]
        K = cls.intrinsics_from_fov(fov_y_degrees, width, height, dtype=w2c.dtype, device=w2c.device)
        return cls(w2c, K.expand(w2c.shape[0], 3, 3).contiguous(), width, height)

    @classmethod
    def look_at(cls, eye: Tensor, target: Tensor, *, width: int, height: int, fov_y_degrees: float = 30.0,
                up: tuple[float, float, float] = (0.0, 1.0, 0.0), K: Tensor | None = None) -> "Cameras":
        """Cameras at ``eye`` looking at ``target`` with world ``up`` pointing up in the image.

        eye, target: [3] or [C, 3] (broadcast against each other). K: [3, 3] or [C, 3, 3]; by default built
        from ``fov_y_degrees``. Raises ``ValueError`` when the view direction is parallel to ``up``.
        """
        eye, target = torch.broadcast_tensors(torch.as_tensor(eye), torch.as_tensor(target))
        if eye.shape[-1] != 3 or eye.dim() > 2:
            raise ValueError(f"eye and target must be [3] or [C, 3], got {list(eye.shape)}")
        eye = eye.reshape(-1, 3)
        target = target.reshape(-1, 3).to(eye)
        dtype = eye.dtype if eye.is_floating_point() else torch.float32
        eye, target = eye.to(dtype), target.to(dtype)
        up_t = torch.tensor(up, dtype=dtype, device=eye.device).expand_as(eye)
        forward = target - eye
        norm = forward.norm(dim=-1, keepdim=True)
        if (norm < 1e-12).any():
            raise ValueError("eye and target coincide")
        z = forward / norm
        x = torch.cross(z, up_t, dim=-1)
        xn = x.norm(dim=-1, keepdim=True)
        if (xn < 1e-9).any():
            raise ValueError("view direction is parallel to `up`; choose another up vector")
        x = x / xn
        y = torch.cross(z, x, dim=-1)  # points down in the image
        R_c2w = torch.stack([x, y, z], dim=-1)  # columns are the camera axes in world space
        w2c = torch.zeros(eye.shape[0], 4, 4, dtype=dtype, device=eye.device)
        w2c[:, :3, :3] = R_c2w.transpose(1, 2)
        w2c[:, :3, 3] = -(R_c2w.transpose(1, 2) @ eye[:, :, None])[:, :, 0]
        w2c[:, 3, 3] = 1
        if K is None:
            K = cls.intrinsics_from_fov(fov_y_degrees, width, height, dtype=dtype, device=eye.device)
        K = K.to(dtype=dtype, device=eye.device)
        if K.dim() == 2:
            K = K.expand(eye.shape[0], 3, 3)
        return cls(w2c, K.contiguous(), width, height)

    @classmethod
    def orbit(cls, center: Tensor, radius: float, yaw_degrees: Tensor, pitch_degrees: Tensor | float = 0.0, *,
              width: int, height: int, fov_y_degrees: float = 30.0) -> "Cameras":
        """Cameras on a sphere around ``center`` looking at it.

        Yaw rotates about +Y; yaw 0, pitch 0 puts the camera on +Z of ``center`` looking towards -Z (it sees
        the front of a body that faces +Z). Positive pitch raises the camera. yaw/pitch: scalars or [C].
        """
        center = torch.as_tensor(center, dtype=torch.float32) if not torch.is_tensor(center) else center
        dtype = center.dtype if center.is_floating_point() else torch.float32
        yaw = torch.deg2rad(torch.as_tensor(yaw_degrees, dtype=dtype, device=center.device)).reshape(-1)
        pitch = torch.deg2rad(torch.as_tensor(pitch_degrees, dtype=dtype, device=center.device)).reshape(-1)
        yaw, pitch = torch.broadcast_tensors(yaw, pitch)
        if abs(pitch).max() >= math.pi / 2 - 1e-6:
            raise ValueError("pitch must stay strictly between -90 and 90 degrees")
        offset = torch.stack([torch.sin(yaw) * torch.cos(pitch), torch.sin(pitch), torch.cos(yaw) * torch.cos(pitch)],
                             dim=-1) * radius
        center = center.to(dtype).reshape(-1, 3)
        return cls.look_at(center + offset, center.expand_as(offset), width=width, height=height,
                           fov_y_degrees=fov_y_degrees)
