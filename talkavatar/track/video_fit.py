"""Tracking a clip frame by frame: one full fit of a key frame, then every other frame warm-started from its
neighbour's fit with a few steps, the shape and the camera held.

Why not one joint fit of all frames (the track stage's way before): its cost is the full number of steps for every
frame (a 72-frame clip took ~5 s of CPU a frame), and a frame that goes wrong drags its neighbours through the
smoothness term. Frame by frame, each frame starts where the previous one ended, so a few steps suffice
(:data:`WARM_FRACTION`), and what a frame does not show keeps its last good estimate:

- a temporal prior (:func:`talkavatar.track.losses.temporal_loss`, ``FitWeights.temporal``) holds every joint and
  the root near the previous frame's, so unseen hands, arms and a body lean stay where they were;
- a face the detector lost, or one mostly covered (a hand over it: :mod:`talkavatar.track.gating` down-weights the
  points under the hand), keeps the previous frame's expression (:func:`face_occluded`);
- afterwards pose and placement are filtered with a short Gaussian (:func:`smooth_poses`), expressions as before
  (:func:`talkavatar.track.expression.smooth_expression`: blinks kept).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
import torch

from talkavatar.track.expression import gaussian_filter
from talkavatar.track.fitting import FitState, FitTargets, FitWeights, with_focal

WARM_FRACTION = 0.05
"""Steps of a warm-started frame, as a fraction of the key frame's (``--steps``): 12 of the default 240."""
MIN_WARM_STEPS = 12
"""Fewest steps of a warm-started frame."""
TEMPORAL_WEIGHT = 1.0
"""``FitWeights.temporal`` of the warm-started frames: turning every joint by 0.1 rad from the previous frame costs
as much as ~1 % of the person's height of landmark error on every point."""
OCCLUDED = 0.5
"""A face is occluded when fewer than this fraction of its points are seen at full trust."""
REFIT_BATCH = 64
"""Frames whose expressions are refitted together (bounds the memory of their posed meshes)."""
POSE_SIGMA_S = 0.033
"""Standard deviation in seconds of the Gaussian filter of joint rotations and root translation."""


def frame_targets(targets: FitTargets, t: int | slice) -> FitTargets:
    """The targets of frame ``t`` alone (a batch of one), or of the frames of slice ``t``."""
    pick = t if isinstance(t, slice) else slice(t, t + 1)
    return replace(targets, points={g: p[pick] for g, p in targets.points.items()},
                   weights={g: w[pick] for g, w in targets.weights.items()},
                   masks=None if targets.masks is None else targets.masks[pick], scale=targets.scale[pick],
                   turn=None if targets.turn is None else targets.turn[pick])


def frame_state(state: FitState, t: int | slice) -> FitState:
    """Frame ``t`` of ``state`` alone (a batch of one), or the frames of slice ``t``."""
    pick = t if isinstance(t, slice) else slice(t, t + 1)
    return FitState(state.shape_delta, state.joint_rotations[pick], state.root_translation[pick],
                    state.arkit_weights[pick], focal_scale=state.focal_scale)


def face_occluded(targets: FitTargets) -> torch.Tensor:
    """[B] True where the face is not seen or fewer than :data:`OCCLUDED` of its points are trusted fully."""
    w = targets.weights.get("face")
    if w is None:
        return torch.ones(targets.scale.shape[0], dtype=torch.bool, device=targets.scale.device)
    return (w >= 0.999).float().mean(-1) < OCCLUDED


def warm_steps(steps: int) -> int:
    """Steps of a warm-started frame for a key frame of ``steps``."""
    return max(MIN_WARM_STEPS, round(steps * WARM_FRACTION))


def track_frames(fit_frame: Callable[..., FitState], refit: Callable[[FitTargets, FitState], FitState],
                 targets: FitTargets, found: np.ndarray, initial: FitState, steps: int, weights: FitWeights,
                 on_frame: Callable[[int, int], None] | None = None) -> FitState:
    """Fit every found frame of ``targets`` [T] one by one and return the batch's FitState [T] (frames without a
    person keep their neighbour's values: the caller interpolates them).

    ``fit_frame(targets, state, steps, weights, key)`` fits one frame (a :func:`talkavatar.track.fitting.fit` with
    the model and priors bound; its expression refitted only for the key frame); ``key`` is True for the first
    found frame, which starts from ``initial`` and gets all ``steps`` (the shape and a close-up's focal length are
    fitted there, then held); the others start from the previous frame's fit (forwards after the key frame,
    backwards before it) with :func:`warm_steps` and :data:`TEMPORAL_WEIGHT`. ``refit(targets, state)`` then refits
    the expressions of a batch of frames at once (:func:`talkavatar.track.fitting.with_refitted_expression`); a face
    occluded in a frame (:func:`face_occluded`) keeps the last good frame's. ``on_frame(done, count)`` reports
    progress.
    """
    count = len(found)
    key = int(np.flatnonzero(found)[0])
    key_fit = fit_frame(frame_targets(targets, key), frame_state(initial, key), steps, weights, True)
    held = replace(targets, K=with_focal(targets.K, key_fit.focal_scale))
    warm = replace(weights, temporal=TEMPORAL_WEIGHT)
    occluded = face_occluded(targets)
    fits: list[FitState | None] = [None] * count
    fits[key] = key_fit
    order = list(range(key + 1, count)) + list(range(key - 1, -1, -1))
    for done, t in enumerate(order, 1):
        before = fits[t - 1] if t > key else fits[t + 1]
        if found[t]:
            state = FitState(key_fit.shape_delta, before.joint_rotations, before.root_translation,
                             before.arkit_weights)
            fits[t] = fit_frame(frame_targets(held, t), state, warm_steps(steps), warm, False)
        else:
            fits[t] = before
        if on_frame is not None:
            on_frame(done + 1, count)
    batch = FitState(key_fit.shape_delta, torch.cat([f.joint_rotations for f in fits]),
                     torch.cat([f.root_translation for f in fits]), torch.cat([f.arkit_weights for f in fits]),
                     key_fit.history, key_fit.focal_scale)
    arkit = torch.cat([refit(frame_targets(held, chunk), replace(frame_state(batch, chunk), focal_scale=1.0)
                             ).arkit_weights  # held.K has the focal length already
                       for chunk in (slice(t, t + REFIT_BATCH) for t in range(0, count, REFIT_BATCH))])
    for t in order:  # keep the last good face where it is occluded, from the key frame outwards
        if bool(occluded[t]) or not found[t]:
            arkit[t] = arkit[t - 1] if t > key else arkit[t + 1]
    batch.arkit_weights = arkit
    return batch


def smooth_poses(joint_rotations: torch.Tensor, root_translation: torch.Tensor, fps: float,
                 sigma_s: float = POSE_SIGMA_S) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint rotations [T, 55, 3] (axis-angle: the frame-to-frame changes are small, so averaging the vectors is
    averaging the rotations) and root translation [T, 3] filtered over frames at ``fps`` by a Gaussian of
    ``sigma_s`` seconds (:func:`talkavatar.track.expression.gaussian_filter`)."""
    rotations = gaussian_filter(joint_rotations.reshape(joint_rotations.shape[0], -1), sigma_s * fps)
    return rotations.reshape(joint_rotations.shape), gaussian_filter(root_translation, sigma_s * fps)
