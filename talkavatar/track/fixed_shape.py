"""Tracking footage of a person whose body is already known: the shape is held to a baked personal rig.

Used where a bundle exists and new footage of its person must be posed in it: self-reenactment in ``eval`` (track
the reference video, render the avatar with the same poses and cameras) and re-tracking imported pseudo-label
videos (One Shot One Talk §3.2: "re-tracking with the shape fixed"). Same energy and stages as
:func:`talkavatar.track.fitting.fit`, with an empty shape space (nothing about the body's shape is free) and no
body-model package: the rig carries the mesh, skinning, blendshapes and landmark map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from talkavatar.core.body.rig import Rig
from talkavatar.track.camera import WORLD_TO_CAMERA
from talkavatar.track.config import TrackConfig
from talkavatar.track.detect import Detection
from talkavatar.track.fit_frames import gate_detections, refined_masks, track_poses
from talkavatar.track.fitting import ModelConsts
from talkavatar.track.footage import Footage
from talkavatar.core.body.landmark_groups import GroupedLandmarks
from talkavatar.track.shape_space import ShapeSpace


@dataclass
class RigTrack:
    """Poses of T frames in a rig's shape. joint_rotations [T, 55, 3]; root_translation [T, 3]; arkit_weights
    [T, 52]; tracked [T] bool (False: no person found, pose interpolated from neighbours); world_to_camera [4, 4] and
    K [3, 3]: the camera of the work images (:mod:`talkavatar.track.camera`); masks: T person masks [H, W] float in
    0..1 (work resolution)."""

    joint_rotations: torch.Tensor
    root_translation: torch.Tensor
    arkit_weights: torch.Tensor
    tracked: np.ndarray
    world_to_camera: np.ndarray
    K: np.ndarray
    masks: list[np.ndarray]


def fixed_shape_space(rig: Rig) -> ShapeSpace:
    """A shape space with no free parameter: the rig's rest mesh and joints, always."""
    v, j = rig.vertices.float(), rig.joints.float()
    return ShapeSpace(v, j, v.new_zeros(0, v.numel()), j.new_zeros(0, j.numel()), v.new_zeros(0, v.numel()),
                      j.new_zeros(0, j.numel()), rig.rest_to_canonical.float(), v.new_zeros(0),
                      torch.zeros(0, dtype=torch.long, device=v.device), v.new_zeros(0))


def track_with_rig(rig: Rig, footage: Footage, detections: list[Detection], *, steps: int = 240,
                   focal: float | None = None, mask_weight: float = 1.0, smooth_weight: float = 1.0, seed: int = 0,
                   log: Callable[[str], None] = lambda _: None) -> RigTrack:
    """Fit pose, expression and placement of every frame of ``footage`` (shape fixed to ``rig``'s), as the track
    stage fits a clip (:func:`talkavatar.track.fit_frames.track_poses`: a close-up is placed by its face and its
    focal length fitted unless given).

    ``focal``: focal length in pixels of the full-resolution input (else EXIF, else the default field of view, or
    fitted for a close-up). Frames without a detected person take their neighbours' poses.
    """
    found = np.array([d.found for d in detections])
    if not found.any():
        raise ValueError("no person was detected in any frame")
    rig = rig.to("cpu", torch.float32)
    gate_detections(detections)
    masks = refined_masks(footage, detections)
    config = TrackConfig(focal=focal, steps=steps, mask_weight=mask_weight, smooth_weight=smooth_weight, seed=seed)
    track = track_poses(ModelConsts.of(rig), fixed_shape_space(rig), GroupedLandmarks(rig.landmarks), footage,
                        detections, masks, config, "cpu", log)
    return RigTrack(track.joint_rotations, track.root_translation, track.arkit_weights, found,
                    WORLD_TO_CAMERA.copy(), track.K, masks)
