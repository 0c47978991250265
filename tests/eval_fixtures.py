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


def shaded_avatar(rig: Rig, resolution: int) -> Avatar:
    """Gaussians on the rig's UV map, coloured skin x (0.25 + 0.75 Lambert) under a light from the front-top-left."""
    avatar = Avatar.on_surface(rig.to(dtype=torch.float32), resolution)
    v, f = avatar.rig.vertices, avatar.rig.faces
    n = torch.linalg.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vertex_normals = torch.zeros_like(v).index_add_(0, f.reshape(-1), n.repeat_interleave(3, 0))
    normals = avatar.binding.interpolate(vertex_normals[None], f)[0]
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    light = torch.tensor(LIGHT) / torch.tensor(LIGHT).norm()
    shade = 0.25 + 0.75 * (normals @ light).clamp(0, 1)
    return Avatar(**{**avatar.__dict__, "rgb": shade[:, None] * torch.tensor(SKIN)})


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
    cameras = CameraPath("input", width, height, motion.frames, world_to_camera=torch.from_numpy(world_to_camera).double(),
                         K=torch.from_numpy(K).double())
    producer = FrameProducer(avatar, timeline, cameras, Background.parse(background, width, height),
                             pixel_format="yuv420p", batch=4)
    with VideoSink(Path(path), format="mp4", width=width, height=height, fps=motion.fps, audio=audio) as sink:
        encode(producer, sink)
    return Path(path)


def track_camera(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """track's default camera for a ``width`` x ``height`` video: (world_to_camera [4, 4], K [3, 3])."""
    from talkavatar.track.camera import WORLD_TO_CAMERA, default_focal, intrinsics

    return WORLD_TO_CAMERA.copy(), intrinsics(width, height, default_focal(width, height))
