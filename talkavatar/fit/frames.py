"""Real frames of the person as photometric labels (``fit VIDEO``, ``fit PHOTO --video CLIP``): which frames of the
tracked clip to learn from, their images at the training size, and which pseudo frames the clip leaves necessary.

Selection: farthest-point sampling over a pose feature of every tracked frame (the view: camera rotation times the
body's root rotation; the spine, neck, head, arm and jaw rotations; the ARKit expression weights, halved), starting
next to the photo, so that the frames cover the views, poses and expressions the clip shows instead of crowding
where the person sat still. Pseudo frames within :data:`COVERED_RADIUS` of a tracked frame in the same feature
space are dropped: the clip shows that pose for real.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from talkavatar.bundle.artifacts import TrackedVideo, read_tracked_video, track_video_mask
from talkavatar.core.cameras import Cameras
from talkavatar.core.rotations import axis_angle_to_matrix
from talkavatar.errors import InvalidInput
from talkavatar.ffmpeg import decode_frames, probe_video
from talkavatar.fit.data import FitData, Poses, Views, hard_mask, resize, scale_intrinsics, scaled_size

POSE_JOINTS = (3, 6, 9, 12, 15, 16, 17, 18, 19, 20, 21, 22)
"""spine1-3, neck, head, shoulders, elbows, wrists, jaw (canonical joint indices)."""
EXPRESSION_SCALE = 0.5
COVERED_RADIUS = 0.35
"""A pseudo frame whose feature lies this close to a tracked frame's shows nothing the clip does not."""


@dataclass(frozen=True)
class FrameSelection:
    """``entries``: the chosen tracked entries of the clip (indices into its params); ``frames``: their clip frame
    numbers; ``times``: their times (s); ``eligible``: how many tracked entries there were to choose from."""

    entries: tuple[int, ...]
    frames: tuple[int, ...]
    times: tuple[float, ...]
    eligible: int

    def as_dict(self) -> dict:
        return {"entries": list(self.entries), "frames": list(self.frames), "times": list(self.times),
                "eligible": self.eligible}


def pose_features(joint_rotations: np.ndarray, arkit_weights: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """[T, 55, 3], [T, 52], [T, 4, 4] -> features [T, 9 + 3 * len(POSE_JOINTS) + 52]."""
    root = axis_angle_to_matrix(torch.from_numpy(np.asarray(joint_rotations[:, 0], np.float32)))
    view = torch.from_numpy(np.asarray(world_to_camera[:, :3, :3], np.float32)) @ root
    joints = np.asarray(joint_rotations[:, POSE_JOINTS], np.float32).reshape(len(joint_rotations), -1)
    return np.concatenate([view.reshape(-1, 9).numpy(), joints, EXPRESSION_SCALE * np.asarray(arkit_weights)], 1)


def select_frames(video: TrackedVideo, count: int, exclude: int | None) -> FrameSelection:
    """At most ``count`` tracked entries spread over the clip's poses and expressions (farthest-point sampling from
    the entry nearest ``exclude``, the photo's own entry, which is left out)."""
    p = video.params
    features = pose_features(p.joint_rotations, p.arkit_weights, p.world_to_camera)
    eligible = np.flatnonzero(p.tracked)
    if exclude is not None:
        eligible = eligible[eligible != exclude]
    picked: list[int] = []
    if len(eligible):
        start = exclude if exclude is not None else int(eligible[0])
        distance = np.linalg.norm(features[eligible] - features[start], axis=1)
        while len(picked) < min(count, len(eligible)):
            best = int(np.argmax(distance)) if picked or exclude is None else int(np.argmin(distance))
            picked.append(int(eligible[best]))
            distance = np.minimum(distance, np.linalg.norm(features[eligible] - features[eligible[best]], axis=1))
            distance[best] = -1.0
    picked.sort()
    doc = video.doc
    return FrameSelection(tuple(picked), tuple(int(doc["frame_index"][i]) for i in picked),
                          tuple(float(doc["times"][i]) for i in picked), int(len(eligible)))


def uncovered(pseudo: Views, video: TrackedVideo) -> torch.Tensor:
    """[K] bool: the pseudo frames whose pose/view/expression no tracked frame of the clip comes close to."""
    p = video.params
    real = pose_features(p.joint_rotations[p.tracked], p.arkit_weights[p.tracked], p.world_to_camera[p.tracked])
    q = pseudo.poses
    fake = pose_features(q.joint_rotations.cpu().numpy(), q.arkit_weights.cpu().numpy(),
                         pseudo.cameras.world_to_camera.cpu().numpy())
    nearest = np.linalg.norm(fake[:, None] - real[None], axis=-1).min(1)
    return torch.from_numpy(nearest > COVERED_RADIUS)


def load_frames(bundle, video: TrackedVideo, selection: FrameSelection, image_size: int) -> Views:
    """The selected frames (decoded from the bundle's copy of the clip) and their masks at the training size
    (longer side ``image_size``), with their tracked cameras and poses."""
    source = bundle.root / video.doc["source"]
    info = probe_video(source)
    selector = "+".join(f"eq(n\\,{n})" for n in selection.frames)
    frames, _, errors = decode_frames(source, info, selector) if info is not None else ([], [], "not a video")
    if len(frames) != len(selection.frames) or (info.width, info.height) != tuple(video.params.image_size):
        raise InvalidInput(f"{source}: decoded {len(frames)} of the {len(selection.frames)} selected frames "
                           f"({errors.strip()[-120:] or 'size or count differs from the tracking'})",
                           tip="track the clip again: `talkavatar fit ... --force`")
    full_w, full_h = video.params.image_size
    w, h, sx, sy = scaled_size(full_w, full_h, image_size)
    index = list(selection.entries)
    rgb = np.stack([resize(f, w, h) for f in frames])
    mask = np.stack([resize(hard_mask(video.mask(bundle, i)), w, h) for i in index])
    p = video.params
    cams = Cameras(torch.from_numpy(np.asarray(p.world_to_camera[index], np.float32)),
                   scale_intrinsics(torch.from_numpy(np.asarray(p.intrinsics[index], np.float32)), sx, sy), w, h)
    poses = Poses(*(torch.from_numpy(a) for a in p.poses(np.array(index))))
    return Views(torch.from_numpy(rgb), torch.from_numpy(mask), cams, poses)


def with_video(bundle, data: FitData, count: int, image_size: int) -> FitData:
    """``data`` with the clip's selected frames (``count`` at most, longer side ``image_size``) as ``video``, the
    pseudo frames the clip covers dropped, and the record of both; ``data`` unchanged when the bundle has no clip."""
    video = read_tracked_video(bundle)
    if video is None or count == 0:
        return data
    # fit VIDEO: the photo is the clip's first tracked frame; it has its own loss already
    exclude = video.params.photo_frame if video.doc["shape_from"] == "clip" else None
    selection = select_frames(video, count, exclude)
    if not selection.entries:
        return data
    views = load_frames(bundle, video, selection, image_size)
    pseudo, kept = data.pseudo, None
    if pseudo is not None:
        keep = uncovered(pseudo, video)
        kept = int(keep.sum())
        pseudo = pseudo.select(torch.nonzero(keep).flatten()) if kept else None
    record = {"source": video.doc["source"], "selected": selection.as_dict(), "held_out": video.doc["held_out"],
              "shape_from": video.doc["shape_from"], "variable_frame_rate": video.doc["variable_frame_rate"],
              "pseudo_frames_kept": kept, "pseudo_frames_covered": None if kept is None else len(data.pseudo.poses) - kept}
    inputs = data.inputs + video.inputs + (video.doc["source"],) + tuple(track_video_mask(i) for i in selection.entries)
    return replace(data, video=views, pseudo=pseudo, video_record=record, inputs=inputs)
