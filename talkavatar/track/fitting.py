"""Fitting the body model to detected landmarks and a person mask, for one image or a batch of video frames.

Unknowns (per frame unless noted): global orientation (canonical pelvis rotation), root translation, body joint
rotations, jaw/eyes, finger rotations, ARKit expression weights, and the shared shape (a few body-model shape
parameters, linearised by :mod:`shape_space`). The camera is fixed (:mod:`camera`).

Energy: robust (Geman-McClure, its scale narrowing over the stages) visibility-weighted 2D landmark errors in units of the person's bounding-box height
+ a soft silhouette IoU (shape is held out of it: clothing is not body shape) + pose prior and joint limits + shape
and expression priors (+ temporal smoothness for video). Adam, in four stages that free more unknowns each time:
global (orientation, translation) → body (+ body joints, shape) → detail (+ fingers, face, jaw, eyes) → all
(+ silhouette at full weight); then the expression alone is refitted to the face points with the pose held
(:mod:`talkavatar.track.expression`). Deterministic for a given seed (no randomness is drawn except the silhouette samples).
"""

from __future__ import annotations

import functools
import math
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np
import torch

from talkavatar.core.adam import Adam
from talkavatar.core.cuda_graphs import GraphedSteps
from talkavatar.core.determinism import use_deterministic_algorithms
from talkavatar.core.body.rig import PosedBody, pose_mesh
from talkavatar.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rotation_between
from talkavatar.core.skinning import SparseWeights
from talkavatar.core.threads import one_thread
from talkavatar.motion.names import JOINT_INDEX
from talkavatar.track.camera import pixel_ray, project
from talkavatar.track.expression import refit_expression
from talkavatar.track.limits import joint_bounds, prior_weights
from talkavatar.track.losses import (hold_loss, joint_limit_loss, landmark_loss, near_plane_loss, pose_prior_loss,
                                     smoothness_loss, temporal_loss, upright_loss)
from talkavatar.track import pose_points
from talkavatar.track.pose_points import ELBOWS, SHOULDERS, SIDES, WRISTS, hand_points
from talkavatar.track.shape_space import ShapeSpace
from talkavatar.core.silhouette import sample_points, soft_iou_loss, soft_silhouette, splat_density, surface_samples

LandmarkFn = Callable[[object], Mapping[str, torch.Tensor]]
"""PosedBody → {group: model landmarks [B, K_group, 3]} (see :class:`talkavatar.core.body.landmark_groups.GroupedLandmarks`)."""

BODY_JOINTS = list(range(1, 16))
ARM_JOINTS = {"left_arm": [16, 18, 20], "right_arm": [17, 19, 21]}
"""Each arm's shoulder, elbow and wrist: a group of unknowns of its own (at the body's rate, :data:`RATES`), which a
close-up does not slow where the arm is placed by its points (:data:`NEAR_SCALED`). Adam's steps are per element:
apart from a close-up's rates the split changes nothing."""
HEAD_JOINTS = [JOINT_INDEX["jaw"], JOINT_INDEX["left_eye_smplhf"], JOINT_INDEX["right_eye_smplhf"]]
HAND_JOINTS = list(range(25, 55))
UNKNOWN_JOINTS = [0, *BODY_JOINTS, *(j for joints in ARM_JOINTS.values() for j in joints), *HEAD_JOINTS, *HAND_JOINTS]
"""The joint of each row of the groups of unknowns laid side by side (orientation, body, arms, head, hands)."""
GRAPHED_STEPS = True
"""On CUDA, each stage's steps replay one captured CUDA graph (:class:`~talkavatar.core.cuda_graphs.GraphedSteps`):
a step is ~600 small kernels, which op by op the host cannot launch as fast as the GPU runs them (the fit took 8.8 s
on an H100's CUDA against 5.2 s on its host's CPU). False: op by op (the same kernels; for the A/B)."""
LANDMARK_UNIT = 0.02
"""Landmark residuals are divided by this fraction of the bounding-box height: a 2 % error costs 1."""
ROBUST_SIGMA = {"global": 20.0, "body": 10.0, "detail": 5.0, "all": 5.0}
"""Geman-McClure scale of the landmark residuals per stage, in LANDMARK_UNITs: wide while the body finds its pose
(at 5 units a hand raised 40 % of the height away from the initial lowered arm had almost no gradient and the arm
stayed down: the camera man's near hand hung at his hip), narrow once it is close, so that what is left of a wrong
landmark after :mod:`gating` cannot drag a limb. 20/20 in the first two stages took the astronaut's body error to
1.21 %; 20/10 keeps it at 1.08 % (benchmarks/RESULTS.md, issue 17)."""
NEAR_PLANE = 0.2
"""Metres: every vertex of the body stays at least this far in front of the camera (a face close-up is ~0.5 m away;
without the bound a fit with few visible points can put the camera inside the mesh)."""
ARMS = {side: (SHOULDERS[side], ELBOWS[side], WRISTS[side], (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"))
        for side in SIDES}
"""MediaPipe shoulder, elbow and wrist points of each arm, and the joints held to the initial (lowered) pose when
neither the elbow nor the wrist point nor the hand is seen in a frame."""
LEGS = {side: (pose_points.LEGS[side], (f"{side}_hip", f"{side}_knee", f"{side}_ankle", f"{side}_foot"))
        for side in SIDES}
"""MediaPipe hip, knee, ankle, heel and foot points of each leg, and the joints held to the initial (straight) pose
when none of its points below the hip is seen in a frame: a photo cropped at the waist has no leg to fit, and the
silhouette term raised a free leg into the frame to fill the mask (the astronaut's right foot at her shoulder,
beside the sleeve)."""
BEND_MIN, ELBOW_MAX = 0.2, 2.5
"""Radians: :func:`lift_arms` leaves an elbow straight that its detection bends less than this, and bends none more
than that (the joint limit is 2.7)."""
PROFILE = {"neck": 0.65, "head": 0.65}
"""Radians: the turn about the up axis that a face in profile (``FitTargets.turn``) starts with, split over the
neck and the head (75 degrees in all, each within its limit of 0.9), and is held to (``FitWeights.unseen_limbs``,
as an unseen limb). MediaPipe's head points read a profile as a frontal face squeezed onto the near cheek, and a
frontal model fits them as well as any: started facing the camera, the soldier of soldier_bw / combat (~80 degrees)
was fitted at 37 degrees, Anny's face drawn on his ear; started turned but free, at 48 degrees; held, at 73."""
TEMPORAL_METRES = 0.05
"""``FitWeights.temporal``: a root moved this far from its initial place costs as much as a joint turned by 1 rad."""
HIPS = tuple(pose_points.HIPS.values())
"""MediaPipe hip points: when neither is seen the body's lean is unobserved and the upright prior holds it."""
LIMB_POINTS = tuple(sorted({*SHOULDERS.values(), *ELBOWS.values(), *WRISTS.values(),
                             *(i for side in SIDES for i in hand_points(side))}))
"""MediaPipe shoulders, elbows, wrists and the body's hand points: ``FitWeights.limbs`` times the weight of the other
body points (see there)."""
NEAR_RATES = 2.5
"""Metres: in a close-up (``fit(closeup=True)``) a body nearer than this takes proportionally smaller steps in
translation, orientation, the torso's and head's joint angles and shape (:data:`NEAR_SCALED`): the same step moves
a near face more pixels, and every Adam stage starts with steps of its full rate whatever the gradient (with the
rates made for a body 2-3 m away, a face 0.5 m away jumped 10x in landmark error when a stage began and the fit
drifted off it: side_45)."""
FOCAL = {"sigma": 0.7, "range": (0.5, 6.0), "rate": 0.04}
"""Close-ups (``fit(free_focal=True)``): the global stage also fits the focal length, as a dolly zoom (the camera
backs away as the focal grows, so the body's size at its initial depth stays put and only the perspective changes:
how much larger the near face looks than the shoulders behind it, the face's outline against its middle). Its log
ratio to the default has a Gaussian prior of this sigma and stays within this range (0.5 to 6 x the default's 50
degree field of view: a head cropped out of a larger picture has a far narrower one); held after the global stage."""


@dataclass
class FitTargets:
    """What to fit, for B frames of one camera. points[g]: [B, K_g, 2] work pixels; weights[g]: [B, K_g] (0 =
    absent); masks: [B, gh, gw] person coverage on the silhouette grid, or None; scale: [B] bounding-box height in
    pixels; K: [3, 3] intrinsics of the work image; size: (width, height) of the work image."""

    points: dict[str, torch.Tensor]
    weights: dict[str, torch.Tensor]
    masks: torch.Tensor | None
    scale: torch.Tensor
    K: torch.Tensor
    size: tuple[int, int]
    torso: torch.Tensor | None = None  # [K_body] 1 for the body points the global stage fits (shoulders, hips, head)
    turn: torch.Tensor | None = None  # [B] -1 / +1: a face in profile turned to the person's right / left (PROFILE)


@dataclass
class FitState:
    """The fitted unknowns. shape_delta: [P] (offset from the space's base); joint_rotations: [B, 55, 3];
    root_translation: [B, 3]; arkit_weights: [B, 52] in 0..1."""

    shape_delta: torch.Tensor
    joint_rotations: torch.Tensor
    root_translation: torch.Tensor
    arkit_weights: torch.Tensor
    history: list[tuple[str, float]] = field(default_factory=list)
    focal_scale: float = 1.0  # the fitted focal length over the one in FitTargets.K (see FOCAL)
    graphs: str = ""  # on CUDA, how the steps ran: "graphed (stages, capture s)", "op by op" or "failed: why"


@dataclass(frozen=True)
class FitWeights:
    """Relative weights of the energy terms (numbers, not a config object)."""

    body: float = 1.0
    face: float = 1.0
    hands: float = 1.0
    mask: float = 1.0
    pose_prior: float = 0.02
    limits: float = 50.0
    shape_prior: float = 1.0
    expression_prior: float = 0.05
    smooth: float = 1.0
    upright: float = 2.0       # frames without visible hips: the body's up axis stays near the world's
    limbs: float = 2.0         # LIMB_POINTS count this many times in the body group's mean (the head's 11 points
    #                            outvoted two shoulders: with the Face Mesh they set the body's size and the
    #                            astronaut's shoulders came out 10 px narrower than both marks and detections)
    unseen_limbs: float = 2.0  # an arm or leg nobody sees stays in its initial pose (lowered, straight)
    near: float = 100.0        # every vertex beyond NEAR_PLANE in front of the camera
    focal_prior: float = 0.1   # close-ups: the fitted focal length near the default (FOCAL)
    temporal: float = 0.0      # video frame by frame: pose and placement near the initial state (the previous frame)


@dataclass(frozen=True)
class ModelConsts:
    """The body model's fixed posing data (from :class:`~talkavatar.core.body.base.BodyModel`)."""

    tree: object
    faces: torch.Tensor
    skin: torch.Tensor | SparseWeights  # [V, J]: sparse on the CPU (core.skinning.SparseWeights), dense elsewhere
    bone_driver: torch.Tensor
    bone_driver_fraction: torch.Tensor
    canonical_joint_bone: torch.Tensor
    expression_blendshapes: torch.Tensor  # [52, V, 3]

    @classmethod
    def of(cls, body) -> "ModelConsts":
        skin = body.dense_skin_weights
        skin = SparseWeights.of(skin) if skin.device.type == "cpu" else skin
        return cls(body.tree, body.faces, skin, body.bone_driver, body.bone_driver_fraction,
                   body.canonical_joint_bone, body.expression_blendshapes)


def pose_batch(consts: ModelConsts, space: ShapeSpace, shape_delta: torch.Tensor, joint_rotations: torch.Tensor,
               root_translation: torch.Tensor, arkit_weights: torch.Tensor):
    """The posed batch (a ``PosedBody``: vertices [B, V, 3], joints, canonical_joints) with the linearised shape."""
    return pose_rest(consts, space, space.rest(shape_delta), expression_offsets(consts, arkit_weights),
                     joint_rotations, root_translation)


def expression_offsets(consts: ModelConsts, arkit_weights: torch.Tensor) -> torch.Tensor:
    """The vertex offsets [B, V, 3] of ARKit weights [B, 52]."""
    offsets = arkit_weights @ consts.expression_blendshapes.reshape(arkit_weights.shape[1], -1)
    return offsets.reshape(arkit_weights.shape[0], -1, 3)


def pose_rest(consts: ModelConsts, space: ShapeSpace, rest: tuple[torch.Tensor, torch.Tensor], offsets: torch.Tensor,
              joint_rotations: torch.Tensor, root_translation: torch.Tensor):
    """:func:`pose_batch` from its parts: ``rest`` (vertices [V, 3], joints [J, 3]: ``space.rest``) and the
    expression ``offsets`` [B, V, 3] (:func:`expression_offsets`)."""
    vertices, joints = rest
    return pose_mesh(consts.tree, vertices[None] + offsets, joints, space.rest_to_canonical, consts.skin,
                     consts.bone_driver, consts.bone_driver_fraction, consts.canonical_joint_bone, joint_rotations,
                     root_translation)


def _on_sphere(ray: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor) -> list[torch.Tensor]:
    """The points of the camera ``ray`` [3] (from the origin) at ``radius`` from ``centre`` [3], nearer the camera
    first; where the ray passes outside the sphere, the sphere's point nearest the ray (once)."""
    a, half_b = ray.dot(ray), ray.dot(centre)
    disc = half_b ** 2 - a * (centre.dot(centre) - radius ** 2)
    if disc < 0:
        closest = ray * half_b / a
        return [centre + radius * (closest - centre) / (closest - centre).norm().clamp(min=1e-9)]
    return [ray * (half_b - disc.sqrt()) / a, ray * (half_b + disc.sqrt()) / a]


def _seen_row(landmarks, targets: FitTargets, b: int, index: int) -> int | None:
    row = landmarks.row("body", index)
    return row if row is not None and targets.weights["body"][b, row] > 0 else None


def lift_arms(rotations: torch.Tensor, body: torch.Tensor, targets: FitTargets, landmarks) -> None:
    """Aim each arm at its detected elbow and wrist, in place: rotations [B, 55, 3] (the body facing the camera, its
    spine straight, elbows straight), body: [B, K_body, 3] the model's body landmarks in camera space at those
    rotations. From the initial lowered arms a raised or spread arm was out of the fit's reach (a hand on the head,
    its elbow out at the frame's edge: 32 % of the person's height off); a forearm raised from an upper arm held out
    to the side needs the upper arm twisted, which the fit does not find from a straight arm.

    Upper arm: the elbow goes to the point of its camera ray at the upper arm's length from the shoulder, the one
    nearer the camera. Forearm (where the wrist is seen): the wrist goes to a point of its ray at the forearm's length
    from that elbow; the upper arm is twisted about itself so that the elbow bends towards it, and the elbow bent.
    Of the two points of the wrist's ray, the one needing the smaller twist is taken (the depth a picture leaves
    open, settled by how far the arm must turn)."""
    K = targets.K
    for side in ("left", "right"):
        shoulder, elbow, wrist, _ = ARMS[side]
        for b in range(rotations.shape[0]):
            rs, re = _seen_row(landmarks, targets, b, shoulder), _seen_row(landmarks, targets, b, elbow)
            if rs is None or re is None:
                continue
            s3, e3 = body[b, rs], body[b, re]
            goal = _on_sphere(pixel_ray(targets.points["body"][b, re], K), s3, (e3 - s3).norm())[0]
            j = JOINT_INDEX[f"{side}_shoulder"]
            turned = rotation_between(e3 - s3, goal - s3) @ axis_angle_to_matrix(rotations[b, j])
            rw = _seen_row(landmarks, targets, b, wrist)
            if rw is not None:
                turned = _bend_forearm(rotations[b], side, turned, goal, (goal - s3) / (goal - s3).norm(),
                                       pixel_ray(targets.points["body"][b, rw], K), (body[b, rw] - body[b, re]).norm())
            rotations[b, j] = matrix_to_axis_angle(turned)


def _bend_forearm(rotations: torch.Tensor, side: str, shoulder: torch.Tensor, elbow: torch.Tensor,
                  upper: torch.Tensor, wrist_ray: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """The shoulder's rotation [3, 3] twisted about the upper arm (direction ``upper`` [3]) so that the elbow bends
    towards the wrist's ray at ``length`` from ``elbow`` [3]; sets the elbow's bend in ``rotations`` [55, 3] (in
    place). An elbow bends its forearm towards the shoulder's canonical +Z (forwards in the T-pose): its rotation is
    about -Y (left) or +Y (right)."""
    forward = shoulder @ torch.tensor([0.0, 0.0, 1.0], dtype=shoulder.dtype, device=shoulder.device)
    forward = forward - forward.dot(upper) * upper  # the bend's direction about the upper arm as the elbow sees it
    best = None
    for point in _on_sphere(wrist_ray, elbow, length):
        fore = (point - elbow) / (point - elbow).norm().clamp(min=1e-9)
        bend = torch.arccos(fore.dot(upper).clamp(-1.0, 1.0))
        towards = fore - fore.dot(upper) * upper
        if bend < BEND_MIN or towards.norm() < 1e-6:
            continue
        twist = rotation_between(forward, towards)
        angle = torch.arccos(((torch.diagonal(twist).sum() - 1) / 2).clamp(-1.0, 1.0))
        if best is None or angle < best[0]:
            best = (angle, twist, bend)
    if best is None:
        return shoulder
    _, twist, bend = best
    sign = -1.0 if side == "left" else 1.0
    rotations[JOINT_INDEX[f"{side}_elbow"]] = torch.stack([0 * bend, sign * bend.clamp(max=ELBOW_MAX), 0 * bend])
    return twist @ shoulder


def initial_state(consts: ModelConsts, space: ShapeSpace, landmarks, targets: FitTargets,
                  anchor_pairs: list[tuple[str, int, int]]) -> FitState:
    """Facing the camera (the head turned where ``targets.turn`` says a face is in profile: :data:`PROFILE`), arms
    lowered 60 degrees, at the depth where a model distance matches its detected length.

    anchor_pairs: (group, i, j) MediaPipe point pairs to size the person with, tried in order (the first pair the
    map has and the detector saw wins); ``landmarks`` is a :class:`~talkavatar.core.body.landmark_groups.GroupedLandmarks`.
    """
    batch = targets.scale.shape[0]
    dtype, device = space.vertices0.dtype, space.vertices0.device
    rotations = torch.zeros(batch, 55, 3, dtype=dtype, device=device)
    rotations[:, JOINT_INDEX["left_shoulder"], 2] = -1.05
    rotations[:, JOINT_INDEX["right_shoulder"], 2] = 1.05
    if targets.turn is not None:
        for joint, angle in PROFILE.items():
            rotations[:, JOINT_INDEX[joint], 1] = targets.turn.to(dtype) * angle
    translation = torch.zeros(batch, 3, dtype=dtype, device=device)
    arkit = torch.zeros(batch, 52, dtype=dtype, device=device)
    delta = torch.zeros(space.fitted.shape[0], dtype=dtype, device=device)
    with torch.no_grad():
        model = landmarks(pose_batch(consts, space, delta, rotations, translation, arkit))
        focal = targets.K[0, 0]
        for b in range(batch):
            depth, centre_model, centre_px = 2.5, model["body"][b].mean(0), None
            for group, mp_i, mp_j in anchor_pairs:
                i, j = landmarks.row(group, mp_i), landmarks.row(group, mp_j)
                if i is None or j is None:
                    continue
                w = targets.weights[group][b]
                if w[i] > 0.5 and w[j] > 0.5:
                    px = (targets.points[group][b, i] - targets.points[group][b, j]).norm()
                    m = (model[group][b, i, :2] - model[group][b, j, :2]).norm()
                    if px > 2:
                        depth = float(focal * m / px)
                        centre_model = (model[group][b, i] + model[group][b, j]) / 2
                        centre_px = (targets.points[group][b, i] + targets.points[group][b, j]) / 2
                        break
            if centre_px is None:
                w = targets.weights["body"][b]
                centre_px = (targets.points["body"][b] * w[:, None]).sum(0) / w.sum().clamp(min=1e-6)
            # place centre_model at depth along the ray through centre_px (camera looks down world -Z, y flipped)
            target = pixel_ray(centre_px, targets.K) * (depth + float(centre_model[2]))
            translation[b] = target - centre_model
        lift_arms(rotations, model["body"] + translation[:, None], targets, landmarks)
    return FitState(delta, rotations, translation, arkit)


def _stage_plan(steps: int, warm: bool = False) -> list[tuple[str, int]]:
    if warm:
        return [("all", steps)]
    fractions = (("global", 0.2), ("body", 0.3), ("detail", 0.25), ("all", 0.25))
    plan = [(name, max(1, round(steps * f))) for name, f in fractions]
    return plan


def fit(consts: ModelConsts, space: ShapeSpace, landmarks: LandmarkFn, targets: FitTargets, state: FitState,
        steps: int, weights: FitWeights = FitWeights(), shape_sigma: torch.Tensor | None = None,
        fit_shape: bool = True, seed: int = 0, on_step: Callable[[str, int, int], None] | None = None,
        closeup: bool = False, free_focal: bool = False, warm: bool = False, refit: bool = True) -> FitState:
    """Optimise a copy of ``state`` and return it. shape_sigma: [P] prior std-dev of the shape offsets;
    ``closeup``: the body is near the camera, its steps shrink with its depth (:data:`NEAR_RATES`); ``free_focal``:
    also fit the focal length (:data:`FOCAL`; the result's ``focal_scale``); ``warm``: ``state`` is already close
    (a video frame started from the previous frame's fit): one stage "all" at :data:`WARM_RATES` of the rates;
    ``refit``: refit the expression to the face points afterwards (:func:`with_refitted_expression`).

    ``steps`` are split 20/30/25/25 % over the stages; ``on_step(stage, step, count)`` reports progress. Runs with
    torch's deterministic algorithms (the scatter-adds in the backward pass of gathers otherwise accumulate in a
    varying order, and Adam amplifies the difference: runs of the same input differed by up to 1 rad in a joint).
    """
    previous = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    use_deterministic_algorithms(True, warn_only=True)
    try:
        result = _fit(consts, space, landmarks, targets, state, steps, weights, shape_sigma, fit_shape, seed, on_step,
                      closeup, free_focal, warm)
        return with_refitted_expression(consts, space, landmarks, targets, result) if refit and weights.face > 0 \
            else result
    finally:
        use_deterministic_algorithms(previous[0], warn_only=previous[1])


@torch.no_grad()
def with_refitted_expression(consts: ModelConsts, space: ShapeSpace, landmarks, targets: FitTargets,
                             result: FitState) -> FitState:
    """``result`` with its ARKit weights refitted to the face points, the pose held
    (:func:`talkavatar.track.expression.refit_expression`); unchanged without a face group or a named map.

    One frame on a GPU (a photo's) is refitted on the CPU, on one thread: the refit is ~63k operations on a few
    hundred numbers (six Gauss-Newton steps, each a box-constrained QP solved by iterations), 0.09 s on the CPU, all
    kernel launches and host reads on a GPU (the astronaut; counted on the CPU by a dispatch mode)."""
    if not hasattr(landmarks, "rows") or "face" not in targets.points:
        return result
    posed = pose_batch(consts, space, result.shape_delta, result.joint_rotations, result.root_translation,
                       result.arkit_weights)
    inputs = (consts.expression_blendshapes, targets.points["face"], targets.weights["face"],
              with_focal(targets.K, result.focal_scale), result.arkit_weights)
    on_cpu = result.arkit_weights.device.type != "cpu" and result.arkit_weights.shape[0] == 1
    if on_cpu:
        posed = PosedBody(*(t.cpu() for t in (posed.vertices, posed.joints, posed.canonical_joints,
                                              posed.vertex_transforms)))
        landmarks, inputs = landmarks.to("cpu"), tuple(t.cpu() for t in inputs)
    with one_thread() if on_cpu else nullcontext():
        arkit = refit_expression(posed, landmarks, *inputs)
    return replace(result, arkit_weights=arkit.to(result.arkit_weights.device))


def unseen_weights(landmarks, targets: FitTargets) -> tuple[torch.Tensor, torch.Tensor]:
    """What the detections leave unobserved, per frame: (no_hips [B]: 1 where neither hip point is seen,
    held_joints [B, 55]: 1 for the joints of each arm whose elbow, wrist and hand are all unseen and of each leg
    whose knee, ankle and foot points are all unseen, and the neck and head of a face in profile: its head points
    cannot say how far it is turned, :data:`PROFILE`). Only the profile's where ``landmarks`` cannot name its rows
    (no ``row`` method)."""
    body = targets.weights["body"]
    batch = body.shape[0]
    no_hips = body.new_zeros(batch)
    held = body.new_zeros(batch, 55)
    if targets.turn is not None:
        for joint in PROFILE:
            held[:, JOINT_INDEX[joint]] = targets.turn.abs().to(body.dtype)
    row = getattr(landmarks, "row", None)
    if row is None:
        return no_hips, held
    hips = [r for r in (row("body", i) for i in HIPS) if r is not None]
    if hips:
        no_hips = (body[:, hips].sum(-1) <= 0).to(body.dtype)
    for side, (_, elbow, wrist, joints) in ARMS.items():
        rows = [r for r in (row("body", elbow), row("body", wrist)) if r is not None]
        if not rows:
            continue
        seen = body[:, rows].sum(-1)
        hand = targets.weights.get(f"{side}_hand")
        if hand is not None:
            seen = seen + hand.sum(-1)
        unseen = (seen <= 0).to(body.dtype)
        for name in joints:
            held[:, JOINT_INDEX[name]] = unseen
    for points, joints in LEGS.values():
        rows = [r for r in (row("body", i) for i in points[1:]) if r is not None]
        if rows:
            unseen = (body[:, rows].sum(-1) <= 0).to(body.dtype)
            for name in joints:
                held[:, JOINT_INDEX[name]] = unseen
    return no_hips, held


def placed_arms(landmarks, targets: FitTargets) -> torch.Tensor:
    """[B, 55] 1 for the joints of each arm (:data:`ARMS`) whose elbow and wrist points are both seen in a frame:
    its points place it, and the silhouette term does not move it (:func:`_loss`): clothing is not the arm, and a
    sleeve wider than the arm pulled the fitted arm to its outer edge (the astronaut's right elbow and wrist 6 px
    outside both marks and detections). Zeros where ``landmarks`` cannot name its rows."""
    body = targets.weights["body"]
    placed = body.new_zeros(body.shape[0], 55)
    row = getattr(landmarks, "row", None)
    if row is None:
        return placed
    for _, elbow, wrist, joints in ARMS.values():
        rows = [row("body", elbow), row("body", wrist)]
        if None in rows:
            continue
        seen = ((body[:, rows[0]] > 0) & (body[:, rows[1]] > 0)).to(body.dtype)
        for name in joints:
            placed[:, JOINT_INDEX[name]] = seen
    return placed


def _point_weights(landmarks, targets: FitTargets, limbs: float) -> torch.Tensor:
    """[K_body] multipliers of the body points' weights: ``limbs`` for :data:`LIMB_POINTS`, else 1 (all 1 where
    ``landmarks`` cannot say which MediaPipe point each row is)."""
    k = targets.weights["body"].shape[1]
    index = getattr(landmarks, "mediapipe_index", None)
    out = targets.weights["body"].new_ones(k)
    if index is not None:
        limb = torch.as_tensor(np.isin(index("body"), LIMB_POINTS), device=out.device)
        out = torch.where(limb, out * limbs, out)
    return out


RATES = {"orient": 0.03, "body": 0.04, "left_arm": 0.04, "right_arm": 0.04, "head": 0.03, "hands": 0.05,
         "translation": 0.02, "arkit": 0.04, "shape": 0.03, "dolly": FOCAL["rate"]}
"""Adam's learning rate per group of unknowns."""
WARM_RATES = 0.25
"""``fit(warm=True)``: the fraction of :data:`RATES` a warm start takes (Adam's first steps are about its rate
whatever the gradient: at full rates a frame that starts at the previous frame's optimum is first kicked off it)."""
NEAR_SCALED = ("orient", "body", "left_arm", "right_arm", "head", "translation", "shape")
"""The groups whose rates a close-up scales by its depth (:data:`NEAR_RATES`); an arm only while it is not placed by
its points in any frame (:func:`placed_arms`): slowed with the torso, a seen raised arm had not arrived when the fit
ended (a known pose's raised elbow 3.1 % of the picture's height off, 1.4 unscaled; hand_on_head's arm on his
forehead: elbow 4.4 -> 3.9 % of his height, shoulders 5.1 / 1.4 -> 4.6 / 1.1, body 3.68 -> 3.39), while an arm
that its points do not hold, at full rate, swung about: unseen arms shrank surprise's face fit (track's own face
error 1.7 -> 4.8 %), hand_on_head's left forearm (its wrist rejected) lay across his chest (benchmarks/RESULTS.md,
fourteenth session)."""


def _active(stage: str, fit_shape: bool, free_focal: bool = False) -> list[str]:
    """The groups of unknowns a stage optimises."""
    shape = ["shape"] if fit_shape else []
    return {"global": ["orient", "translation"] + (["dolly"] if free_focal else []),
            "body": ["orient", "translation", "body", *ARM_JOINTS] + shape,
            "detail": ["body", *ARM_JOINTS, "head", "hands", "arkit"],
            "all": ["orient", "translation", "body", *ARM_JOINTS, "head", "hands", "arkit"] + shape}[stage]


@dataclass
class _Problem:
    """What every step of :func:`_fit` reads: the model, the targets, the weights, the initial rotations ``rot``
    [B, 55, 3], the shape prior ``sigma`` [P], the pose prior and joint limits [55] / [55, 3], the frames with no hip
    seen [B] and the joints held [B, 55] (:func:`unseen_weights`), the arms the silhouette does not move [B, 55]
    (:func:`placed_arms`), the body points' weight multipliers [K_body] (:func:`_point_weights`), the silhouette's
    surface ``samples`` and grid (w, h), and its density ``level`` (set by the first step that draws the silhouette).
    Whether any frame lacks its hips, holds a joint or places an arm is read once here (``any_no_hips``,
    ``any_held``, ``any_placed``), and which landmark groups a stage fits once a stage (``groups``:
    :func:`_landmark_groups`), not at every step: each read is a device-to-host copy, and a step that reads
    nothing back can be replayed from a CUDA graph. ``order`` [55]: :func:`_assemble`'s."""
    consts: ModelConsts
    space: ShapeSpace
    landmarks: LandmarkFn
    targets: FitTargets
    weights: FitWeights
    fit_shape: bool
    rot: torch.Tensor
    sigma: torch.Tensor
    prior_w: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    no_hips: torch.Tensor
    held_joints: torch.Tensor
    placed: torch.Tensor
    point_weights: torch.Tensor
    samples: tuple[torch.Tensor, torch.Tensor] | None = None
    frozen: dict[str, object] = field(default_factory=dict)
    grid: tuple[int, int] = (0, 0)
    level: float | None = None
    depth: float = 0.0  # metres: the initial depth of the body, which the dolly zoom keeps at its size
    free_focal: bool = False
    start_translation: torch.Tensor | None = None  # [B, 3] the initial root translation (FitWeights.temporal)
    groups: list[tuple[str, float, torch.Tensor]] = field(default_factory=list)
    order: torch.Tensor = field(init=False)
    any_no_hips: bool = field(init=False)
    any_held: bool = field(init=False)
    any_placed: bool = field(init=False)

    def __post_init__(self):
        self.order = torch.argsort(torch.tensor(UNKNOWN_JOINTS)).to(self.rot.device)
        self.any_no_hips = float(self.no_hips.sum()) > 0
        self.any_held = float(self.held_joints.sum()) > 0
        self.any_placed = float(self.placed.sum()) > 0


def _dolly_camera(K: torch.Tensor, translation: torch.Tensor, log_scale: torch.Tensor, depth: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(K [3, 3] with its focal length scaled by ``exp(log_scale)``, root translation [B, 3] moved away from the
    camera so that what lies ``depth`` metres away keeps its size in the picture): a dolly zoom."""
    s = log_scale.exp()
    back = torch.eye(3, dtype=translation.dtype, device=translation.device)[2]  # (0, 0, 1) made on the device
    return with_focal(K, s), translation - back * (s - 1) * depth


def with_focal(K: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """K [3, 3] with its focal lengths (not its principal point) multiplied by ``scale``. Its constants are made by
    kernels on K's device: ``t[i] = number`` would copy the number from the host, which a CUDA graph cannot record
    (a fit step's camera)."""
    focal = torch.eye(3, dtype=K.dtype, device=K.device) * (torch.arange(3, device=K.device) < 2)  # diag(1, 1, 0)
    return K * (torch.ones_like(K) + (scale - 1) * focal)


def _fit(consts, space, landmarks, targets, state, steps, weights, shape_sigma, fit_shape, seed, on_step,
         closeup, free_focal, warm) -> FitState:
    torch.manual_seed(seed)
    dtype, device = space.vertices0.dtype, space.vertices0.device
    lower, upper = (t.to(device, dtype) for t in joint_bounds())
    prior_w = prior_weights().to(device, dtype)
    sigma = shape_sigma if shape_sigma is not None else torch.full_like(state.shape_delta, 0.2)

    rot = state.joint_rotations.clone()
    no_hips, held_joints = unseen_weights(landmarks, targets)
    params = {
        "orient": rot[:, :1].clone(),
        "body": rot[:, BODY_JOINTS].clone(),
        **{arm: rot[:, joints].clone() for arm, joints in ARM_JOINTS.items()},
        "head": rot[:, HEAD_JOINTS].clone(),
        "hands": rot[:, HAND_JOINTS].clone(),
        "translation": state.root_translation.clone(),
        "arkit": state.arkit_weights.clone(),
        "shape": state.shape_delta.clone(),
        "dolly": torch.zeros((), dtype=dtype, device=device),
    }  # each stage sets requires_grad on the ones it fits
    p = _Problem(consts, space, landmarks, targets, weights, fit_shape, rot, sigma, prior_w, lower, upper, no_hips,
                 held_joints, placed_arms(landmarks, targets), _point_weights(landmarks, targets, weights.limbs),
                 depth=float(-state.root_translation[:, 2].mean()), free_focal=free_focal,
                 start_translation=state.root_translation.clone())
    near = min(1.0, p.depth / NEAR_RATES) if closeup else 1.0
    placed = {f"{side}_arm" for side in ARMS
              if closeup and float(p.placed[:, JOINT_INDEX[f"{side}_shoulder"]].sum()) > 0}
    scaled = [k for k in NEAR_SCALED if k not in placed]
    rates = {k: v * (near if k in scaled else 1.0) * (WARM_RATES if warm else 1.0) for k, v in RATES.items()}
    if targets.masks is not None and weights.mask > 0:
        p.samples = surface_samples(space.vertices0, consts.faces, 12000, seed)
    p.grid = (targets.masks.shape[2], targets.masks.shape[1]) if targets.masks is not None else (0, 0)

    graphs = []
    for stage, count in _stage_plan(steps, warm):
        active = _active(stage, fit_shape, free_focal)
        for name, tensor in params.items():  # no backward pass into what the stage holds (the same steps, sooner)
            tensor.requires_grad_(name in active)
        p.frozen = _frozen_parts(p, params, active)
        p.groups = _landmark_groups(p, stage)
        optim = Adam([{"params": [params[k]], "lr": rates[k]} for k in active], capturable=device.type == "cuda")
        steps_of = GraphedSteps(functools.partial(_step, p, params, stage, optim), optim.zero_grad, device,
                                GRAPHED_STEPS)
        for step in range(count):
            loss = steps_of()
            if on_step is not None:
                on_step(stage, step, count)
        state.history.append((stage, float(loss.detach())))
        graphs.append((steps_of.graphed, steps_of.failure, steps_of.capture_seconds))
    with torch.no_grad():
        _, translation = _dolly_camera(targets.K, params["translation"], params["dolly"], p.depth)
        return FitState(params["shape"].detach(), _assemble(params, p.order).detach(), translation.detach(),
                        params["arkit"].detach().clamp(0, 1), state.history, float(params["dolly"].exp()),
                        _graph_status(graphs) if device.type == "cuda" else "")


def _step(p: _Problem, params: dict[str, torch.Tensor], stage: str, optim: Adam) -> torch.Tensor:
    """One Adam step of ``stage`` (the gradients already None) -> its loss: capturable as a CUDA graph on CUDA (no
    host synchronisation, no host-to-device copy, fixed shapes)."""
    loss = _loss(p, params, stage)
    loss.backward()
    optim.step()
    with torch.no_grad():
        params["shape"].clamp_(-p.space.radius, p.space.radius)  # where the linear shape space holds
        params["dolly"].clamp_(*(math.log(v) for v in FOCAL["range"]))
    return loss


def _graph_status(stages: list[tuple[bool, str, float]]) -> str:
    """How a fit's stages ran on CUDA (each stage's (graphed, failure, capture seconds)): "graphed (n of m stages,
    capture s)", "failed: why" or "op by op"."""
    failed = [failure for _, failure, _ in stages if failure]
    if failed:
        return f"failed: {failed[0]}"
    graphed = [seconds for done, _, seconds in stages if done]
    return f"graphed ({len(graphed)} of {len(stages)} stages, capture {sum(graphed):.2f} s)" if graphed else "op by op"


def _assemble(params: dict[str, torch.Tensor], order: torch.Tensor) -> torch.Tensor:
    """The joint rotations [B, 55, 3] from the groups of unknowns, laid side by side as :data:`UNKNOWN_JOINTS` and
    put in joint order by ``order`` [55] (its argsort). Advanced indexing, whose backward adds into zeros by the
    index (on CUDA a sort), not ``index_copy``: with torch's deterministic algorithms on, CUDA's ``index_copy`` is an
    ``index_put_`` that reads the indices' range back to the host at every call."""
    parts = [params["orient"], params["body"], *(params[arm] for arm in ARM_JOINTS), params["head"], params["hands"]]
    return torch.cat(parts, 1)[:, order]


def _frozen_parts(p: _Problem, params: dict[str, torch.Tensor], active: list[str]) -> dict[str, object]:
    """What a stage's posings share because the stage holds its inputs: ``shape``, the rest (vertices [V, 3],
    joints [J, 3]) of a held shape; ``arkit``, the expression offsets [B, V, 3] of held ARKit weights. The same
    values every step recomputed (no gradient reaches them): made once, as :func:`_loss` would make them. (A held
    shape does not move: the clamp after each step leaves a shape within its radius as it is, and every fit starts
    within it: from zeros or from a fit's result.)"""
    frozen: dict[str, object] = {}
    if "shape" not in active:
        frozen["shape"] = p.space.rest(params["shape"])
    if "arkit" not in active:
        frozen["arkit"] = expression_offsets(p.consts, params["arkit"].clamp(0.0, 1.0))
    return frozen


def _loss(p: _Problem, params: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
    """The energy of one step of ``stage`` (see the module docstring)."""
    weights = p.weights
    r = _assemble(params, p.order)
    arkit = params["arkit"].clamp(0.0, 1.0)
    K, translation = _dolly_camera(p.targets.K, params["translation"], params["dolly"], p.depth)
    rest = p.frozen["shape"] if "shape" in p.frozen else p.space.rest(params["shape"])
    offsets = p.frozen["arkit"] if "arkit" in p.frozen else expression_offsets(p.consts, arkit)
    posed = pose_rest(p.consts, p.space, rest, offsets, r, translation)
    verts = posed.vertices
    loss = _landmark_loss(p, p.landmarks(posed), stage, K)
    loss = loss + weights.pose_prior * pose_prior_loss(r[:, 1:], p.prior_w[1:])
    loss = loss + weights.limits * joint_limit_loss(r[:, 1:], p.lower[1:], p.upper[1:])
    loss = loss + weights.shape_prior * ((params["shape"] / p.sigma) ** 2).sum()
    loss = loss + weights.expression_prior * arkit.pow(2).sum(-1).mean()
    if p.free_focal:
        loss = loss + weights.focal_prior * (params["dolly"] / FOCAL["sigma"]).pow(2)
    if weights.upright > 0 and p.any_no_hips:
        loss = loss + weights.upright * upright_loss(r[:, 0], p.no_hips)
    if weights.unseen_limbs > 0 and p.any_held:
        loss = loss + weights.unseen_limbs * hold_loss(r, p.rot, p.held_joints)
    if weights.near > 0:
        loss = loss + weights.near * near_plane_loss(-verts[..., 2], NEAR_PLANE)
    if weights.temporal > 0:
        loss = loss + weights.temporal * temporal_loss(r, p.rot, translation, p.start_translation, TEMPORAL_METRES)
    if r.shape[0] > 1 and weights.smooth > 0:
        loss = loss + weights.smooth * 100.0 * (smoothness_loss(r) + smoothness_loss(params["translation"])
                                                 + smoothness_loss(arkit))
    if p.samples is not None and stage in ("body", "detail", "all"):
        # silhouette: shape and the arms their points place held out (clothing must not inflate the body)
        shape_out, arms_out = p.fit_shape and stage in ("body", "all"), p.any_placed
        # the rest is the landmarks' posing's (detached when shape is held out: the same values); the offsets are
        # made again where ARKit is fitted, so that each posing's gradient reaches the weights on its own
        held = p.placed[..., None]
        verts_s = pose_rest(p.consts, p.space, tuple(t.detach() for t in rest) if shape_out else rest,
                            offsets if "arkit" in p.frozen else expression_offsets(p.consts, arkit),
                            r.detach() * held + r * (1 - held), translation).vertices \
            if shape_out or arms_out else verts
        loss = loss + weights.mask * (10.0 if stage == "all" else 4.0) * _silhouette_loss(p, verts_s, K) / r.shape[0]
    return loss


def _landmark_groups(p: _Problem, stage: str) -> list[tuple[str, float, torch.Tensor]]:
    """The landmark groups ``stage`` fits where the model has them: (group, its weight, the points' weights
    [B, K_group]), those with some weight alone."""
    targets, weights = p.targets, p.weights
    groups = []
    for group, w_group in (("body", weights.body), ("face", weights.face), ("left_hand", weights.hands),
                           ("right_hand", weights.hands)):
        if group not in targets.points:
            continue
        w = targets.weights[group]
        if group == "body":
            w = w * p.point_weights
        if stage == "global" and group == "body" and targets.torso is not None:
            w = w * targets.torso
        elif stage in ("global", "body") and group in ("left_hand", "right_hand"):
            continue
        if float(w.sum()) > 0:
            groups.append((group, w_group, w))
    return groups


def _landmark_loss(p: _Problem, model: Mapping[str, torch.Tensor], stage: str, K: torch.Tensor) -> torch.Tensor:
    """The robust 2D landmark errors of the model's landmarks (``model``: {group: [B, K_group, 3]}) seen through
    intrinsics ``K`` [3, 3], over the stage's groups (``p.groups``)."""
    targets = p.targets
    loss = torch.zeros((), dtype=p.space.vertices0.dtype, device=p.space.vertices0.device)
    for group, w_group, w in p.groups:
        if group not in model:
            continue
        uv, detected = project(model[group], K), targets.points[group]
        if group in ("left_hand", "right_hand"):
            uv, detected = _from_wrist(uv, detected, p.landmarks, group)
        unit = targets.scale[:, None, None] * LANDMARK_UNIT
        loss = loss + w_group * landmark_loss(uv, detected, w, unit, sigma=ROBUST_SIGMA[stage])
    return loss


def _from_wrist(uv: torch.Tensor, detected: torch.Tensor, landmarks, group: str
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """A hand's fitted and detected points [B, 21, 2] with every point but the wrist (MediaPipe hand point 0) taken
    relative to the wrist: the hand's 21 points then set its orientation and fingers, and only its wrist point (with
    the body's wrist) sets where it is. Absolute, the 20 other points outvoted the body's wrist 20 to 1: a hand
    flat on the forehead, whose fingers the model's hand cannot follow, dragged the fitted wrist 5.5 % of the
    person's height off a wrist detected 1.5 % off (hand_on_head). Unchanged where ``landmarks`` cannot name the
    wrist's row."""
    row = landmarks.row(group, 0) if hasattr(landmarks, "row") else None
    if row is None:
        return uv, detected
    others = torch.ones(uv.shape[1], 1, dtype=uv.dtype, device=uv.device)
    others[row] = 0.0
    return uv - uv[:, row:row + 1] * others, detected - detected[:, row:row + 1] * others


def _silhouette_loss(p: _Problem, verts: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The soft-IoU losses of the posed vertices [B, V, 3] seen through ``K`` [3, 3] against the person masks, summed
    over the frames."""
    targets = p.targets
    pts = sample_points(verts, p.consts.faces, *p.samples)
    sil_total = 0.0
    for b in range(verts.shape[0]):
        uvp = project(pts[b], K)
        if p.level is None:
            with torch.no_grad():
                d = splat_density(uvp, targets.size[0], targets.size[1], p.grid)
                inside = d[d > 1e-3]
                p.level = float(inside.quantile(0.25)) if inside.numel() else 1.0
        alpha = soft_silhouette(uvp, targets.size[0], targets.size[1], p.grid, p.level)
        sil_total = sil_total + soft_iou_loss(alpha, targets.masks[b])
    return sil_total
