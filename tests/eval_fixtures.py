"""A known avatar and videos of it, for eval tests and benchmarks: the default Anny rig covered with skin-coloured
Gaussians shaded by their rest normals (so MediaPipe finds the body, face and mouth), a bundle holding it, and
videos rendered with render's frame producer and video sink (the same code path as `talkavatar render`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from talkavatar.bundle import Bundle
from talkavatar.core.avatar import Avatar
from talkavatar.core.body.rig import Rig
from talkavatar.motion.file import Motion
from talkavatar.motion.names import JOINT_INDEX

SKIN = (0.8, 0.55, 0.42)
LIGHT = (0.3, 0.5, 1.0)


def anny_rig() -> Rig:
    """The default-shape Anny rig (needs the anny package and its cache)."""
    from talkavatar.core.body.anny import anny_body

    body = anny_body(local_changes=False)
    return body.bake_rig(body.default_shape)


def shaded_avatar(rig: Rig, uv_res: int) -> Avatar:
    """Gaussians on the rig's UV map, painted (skin, dark hair, eyes and brows, red lips, blue shirt, grey
    trousers, all placed by the rig's landmark map in the rest pose) and shaded by their rest normals
    (0.25 + 0.75 Lambert, light from the front-top-left), so that MediaPipe finds the body, face and mouth."""
    avatar = Avatar.on_surface(rig.to(dtype=torch.float32), uv_res)
    r = avatar.rig
    v, f = r.vertices, r.faces
    n = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vertex_normals = torch.zeros_like(v).index_add_(0, f.reshape(-1), n.repeat_interleave(3, 0))
    normals = avatar.binding.interpolate(vertex_normals[None], f)[0]
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    light = torch.tensor(LIGHT) / torch.tensor(LIGHT).norm()
    shade = 0.25 + 0.75 * (normals @ light).clamp(0, 1)

    points = avatar.binding.surface_points(v[None], f)[0]                 # [N, 3] rest positions
    posed = r.pose(torch.zeros(1, 55, 3))
    marks = r.landmarks(posed.vertices, posed.joints)[0]
    names = list(r.landmarks.names)
    at = lambda name: marks[names.index(name)]  # noqa: E731
    near = lambda prefix, radius: torch.cdist(points, marks[[i for i, m in enumerate(names) if m.startswith(prefix)]]
                                              ).min(1).values < radius  # noqa: E731
    colour = torch.tensor(SKIN).expand(points.shape[0], 3).clone()
    y, z = points[:, 1], points[:, 2]
    shoulder_y, hip_y = at("left_shoulder")[1], at("left_hip")[1]
    shoulder_x = at("left_shoulder")[0].abs()
    colour[(y < shoulder_y + 0.06) & (y > hip_y - 0.05) & (points[:, 0].abs() < shoulder_x + 0.04)] = \
        torch.tensor((0.15, 0.25, 0.6))                                                 # shirt
    colour[y < hip_y - 0.05] = torch.tensor((0.3, 0.3, 0.32))                          # trousers
    brow_y, ear_z, chin_y = at("left_brow_2")[1], at("left_ear")[2], at("jaw_10")[1]
    colour[(y > brow_y + 0.035) | ((y > chin_y + 0.02) & (z < ear_z - 0.01))] = torch.tensor((0.18, 0.1, 0.06))
    colour[near("left_brow", 0.006) | near("right_brow", 0.006)] = torch.tensor((0.15, 0.08, 0.05))
    colour[near("left_eye_", 0.005) | near("right_eye_", 0.005)] = torch.tensor((0.08, 0.06, 0.06))
    colour[near("lip_", 0.005)] = torch.tensor((0.55, 0.15, 0.15))
    return Avatar(**{**avatar.__dict__, "rgb": shade[:, None] * colour})


def avatar_bundle(root: Path, avatar: Avatar) -> Path:
    """A bundle at ``root`` whose fit stage holds ``avatar``."""
    bundle = Bundle.create(root)
    with bundle.write_stage("fit", config={"fixture": "shaded anny"}) as writer:
        avatar.save(writer.dir)
    return Path(root)


def waving_motion(frames: int, fps: float, distance: float = 2.6) -> Motion:
    """Arms down, the right arm rising and the head turning over ``frames`` frames, the body ``distance`` m in front
    of track's camera (at the origin, looking down -Z)."""
    motion = Motion.still(frames, fps)
    phase = np.linspace(0.0, 1.0, frames, dtype=np.float32)
    motion.joint_rotations[:, JOINT_INDEX["left_shoulder"], 2] = -1.1
    motion.joint_rotations[:, JOINT_INDEX["right_shoulder"], 2] = 1.1 - 0.6 * phase
    motion.joint_rotations[:, JOINT_INDEX["head"], 1] = 0.3 * phase
    motion.root_translation[:] = (0.0, 0.0, -distance)
    return motion


def write_video(avatar: Avatar, motion: Motion, path: Path, width: int, height: int, world_to_camera: np.ndarray,
                K: np.ndarray, audio=None, background: str = "black") -> Path:
    """Render ``motion`` through one camera (``K`` for a ``width`` x ``height`` image) into an mp4 at ``path``."""
    from talkavatar.render.background import Background
    from talkavatar.render.camera_path import CameraPath
    from talkavatar.render.frames import FrameProducer
    from talkavatar.render.pipeline import encode
    from talkavatar.render.timeline import Timeline
    from talkavatar.render.video import VideoSink

    timeline = Timeline(motion, motion.fps, 0.0, motion.frames)
    cameras = CameraPath("input", width, height, motion.frames,
                         world_to_camera=torch.from_numpy(world_to_camera).double(), K=torch.from_numpy(K).double())
    producer = FrameProducer(avatar, timeline, cameras, Background.parse(background, width, height),
                             pixel_format="yuv420p", batch=4)
    with VideoSink(Path(path), format="mp4", width=width, height=height, fps=motion.fps, audio=audio) as sink:
        encode(producer, sink)
    return Path(path)


def track_camera(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """track's default camera for a ``width`` x ``height`` video: (world_to_camera [4, 4], K [3, 3])."""
    from talkavatar.track.camera import WORLD_TO_CAMERA, default_focal, intrinsics

    return WORLD_TO_CAMERA.copy(), intrinsics(width, height, default_focal(width, height))
