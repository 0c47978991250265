"""From detections to fitted parameters for every kept frame (shared shape), plus the figures and the overlay."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from talkavatar.core.body.landmark_groups import GroupedLandmarks
from talkavatar.core.silhouette import downsample_mask, hard_silhouette
from talkavatar.track.camera import default_focal, intrinsics, project
from talkavatar.track.config import TrackConfig
from talkavatar.track.detect import Detection
from talkavatar.track.expression import bake_expression, photo_refit, smooth_expression
from talkavatar.track.fitting import FitTargets, FitWeights, ModelConsts, fit, initial_state, with_refitted_expression
from talkavatar.track.footage import Footage
from talkavatar.track.gating import gate, profile_turn, second_opinion
from talkavatar.track.landmark_vertices import restricted
from talkavatar.track.mask import refine_mask
from talkavatar.track.metrics import VISIBLE, keypoint_error_pct, person_height, silhouette_iou
from talkavatar.track.overlay import compose_overlay, draw_landmarks, draw_people, draw_rejected, shade_mesh
from talkavatar.track.pose_points import HIPS, SHOULDERS
from talkavatar.track.profile_outline import place_profile_noses
from talkavatar.track.shape_space import ShapeSpace, linearise
from talkavatar.track.video_fit import smooth_poses, track_frames

GROUPS = ("body", "face", "left_hand", "right_hand")
FITTED_SHAPE = {"anny": [0, 1, 2, 3, 4, 5], "smplx": list(range(10))}  # Anny: the 6 phenotypes; SMPL-X: 10 betas
SHAPE_SIGMA = {"anny": [0.5, 0.3, 0.1, 0.1, 0.3, 0.3],  # muscle and weight stay near average: no suit inflation
               "smplx": [1.0] * 10}
SEGMENT_LENGTHS = {"anny": {"measure-upperarm-length-incr": 1.0, "measure-lowerarm-length-incr": 1.0,
                            "measure-upperleg-height-incr": 1.0, "measure-lowerleg-height-incr": 1.0,
                            "measure-napetowaist-dist-incr": 1.0}}
"""Shape entries that lengthen one body segment, both sides alike (Anny's local changes: upper arm, forearm, thigh,
shin, nape to waist), fitted beside :data:`FITTED_SHAPE` with their prior std-dev. Each is kinked at 0
(:mod:`shape_space`): at +1 it lengthens its segment by 28 / 29 / 27 / 20 / 15 %, at -1 shortens it by 19 / 20 /
19 / 15 / 9 %. The prior is a sum against a landmark loss that is a mean over points, so std-dev 1 is stiffer than
it reads: a clean known body's forearm 14 % long moved a tenth of the way (tests/test_track_fit.py), real photos'
larger residuals move it (hand_on_head's forearm +0.42: body 3.39 -> 2.85 %); 0.5 / 3 were worse on the 12 photos,
and without the torso or with the arms alone hand_on_head's face rose 0.25 (benchmarks/RESULTS.md, fourteenth
session, helper track12)."""
SIL_GRID = 128
TORSO = [0, 2, 5, 7, 8, 11, 12, 23, 24]  # MediaPipe body points the global stage fits: head, shoulders, hips
ANCHORS = [("body", *SHOULDERS.values()), ("face", 33, 263)]
"""MediaPipe point pairs that size the person for the initial depth, tried in order (:func:`initial_state`)."""
CLOSEUP_ANCHORS = [("face", 168, 152), ("body", *SHOULDERS.values()), ("face", 33, 263)]
"""A close-up is sized by its face first: between the eyes (168) to the chin (152), both on the face's midline so
that turning the head does not shorten it (the eye corners 33-263 do; the shoulders are half out of the frame or
padded by clothes)."""
CLOSEUP_FACE = 0.3
"""A photo is a close-up (head, or head and shoulders) when no hip is seen and its Face Mesh, forehead to chin, is at
least this fraction of the picture's height (measured: grace_hopper's portrait 0.35, the selfie 0.40, side_45 0.58,
the astronaut's half body 0.22)."""
CLOSEUP_MASK = 0.1
"""A close-up's silhouette weight, relative to ``--mask-weight``: its mask is mostly hair and collar, which the bald,
unclothed body model cannot cover (at full weight the fit pulled the head off the face to fill the hair)."""
VIDEO_MASK_SIDE = 480
"""A video frame's mask is refined at most at this many pixels (longer side) and upsampled (a photo's at 1024):
half the cost at 640x360, edges a little softer."""
EDGE_GUESS = 0.1
"""Body points this close to the frame's bottom edge (a fraction of its height), or below it, may be MediaPipe's
guesses of shoulders out of view (:func:`steady_edge_points`)."""
EDGE_SEEN = 0.5
"""A close-up clip's body point at the bottom edge counts only if MediaPipe sees it in at least this fraction of the
clip's frames: shoulders in view are seen in every frame (single_face: 72 of 72), guesses of shoulders out of view
flicker (wolfgang_langer: 28 and 43 of 472; at 344-385 px of 360 and visibility ~0.7 they lifted the fitted body and
put the chin 30 px above the real one in frames 186-197). Decided once for the clip: a guess kept only in its
steady runs pulled the body when a run began (a 4 % jump at frame 461)."""
IOU_FRAMES = 16
"""The mask IoU of a clip is the mean over at most this many tracked frames, evenly spread (rasterising the mesh
of every frame cost ~0.1 s a frame)."""
EDGE_MARGIN = 0.03
"""Body points up to this fraction of the longer image side outside the frame still count when MediaPipe sees them
(a shoulder at the bottom edge of a head-and-shoulders close-up is often placed a pixel below it)."""


@dataclass
class Fitted:
    """shape: [S]; joint_rotations [T, 55, 3]; root_translation [T, 3]; arkit_weights [T, 52]; tracked [T] bool;
    K_work [3, 3]; masks: list of [H, W] float (work resolution); rig: the baked Rig; metrics: dict;
    overlay: [H', W', 3] uint8."""

    shape: torch.Tensor
    joint_rotations: torch.Tensor
    root_translation: torch.Tensor
    arkit_weights: torch.Tensor
    tracked: np.ndarray
    K_work: np.ndarray
    masks: list[np.ndarray]
    rig: object
    metrics: dict
    overlay: np.ndarray


def points_and_weights(det: Detection, group: str, index: np.ndarray, size: tuple[int, int],
                       confirmed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """What MediaPipe saw of ``group`` at the MediaPipe points ``index`` [K] in an image of ``size`` (w, h) px:
    (points [K, 2] px, weights [K]: body visibility where seen inside the frame (or, with ``confirmed``, where the
    gating confirmed an unsure point: :func:`~talkavatar.track.gating.second_opinion`), else 0; 1 for a present
    face or hand, else 0)."""
    w, h = size
    if group == "body":
        pts, vis = det.body[index, :2], det.body_visibility[index].copy()
        m = EDGE_MARGIN * max(w, h)
        inside = (pts[:, 0] >= -m) & (pts[:, 0] < w + m) & (pts[:, 1] >= -m) & (pts[:, 1] < h + m)
        weight = np.where((vis >= VISIBLE) & inside, vis, 0.0)
        if confirmed and det.confirmed is not None:
            weight = np.where(det.confirmed[index] & inside, vis, weight)
        return pts, _trusted(det, group, index, weight.astype(np.float32))
    present = {"face": det.face_present, "left_hand": det.left_hand_present,
               "right_hand": det.right_hand_present}[group]
    pts = getattr(det, group)[index, :2]
    return pts, _trusted(det, group, index, np.full(len(index), 1.0 if present else 0.0, np.float32))


def _trusted(det: Detection, group: str, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``weight`` [K] times the gating's multipliers of those MediaPipe points (:func:`gate_detections`)."""
    trust = det.trust.get(group)
    return weight if trust is None else (weight * trust[index]).astype(np.float32)


def gate_detections(detections: list[Detection]) -> None:
    """Gate every detection's landmarks by plausibility (:mod:`gating`): fills ``trust``, ``rejected`` and
    ``turn`` in place (before the masks are refined: they grow from the trusted body points)."""
    for det in detections:
        size = (det.mask.shape[1], det.mask.shape[0])
        det.confirmed = second_opinion(det, size)
        det.trust, det.rejected = gate(det)
        det.turn = profile_turn(det, size)


def seen_landmarks(detections: list[Detection], landmarks: GroupedLandmarks, size: tuple[int, int]
                   ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """:func:`points_and_weights` of every group over T frames -> ({group: (points [T, K, 2], weights [T, K])},
    found [T] bool: a person was detected)."""
    seen = {}
    for g in GROUPS:
        pw = [points_and_weights(d, g, landmarks.mediapipe_index(g), size) for d in detections]
        seen[g] = (np.stack([p for p, _ in pw]), np.stack([w for _, w in pw]))
    return seen, np.array([d.found for d in detections], bool)


def face_share(detections: list[Detection], height: int) -> float:
    """The largest trusted Face Mesh length (forehead 10 to chin 152) over the frames, as a fraction of ``height``."""
    lengths = [np.linalg.norm(d.face[10, :2] - d.face[152, :2]) for d in detections
               if d.face_present and d.trust.get("face", np.ones(1)).max() > 0]
    return float(max(lengths, default=0.0) / height)


def is_closeup(detections: list[Detection], size: tuple[int, int]) -> bool:
    """Whether the footage shows a head or a head and shoulders (:data:`CLOSEUP_FACE`): no frame shows a hip and the
    face is large. Its body is then placed behind its face (sized by the face, :data:`CLOSEUP_ANCHORS`) and the
    focal length is fitted (:data:`talkavatar.track.fitting.FOCAL`) unless given."""
    hips = [points_and_weights(d, "body", np.array(list(HIPS.values())), size)[1].max() for d in detections if d.found]
    return max(hips, default=0.0) <= 0 and face_share(detections, size[1]) >= CLOSEUP_FACE


def closeup_targets(detections: list[Detection], targets: FitTargets, index: dict[str, np.ndarray]) -> bool:
    """Whether the footage is a close-up (:func:`is_closeup`); for one, ``targets`` lose the body's own head points
    (in place): the face mesh places the head, and an ear guessed on the cheek would fight it. The caller then sizes
    the body by :data:`CLOSEUP_ANCHORS` and weighs the mask by :data:`CLOSEUP_MASK`."""
    closeup = is_closeup(detections, targets.size)
    if closeup:
        body = targets.weights["body"]
        targets.weights["body"] = body * torch.tensor(index["body"] > 10, dtype=body.dtype, device=body.device)
    return closeup


def interpolate_missing(values: torch.Tensor, ok: np.ndarray) -> torch.Tensor:
    """Linear interpolation over frames [T, ...] where ``ok`` [T] is False (ends hold the nearest good value)."""
    if ok.all():
        return values
    good = np.flatnonzero(ok)
    flat = values.reshape(values.shape[0], -1).cpu().numpy()
    out = np.stack([np.interp(np.arange(len(ok)), good, flat[good, c]) for c in range(flat.shape[1])], 1)
    return torch.from_numpy(out).to(values).reshape(values.shape)


def refined_masks(footage: Footage, detections: list[Detection]) -> list[np.ndarray]:
    """The person mask of every frame [H, W] float (work resolution), refined around the detected body."""
    masks = []
    for frame, det in zip(footage.frames, detections):
        trusted = det.trust.get("body", np.ones(len(det.body), np.float32)) > 0
        seeds = det.body[(det.body_visibility >= VISIBLE) & trusted, :2] if det.found else None
        masks.append(refine_mask(frame, det.mask, seeds, VIDEO_MASK_SIDE if footage.kind == "video" else 1024)
                     if det.found else det.mask)
    return masks


def fit_targets(detections: list[Detection], masks: list[np.ndarray], K: np.ndarray, size: tuple[int, int],
                index: dict[str, np.ndarray], device) -> FitTargets:
    """What the fit matches for these frames: detected points per group (``index[g]``: the MediaPipe index of each
    model landmark), person heights, masks on the silhouette grid; ``K`` [3, 3] and ``size`` (w, h) of the work
    image."""
    width, height = size
    dtype = torch.float32
    points, weights = {}, {}
    for g in GROUPS:
        pw = [points_and_weights(d, g, index[g], (width, height)) for d in detections]
        points[g] = torch.tensor(np.stack([p for p, _ in pw]), dtype=dtype, device=device)
        weights[g] = torch.tensor(np.stack([w for _, w in pw]), dtype=dtype, device=device)
    heights = [person_height(m, d.body[d.body_visibility >= VISIBLE, :2]) for m, d in zip(masks, detections)]
    gw, gh = (SIL_GRID, max(8, round(SIL_GRID * height / width))) if width >= height else \
        (max(8, round(SIL_GRID * width / height)), SIL_GRID)
    grid_masks = torch.tensor(np.stack([downsample_mask(m, (gw, gh)) for m in masks]), dtype=dtype, device=device)
    return FitTargets(points, weights, grid_masks, torch.tensor(heights, dtype=dtype, device=device),
                      torch.tensor(K, dtype=dtype, device=device), (width, height),
                      torch.tensor(np.isin(index["body"], TORSO), dtype=dtype, device=device),
                      torch.tensor([float(d.turn) for d in detections], dtype=dtype, device=device))


@dataclass
class PoseTrack:
    """:func:`track_poses`' result: the fit's ``result`` (FitState), the poses of every frame with the frames
    without a person interpolated (and a video's expression smoothed): joint_rotations [T, 55, 3], root_translation
    [T, 3], arkit_weights [T, 52]; ``K`` [3, 3] of the work image (the fitted focal length of a close-up); ``found``
    [T] bool; ``closeup``; ``targets``: the detections as the fit saw them."""

    result: object
    joint_rotations: torch.Tensor
    root_translation: torch.Tensor
    arkit_weights: torch.Tensor
    K: np.ndarray
    found: np.ndarray
    closeup: bool
    targets: FitTargets


def track_poses(consts: ModelConsts, space, landmarks: GroupedLandmarks, footage: Footage,
                detections: list[Detection], masks: list[np.ndarray], config: TrackConfig, device, log,
                shape_sigma: torch.Tensor | None = None) -> PoseTrack:
    """Fit pose, expression and placement of every frame of ``footage`` in the shape ``space`` (an empty space holds
    the shape: re-tracking a known person), with the detections gated and ``masks`` refined (a profile's nose is read
    off its mask: :func:`~talkavatar.track.profile_outline.place_profile_noses`). A close-up
    (:func:`is_closeup`) is placed by its face, with a light silhouette, and its focal length is fitted unless
    ``config.focal`` or EXIF gives it. Used by the track stage and by eval's self-reenactment alike, so that
    held-out frames are tracked exactly as the frames an avatar was fitted to."""
    width, height = footage.work_size
    focal_full = config.focal or footage.exif_focal_px or default_focal(*footage.full_size)
    K = intrinsics(width, height, focal_full / footage.scale)
    found = np.array([d.found for d in detections])
    index = {g: landmarks.mediapipe_index(g) for g in GROUPS}
    place_profile_noses(detections, masks)
    targets = fit_targets(detections, masks, K, (width, height), index, device)
    closeup = closeup_targets(detections, targets, index)
    state = initial_state(consts, space, landmarks, targets, CLOSEUP_ANCHORS if closeup else ANCHORS)
    fw = FitWeights(mask=config.mask_weight * (CLOSEUP_MASK if closeup else 1.0), smooth=config.smooth_weight)
    last = [time.perf_counter()]

    def on_step(stage, step, count):
        if step == count - 1 or time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            log(f"fit {stage}: step {step + 1}/{count}")

    known_focal = config.focal is not None or footage.exif_focal_px is not None
    sigma = shape_sigma if shape_sigma is not None else torch.ones(0)
    if footage.kind == "video" and len(found) > 1:
        result = _track_video(consts, space, landmarks, targets, found, state, config, fw, sigma, closeup,
                              closeup and not known_focal, log)
    else:
        result = fit(consts, space, landmarks, targets, state, config.steps, fw, sigma,
                     fit_shape=space.fitted.numel() > 0, seed=config.seed, on_step=on_step, closeup=closeup,
                     free_focal=closeup and not known_focal)
        if result.graphs:
            log(f"fit steps on CUDA: {result.graphs}")
    if closeup:
        log(f"close-up: the face fills {face_share(detections, height):.0%} of the picture's height"
            + ("" if known_focal else f"; fitted focal length {focal_full * result.focal_scale:.0f} px "
               f"({result.focal_scale:.2f} x the default)"))
    rotations, translation = (interpolate_missing(v, found) for v in (result.joint_rotations, result.root_translation))
    arkit = interpolate_missing(result.arkit_weights, found)
    if footage.kind == "video":
        arkit = smooth_expression(arkit, footage.fps)
        rotations, translation = smooth_poses(rotations, translation, footage.fps)
    return PoseTrack(result, rotations, translation, arkit,
                     intrinsics(width, height, focal_full * result.focal_scale / footage.scale), found, closeup,
                     targets)


def steady_edge_points(targets: FitTargets) -> FitTargets:
    """``targets`` of a clip [T] without the body points at the bottom edge (:data:`EDGE_GUESS`) that MediaPipe sees
    in fewer than :data:`EDGE_SEEN` of the frames."""
    w = targets.weights["body"]  # [T, K_body]
    flickers = (w > 0).to(w.dtype).mean(0) < EDGE_SEEN  # [K_body]
    edge = targets.points["body"][..., 1] >= targets.size[1] * (1 - EDGE_GUESS)
    return replace(targets, weights={**targets.weights, "body": w * ~(edge & flickers)})


def _track_video(consts, space, landmarks, targets, found, state, config, weights, sigma, closeup, free_focal, log):
    """A clip's frames fitted one by one (:func:`talkavatar.track.video_fit.track_frames`): a FitState [T]."""
    last = [time.perf_counter()]
    landmarks_only = restricted(consts, space, landmarks)  # a step without the silhouette poses these vertices alone

    def fit_frame(frame_targets, frame_state, steps, frame_weights, key):
        if closeup and not key:  # a close-up's light silhouette (CLOSEUP_MASK) is left to the key frame: speed
            frame_weights = replace(frame_weights, mask=0.0)
        model = landmarks_only if frame_weights.mask == 0 else (consts, space, landmarks)
        return fit(*model, frame_targets, frame_state, steps, frame_weights, sigma,
                   fit_shape=key and space.fitted.numel() > 0, seed=config.seed, closeup=closeup,
                   free_focal=key and free_focal, warm=not key, refit=key)

    def refit(frame_targets, frame_state):
        return with_refitted_expression(consts, space, landmarks, frame_targets, frame_state)

    def on_frame(done, count):
        if done == count or time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            log(f"fit: frame {done}/{count}")

    if closeup:
        targets = steady_edge_points(targets)
    return track_frames(fit_frame, refit, targets, found, state, config.steps, weights, on_frame)


def fitted_shape_space(body, shape: torch.Tensor | None, device) -> tuple[ShapeSpace, torch.Tensor]:
    """(the shape space track fits in, its prior std-devs [P]): around the default shape, :data:`FITTED_SHAPE` and
    :data:`SEGMENT_LENGTHS` (kinked) free; around ``shape`` [S] with nothing free where it is given (re-tracking a
    known person)."""
    fitted, sigmas, lengths = [], [], []
    if shape is None:
        fitted = [i for i in FITTED_SHAPE.get(body.name, []) if i < body.default_shape.shape[0]]
        sigmas = SHAPE_SIGMA.get(body.name, [0.3] * len(fitted))
        segments = {n: s for n, s in SEGMENT_LENGTHS.get(body.name, {}).items() if n in body.shape_names}
        lengths = [body.shape_names.index(n) for n in segments]
        fitted, sigmas = fitted + lengths, sigmas + list(segments.values())
    base = body.default_shape if shape is None else shape
    return (linearise(body, base.to(device, torch.float32), fitted, kinked=lengths),
            torch.tensor(sigmas, dtype=torch.float32, device=device))


def fit_footage(body, footage: Footage, detections: list[Detection], config: TrackConfig, device, log,
                timings: dict, shape: torch.Tensor | None = None) -> Fitted:
    """Fit every frame; ``shape`` [S] holds the body shape fixed (re-tracking a known person) instead of fitting it."""
    width, height = footage.work_size
    t = time.perf_counter()
    gate_detections(detections)
    masks = refined_masks(footage, detections)
    timings["mask"] = time.perf_counter() - t

    landmarks = GroupedLandmarks(body.landmarks, device)
    index = {g: landmarks.mediapipe_index(g) for g in GROUPS}
    t = time.perf_counter()
    space, sigma = fitted_shape_space(body, shape, device)
    consts = ModelConsts.of(body)
    timings["shape_space"] = time.perf_counter() - t
    t = time.perf_counter()
    tracked = track_poses(consts, space, landmarks, footage, detections, masks, config, device, log, sigma)
    timings["fit"] = time.perf_counter() - t
    result, K, found, targets = tracked.result, tracked.K, tracked.found, tracked.targets
    rotations, translation, arkit = tracked.joint_rotations, tracked.root_translation, tracked.arkit_weights

    shape = space.full_shape(result.shape_delta)
    t = time.perf_counter()
    rig = body.bake_rig(shape)
    if footage.kind == "image":  # the photo's resting face becomes the rig's neutral (track.expression.bake_expression)
        refit = photo_refit(rotations[:1].cpu().float(), translation[:1].cpu().float(), targets.points["face"][:1].cpu(),
                            targets.weights["face"][:1].cpu(), torch.from_numpy(K)) if "face" in targets.points else None
        rig, arkit = bake_expression(rig, arkit, refit)
    posed = rig.pose(rotations.cpu().float(), translation.cpu().float(), arkit.cpu().float())
    timings["bake"] = time.perf_counter() - t

    metrics, overlay = _measure(rig, posed, landmarks, index, footage, detections, masks, K, found)
    return Fitted(shape.cpu().float(), rotations.cpu().float(), translation.cpu().float(), arkit.cpu().float(),
                  found, K, masks, rig, metrics, overlay)


def _measure(rig, posed, landmarks, index, footage, detections, masks, K, found):
    """(metrics, overlay): the fit's own figures, who was found and what the gating rejected, and the picture."""
    width, height = footage.work_size
    Kt = torch.tensor(K)
    model = {g: project(p, Kt).numpy() for g, p in GroupedLandmarks(rig.landmarks)(posed).items()}
    errors = {g: [] for g in GROUPS}
    ious = []
    faces = rig.faces.numpy()
    tracked = np.flatnonzero(found)
    iou_frames = set(tracked[np.linspace(0, len(tracked) - 1, min(len(tracked), IOU_FRAMES)).round().astype(int)])
    for t, det in enumerate(detections):
        if not found[t]:
            continue
        h = person_height(masks[t], det.body[det.body_visibility >= VISIBLE, :2])
        for g in GROUPS:  # the points MediaPipe is sure of, as before unsure ones were confirmed
            pts, w = points_and_weights(det, g, index[g], (width, height), confirmed=False)
            e = keypoint_error_pct(model[g][t], pts, w, h)
            if e is not None:
                errors[g].append(e)
        if t in iou_frames:
            verts_px = project(posed.vertices[t], Kt).numpy()
            ious.append(silhouette_iou(hard_silhouette(verts_px, faces, width, height), masks[t]))
    t0 = int(np.flatnonzero(found)[0])
    metrics = {"keypoint_error_pct": {g: (round(float(np.mean(v)), 3) if v else None) for g, v in errors.items()},
               "mask_iou": round(float(np.mean(ious)), 4), "frames": int(len(found)),
               "tracked_frames": int(found.sum()), **found_record(detections, t0, footage)}
    return metrics, _overlay(rig, posed.vertices[t0], model, t0, index, footage, detections[t0], Kt)


def found_record(detections: list[Detection], t0: int, footage: Footage) -> dict:
    """{people: who was found in frame ``t0`` (people.people_record), rejected_landmarks: what the gating rejected
    in every frame (with ``frame`` for videos)}, in pixels of the input as given."""
    scale = footage.scale

    def full(entry: dict) -> dict:
        out = dict(entry)
        if "box" in out:
            out["box"] = [round(v * scale, 1) for v in out["box"]]
        if "x" in out:
            out["x"], out["y"] = round(out["x"] * scale, 1), round(out["y"] * scale, 1)
        return out

    rejected = [{**full(r), **({"frame": footage.frame_indices[t]} if footage.kind == "video" else {})}
                for t, det in enumerate(detections) for r in det.rejected]
    return {"people": [full(p) for p in detections[t0].everyone], "rejected_landmarks": rejected}


def _overlay(rig, verts, model, t0, index, footage, det, Kt) -> np.ndarray:
    """Left: the mesh shaded over frame ``t0`` with everyone found boxed and numbered; right: detections (green),
    fitted landmarks (red) and the rejected landmarks (magenta crosses)."""
    width, height = footage.work_size
    faces = rig.faces.numpy()
    verts_px = project(verts, Kt).numpy()
    depth = (-verts[:, 2]).numpy()
    tri = verts[rig.faces]
    normals = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = normals / normals.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    normals_cam = (normals * torch.tensor([1.0, -1.0, -1.0])).numpy()  # world -> OpenCV camera axes
    frame = footage.frames[t0]
    radius = max(2, round(max(width, height) / 250))
    shaded = draw_people(shade_mesh(frame, verts_px, depth, normals_cam, faces), det.everyone, radius)
    detected, fitted = {}, {}
    for g in GROUPS:
        pts, w = points_and_weights(det, g, index[g], (width, height))
        detected[g] = np.where(w[:, None] > 0, pts, np.nan)
        fitted[g] = np.where(w[:, None] > 0, model[g][t0], np.nan)
    marks = draw_rejected(draw_landmarks(frame, detected, fitted, radius=radius), det.rejected, radius)
    return compose_overlay(shaded, marks)
