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
from talkavatar.track.camera import WORLD_TO_CAMERA, default_focal, intrinsics
from talkavatar.track.detect import Detection
from talkavatar.track.expression import smooth_expression
from talkavatar.track.fit_frames import (ANCHORS, CLOSEUP_ANCHORS, CLOSEUP_MASK, GROUPS, closeup_targets,
                                         gate_detections, interpolate_missing, fit_targets, refined_masks)
from talkavatar.track.fitting import FitWeights, ModelConsts, fit, initial_state
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
    return ShapeSpace(v, j, v.new_zeros(0, v.numel()), j.new_zeros(0, j.numel()), rig.rest_to_canonical.float(),
                      v.new_zeros(0), torch.zeros(0, dtype=torch.long, device=v.device))


def track_with_rig(rig: Rig, footage: Footage, detections: list[Detection], *, steps: int = 240,
                   focal: float | None = None, mask_weight: float = 1.0, smooth_weight: float = 1.0, seed: int = 0,
                   log: Callable[[str], None] = lambda _: None) -> RigTrack:
    """Fit pose, expression and placement of every frame of ``footage`` (shape fixed to ``rig``'s).

    ``focal``: focal length in pixels of the full-resolution input (else EXIF, else the default field of view).
    Frames without a detected person take their neighbours' poses. A close-up is tracked as ``track`` tracks one
    (:func:`~talkavatar.track.fit_frames.closeup_targets`: sized by the face, the body's head points and most of the
    mask's pull left out), so that the same frame is placed as the photo's track placed it.
    """
    found = np.array([d.found for d in detections])
    if not found.any():
        raise ValueError("no person was detected in any frame")
    rig = rig.to("cpu", torch.float32)
    width, height = footage.work_size
    gate_detections(detections)
    masks = refined_masks(footage, detections)
    focal_full = focal or footage.exif_focal_px or default_focal(*footage.full_size)
    K = intrinsics(width, height, focal_full / footage.scale)
    landmarks = GroupedLandmarks(rig.landmarks)
    index = {g: landmarks.mediapipe_index(g) for g in GROUPS}
    targets = fit_targets(detections, masks, K, (width, height), index, "cpu")
    closeup = closeup_targets(detections, targets, index)
    space = fixed_shape_space(rig)
    consts = ModelConsts.of(rig)
    state = initial_state(consts, space, landmarks, targets, CLOSEUP_ANCHORS if closeup else ANCHORS)

    def on_step(stage, step, count):
        if step == count - 1:
            log(f"track (shape fixed) {stage}: {count} steps")

    weights = FitWeights(mask=mask_weight * (CLOSEUP_MASK if closeup else 1.0), smooth=smooth_weight)
    result = fit(consts, space, landmarks, targets, state, steps, weights, torch.ones(0), fit_shape=False, seed=seed,
                 on_step=on_step, closeup=closeup)
    arkit = interpolate_missing(result.arkit_weights, found)
    if footage.kind == "video":
        arkit = smooth_expression(arkit, footage.fps)
    return RigTrack(interpolate_missing(result.joint_rotations, found), interpolate_missing(result.root_translation, found),
                    arkit, found, WORLD_TO_CAMERA.copy(), K, masks)
