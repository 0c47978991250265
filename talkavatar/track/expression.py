"""Expression tracking: the 52 ARKit weights of each frame fitted to MediaPipe's face points, with the pose held.

After the body fit has placed the head, every mapped face landmark is an affine function of the ARKit weights in
each frame (skinning is linear in the rest vertices, the blendshapes are added to the rest vertices), so the
expression fit is small: per frame 52 weights in 0..1 and a small rigid motion of the face points (rotation about
their centre, shift) that absorbs what is left of the head's placement (without it a head yawed 2 degrees off was
explained as mouthRight 0.7), against the detected points weighted by region so that
eyelids, brows and lip contours dominate (:data:`REGION_WEIGHTS`). ARKit's ``mouthClose`` only means something on
top of ``jawOpen`` (alone it pushes the lower lip through the upper one): it is held to ``<= jawOpen``. The two eyes
turn together (:data:`CONJUGATE_PRIOR`), and only where an iris is seen (:data:`GAZE`).

The body model's neutral face is not the person's: Anny's brows sit lower than many people's, its lips part by
3 mm at rest, so a photo of a relaxed face fits to raised brows, a rolled lip and the like. :func:`bake_expression`
makes the photo's fitted face the personal rig's neutral face (weights go into the rest vertices); expressions
tracked later with that rig, and those drive-audio asks for, are then changes from the person's own face. Only the
part of the photo's face a *resting* face can have is baked (:func:`neutral_split`, a neutrality prior): lips that
meet, eyes open; the rest (an open mouth, shut eyes) stays the photo's expression, so an avatar made from a laughing
or a shut-eyed photo still closes its mouth and opens its eyes at rest. A photo whose lips are seen apart further
than its fitted ``jawOpen`` parts them (the opening explained by the lip channels alone: a shout on a small face) is
refitted with the jaw opened as far as the lips are apart (:func:`photo_jaw`), so that the photo's opening shows
the mouth interior and the rig's neutral face has closed lips.

Temporal smoothing (:func:`smooth_expression`) filters every weight with a short Gaussian but leaves the eyelid
channels to a 3-frame median, which removes single-frame spikes and keeps a blink's closed frames closed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from talkavatar.core.body.landmark_groups import GroupedLandmarks
from talkavatar.core.body.landmarks import FACE_POINTS
from talkavatar.core.rotations import axis_angle_to_matrix, right_jacobian, skew
from talkavatar.motion.names import ARKIT_INDEX, ARKIT_NAMES
from talkavatar.track.camera import project

REGION_WEIGHTS = {"eyelid": 4.0, "eye_corner": 2.0, "iris": 0.5, "brow": 3.0, "lip_inner": 3.0, "lip_outer": 2.0,
                  "nose": 1.0, "jaw": 0.5}
"""Relative weight of each face region's landmarks in the expression fit."""
PRIOR_L2 = 0.02
"""Weight of the squared ARKit weights (per unit residual: 1 % of the inter-ocular distance)."""
PRIOR_L1 = 0.02
"""Weight of the sum of ARKit weights: among expressions that explain the points equally, the sparser wins."""
EXTRA_PRIOR = {"cheekPuff": 10.0, "tongueOut": 10.0, "mouthDimpleLeft": 2.0, "mouthDimpleRight": 2.0}
"""Channels the face points barely tell apart from others (a puffed cheek moves the lip corners like a smile): L1
prior multiplied by this."""
RIGID_PRIOR = 10.0
"""Weight of the squared angle (rad²) of the head's correction."""
SHARP_CHANNELS = tuple(n for n in ARKIT_NAMES if n.startswith(("eyeBlink", "eyeSquint", "eyeWide")))
"""Channels smoothed by a 3-frame median only (blinks last 3-6 frames at 30 fps)."""
MEDIAN_MIN_FPS = 20.0
"""Frame rate below which the sharp channels are left as fitted."""
SMOOTH_SIGMA_S = 0.033
"""Standard deviation in seconds of the Gaussian filter of the other channels."""
REST_LIMITS = {**{f"{n}{side}": v for n, v in (("eyeBlink", 0.25), ("eyeLookDown", 0.25), ("eyeSquint", 0.3),
                                                ("mouthLowerDown", 0.3), ("mouthUpperUp", 0.6))
                  for side in ("Left", "Right")},
               "mouthFunnel": 0.3, "cheekPuff": 0.0, "tongueOut": 0.0}
"""The neutrality prior of the photo bake: the most of each channel a resting face's own shape is taken to show;
what the photo shows beyond it is expression. It bounds what shuts the eyes and what parts the lips: set from the
weights fitted to relaxed and expressive frames of two people (benchmarks/reenact_neutral.py; RESULTS.md): relaxed
faces fit eyeBlink <= 0.13, eyeLookDown <= 0.08, mouthUpperUp <= 0.61; shut eyes fit eyeBlink 0.65 + eyeLookDown
0.95, smiles and laughs mouthUpperUp 0.87-1.0. Channels not named are baked whole: brows, gaze, stretch, press, roll,
pucker carry the person's shape on relaxed faces (browInnerUp 1.0, pucker 0.47, mouthStretch 0.62), and a smiling
photo keeps its smile at rest (the look its person chose; the astronaut's mouthSmile 0.89). ``jawOpen`` is bound by
the lips instead (:data:`REST_LIP_GAP`)."""
BAKE_ROUNDS = 3
"""At most this many refits of the photo on its baked rig (:func:`bake_expression`)."""
SATURATED = 0.98
"""A fitted weight at or above this is at the top of its range."""
REST_LIP_GAP = 0.06
"""How much more ``jawOpen`` than ``mouthClose`` (lips parted) a resting face keeps: 0.06 parts Anny's lips ~2 mm
(its ``jawOpen`` is scaled by ``core.body.anny.JAW_GAIN``; 0.1 parted them ~4 mm). ``jawOpen`` with an equal
``mouthClose`` is a longer chin with the lips closed, the person's shape."""
LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
"""MediaPipe inner-lip points facing each other across the mouth (upper, lower): left of the middle, middle, right."""
JAW_PROBE = 0.3
"""The ``jawOpen`` at which :func:`photo_jaw` measures how far the model's lips part per unit of it."""
OPEN_MARGIN = 0.05
"""A photo's jaw is opened (:func:`bake_expression`) when its lips need this much more ``jawOpen`` than tracked."""
GAZE = {"left_iris": tuple(f"eyeLook{d}Left" for d in ("In", "Out", "Up", "Down")),
        "right_iris": tuple(f"eyeLook{d}Right" for d in ("In", "Out", "Up", "Down"))}
"""Each eye's gaze channels, by the iris point that shows them (the person's left and right, as MediaPipe's). Only
a seen iris tells where the eyes look: the channels also shift the eyelids a little (Anny's ``eyeLookInLeft`` moves
the iris 5.7 mm, the lids ~1 mm), and the fit used them to move the lids: with an iris under a hand it turned that
eyeball fully inwards (hand_on_head: ``eyeLookIn`` 1.0 on both eyes, baked into the rig's neutral face, the fitted
eye centre 4.4 % of the person's height off the marked one); without any iris seen no gaze is fitted
(:func:`gaze_ceiling`)."""
CONJUGATE = (("eyeLookInLeft", "eyeLookOutRight"), ("eyeLookOutLeft", "eyeLookInRight"),
             ("eyeLookUpLeft", "eyeLookUpRight"), ("eyeLookDownLeft", "eyeLookDownRight"))
"""Gaze channels that move the two eyes the same way: eyes turn together (a near target converges them by a few
degrees only). :data:`CONJUGATE_PRIOR` ties each pair."""
CONJUGATE_PRIOR = 10.0
"""Weight of the squared difference of each :data:`CONJUGATE` pair (500 x :data:`PRIOR_L2`): one seen iris sets both
eyes' gaze, and the lids cannot cross or splay the eyes to fit themselves. Before it, resting irises on the twelve
photos of issue 17 (the eye's width from its outer corner; Anny looking straight: 0.52-0.54): kick 0.72 and 1.12
(crossed, the left iris beyond its inner corner), camera 0.25 and 0.14 (both turned out), hopper 0.53 and 0.79."""


def region_of(name: str) -> str:
    """The :data:`REGION_WEIGHTS` region of a :data:`FACE_POINTS` name."""
    if name.endswith("iris"):
        return "iris"
    if "_eye_" in name:
        return "eye_corner" if name.endswith(("_outer", "_inner")) and "upper" not in name and "lower" not in name \
            else "eyelid"
    for prefix, region in (("lip_inner", "lip_inner"), ("lip_outer", "lip_outer"), ("nose", "nose"), ("jaw", "jaw")):
        if name.startswith(prefix):
            return region
    if "_brow_" in name:
        return "brow"
    raise ValueError(f"face point {name!r} belongs to no region")


def landmark_weights(mediapipe_index: np.ndarray) -> torch.Tensor:
    """[K] region weight of each face landmark, from their MediaPipe indices [K] (normalised to mean 1)."""
    names = {i: n for n, i in FACE_POINTS.items()}
    w = torch.tensor([REGION_WEIGHTS[region_of(names[int(i)])] for i in mediapipe_index], dtype=torch.float32)
    return w / w.mean()


def expression_basis(vertex_transforms: torch.Tensor, vertex_indices: torch.Tensor, vertex_weights: torch.Tensor,
                     blendshapes: torch.Tensor) -> torch.Tensor:
    """How K landmarks move per unit of each ARKit weight in each posed frame: [B, K, 3, 52].

    ``vertex_transforms``: [B, V, 3, 4] (a ``PosedBody``'s); ``vertex_indices``/``vertex_weights``: [K, S] (the
    landmark map's rows); ``blendshapes``: [52, V, 3].
    """
    rotation = vertex_transforms[:, vertex_indices, :, :3]            # [B, K, S, 3, 3]
    shapes = blendshapes[:, vertex_indices].permute(1, 2, 3, 0)        # [K, S, 3, 52]
    moved = torch.einsum("bksij,ksjn->bksin", rotation, shapes.to(rotation.dtype))
    return (moved * vertex_weights.to(rotation.dtype)[None, :, :, None, None]).sum(2)


def _prior_weights(dtype, device) -> torch.Tensor:
    w = torch.ones(len(ARKIT_NAMES), dtype=dtype, device=device)
    for name, factor in EXTRA_PRIOR.items():
        w[ARKIT_INDEX[name]] = factor
    return w


def _moved(theta: torch.Tensor, base: torch.Tensor, basis: torch.Tensor, centre: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(the landmarks [B, K, 3] at ``theta`` [B, 58] = 52 ARKit weights, the head correction's axis-angle and shift,
    turned about ``centre`` [B, 1, 3] and shifted; the same before the correction, minus ``centre``: [B, K, 3]; the
    correction's rotation [B, 3, 3])."""
    count = basis.shape[-1]
    relative = base + torch.einsum("bkdn,bn->bkd", basis, theta[:, :count]) - centre
    rotation = axis_angle_to_matrix(theta[:, count:count + 3])
    return relative @ rotation.transpose(-1, -2) + centre + theta[:, None, count + 3:], relative, rotation


def _residual(theta: torch.Tensor, base: torch.Tensor, basis: torch.Tensor, project, targets: torch.Tensor,
              centre: torch.Tensor) -> torch.Tensor:
    """Pixel residuals [B, K, 2] of the landmarks at ``theta`` [B, 58] (:func:`_moved`) against ``targets``."""
    return project(_moved(theta, base, basis, centre)[0]) - targets


def _jacobian(theta: torch.Tensor, base: torch.Tensor, basis: torch.Tensor, project, centre: torch.Tensor
              ) -> torch.Tensor:
    """d :func:`_residual` / d ``theta``: [B, K, 2, 58]. Exact: the weights and the shift enter linearly, the
    correction's rotation through SO(3)'s right Jacobian (:func:`talkavatar.core.rotations.right_jacobian`), the
    projection (point by point) through autograd."""
    count = basis.shape[-1]
    moved, relative, rotation = _moved(theta, base, basis, centre)
    with torch.enable_grad():
        q = moved.detach().requires_grad_(True)
        uv = project(q)
        du = torch.autograd.grad(uv[..., 0].sum(), q, retain_graph=True)[0]
        dv = torch.autograd.grad(uv[..., 1].sum(), q)[0]
    d_project = torch.stack([du, dv], -2)                                        # [B, K, 2, 3]
    d_weights = rotation[:, None] @ basis                                        # [B, K, 3, 52]
    d_rotation = -(rotation[:, None] @ skew(relative)) @ right_jacobian(theta[:, count:count + 3])[:, None]
    d_shift = torch.eye(3, dtype=theta.dtype, device=theta.device).expand_as(d_rotation)
    return d_project @ torch.cat([d_weights, d_rotation, d_shift], -1)


def inter_ocular(points: torch.Tensor, mediapipe_index: np.ndarray) -> torch.Tensor:
    """[B] distance between the outer eye corners (MediaPipe 33 and 263) of face points [B, K, 2]."""
    index = list(int(i) for i in mediapipe_index)
    a, b = index.index(FACE_POINTS["right_eye_outer"]), index.index(FACE_POINTS["left_eye_outer"])
    return (points[:, a] - points[:, b]).norm(dim=-1)


def lip_opening(points: torch.Tensor, mediapipe_index: np.ndarray) -> torch.Tensor:
    """[B] mean distance across the mouth between the inner lips (:data:`LIP_PAIRS`) of face points [B, K, 2]."""
    index = list(int(i) for i in mediapipe_index)
    upper = [index.index(a) for a, _ in LIP_PAIRS]
    lower = [index.index(b) for _, b in LIP_PAIRS]
    return (points[:, upper] - points[:, lower]).norm(dim=-1).mean(-1)


def photo_jaw(base: torch.Tensor, basis: torch.Tensor, project, targets: torch.Tensor, seen: torch.Tensor,
              mediapipe_index: np.ndarray) -> torch.Tensor:
    """[B] the ``jawOpen`` in 0..1 that parts the model's lips (its neutral face, the pose held) as far as the
    detected ones are parted; 0 where an inner-lip point of :data:`LIP_PAIRS` is unseen. ``base`` [B, K, 3],
    ``basis`` [B, K, 3, 52], ``project``, ``targets`` [B, K, 2], ``seen`` [B, K]: as :func:`fit_expression`'s."""
    index = list(int(i) for i in mediapipe_index)
    lips = [index.index(i) for pair in LIP_PAIRS for i in pair]
    closed = lip_opening(project(base), mediapipe_index)
    opened = lip_opening(project(base + JAW_PROBE * basis[..., ARKIT_INDEX["jawOpen"]]), mediapipe_index)
    jaw = (lip_opening(targets, mediapipe_index) - closed) / (opened - closed).clamp_min(1e-6) * JAW_PROBE
    return jaw.clamp(0, 1) * (seen[:, lips] > 0).all(-1)


def gaze_ceiling(seen: torch.Tensor, mediapipe_index: np.ndarray) -> torch.Tensor:
    """[B, 52] upper bounds of the ARKit weights: 0 for every gaze channel (:data:`GAZE`) in the frames where neither
    iris is seen (``seen`` [B, K] of the face points at ``mediapipe_index`` [K]; an iris the map lacks counts as
    unseen), else 1. One seen iris sets both eyes' gaze (:data:`CONJUGATE_PRIOR`)."""
    index = [int(i) for i in mediapipe_index]
    irises = [index.index(FACE_POINTS[iris]) for iris in GAZE if FACE_POINTS[iris] in index]
    shown = (seen[:, irises] > 0).any(-1).to(seen.dtype) if irises else seen.new_zeros(seen.shape[0])
    ceiling = torch.ones(seen.shape[0], len(ARKIT_NAMES), dtype=seen.dtype, device=seen.device)
    for name in (n for channels in GAZE.values() for n in channels):
        ceiling[:, ARKIT_INDEX[name]] = shown
    return ceiling


def _prior_matrix(count: int, dtype, device) -> torch.Tensor:
    """[count + 6, count + 6] the quadratic prior of :func:`fit_expression`'s unknowns (``count`` ARKit weights, the
    head correction's axis-angle and shift): :data:`PRIOR_L2` on each weight, :data:`RIGID_PRIOR` on the angle, and
    :data:`CONJUGATE_PRIOR` on the difference of each :data:`CONJUGATE` pair."""
    prior = torch.diag(torch.cat([torch.full((count,), PRIOR_L2), torch.full((3,), RIGID_PRIOR), torch.zeros(3)]))
    for a, b in CONJUGATE:
        pair = torch.zeros(count + 6)
        pair[ARKIT_INDEX[a]], pair[ARKIT_INDEX[b]] = 1.0, -1.0
        prior = prior + CONJUGATE_PRIOR * torch.outer(pair, pair)
    return prior.to(dtype=dtype, device=device)


def fit_expression(base: torch.Tensor, basis: torch.Tensor, project, targets: torch.Tensor, seen: torch.Tensor,
                   region: torch.Tensor, initial: torch.Tensor, unit: torch.Tensor, iterations: int = 6,
                   jaw_floor: torch.Tensor | None = None, ceiling: torch.Tensor | None = None) -> torch.Tensor:
    """ARKit weights [B, 52] in 0..1 whose landmarks best match the detected ones (Gauss-Newton on the projection,
    each step a box-constrained quadratic solved by :func:`box_qp`).

    ``base`` [B, K, 3]: the landmarks at zero weights; ``basis`` [B, K, 3, 52] (:func:`expression_basis`);
    ``project``: world points [..., 3] -> pixels [..., 2] (pure torch); ``targets`` [B, K, 2] detected pixels;
    ``seen`` [B, K] (0: not detected); ``region`` [K] (:func:`landmark_weights`); ``initial`` [B, 52]; ``unit``
    [B] pixels per residual unit (1 % of the inter-ocular distance). The fit starts from the neutral face (weak
    directions, such as ``jawOpen`` + ``mouthClose`` that cancel on the lips, stay where they start); frames
    without a seen point keep ``initial``. ``jaw_floor`` [B]: lower bounds of ``jawOpen`` (:func:`photo_jaw`); a
    frame with one above 0 also keeps ``mouthClose`` at 0 (its lips are seen apart). ``ceiling`` [B, 52]: upper
    bounds of the weights (:func:`gaze_ceiling`; default 1).
    """
    count = len(ARKIT_NAMES)
    dtype, device = base.dtype, base.device
    root_w = (seen * region[None]).clamp_min(0).sqrt() / unit[:, None]          # [B, K]
    norm = (seen * region[None]).sum(-1).clamp_min(1e-6).sqrt()[:, None, None]  # residual mean over points
    centre = base.detach().mean(1, keepdim=True)

    theta = torch.zeros(base.shape[0], count + 6, dtype=dtype, device=device)  # from neutral: the sparse end
    prior2 = _prior_matrix(count, dtype, device)
    prior1 = torch.cat([PRIOR_L1 * _prior_weights(dtype, device), torch.zeros(6, dtype=dtype, device=device)])
    lower = torch.cat([torch.zeros(count), torch.full((6,), -torch.inf)]).to(theta).expand_as(theta).clone()
    upper = torch.cat([torch.ones(count), torch.full((6,), torch.inf)]).to(theta).expand_as(theta).clone()
    if ceiling is not None:
        upper[:, :count] = ceiling.to(theta)
    if jaw_floor is not None:  # the start is within the bounds: the line search below stays there
        lower[:, ARKIT_INDEX["jawOpen"]] = theta[:, ARKIT_INDEX["jawOpen"]] = jaw_floor.to(theta)
        upper[:, ARKIT_INDEX["mouthClose"]] = torch.where(jaw_floor > 0, 0.0, 1.0).to(theta)
    base, basis = base.detach(), basis.detach()
    scale = root_w / norm[..., 0]                                               # [B, K]

    def energy(theta):  # [B]
        r = _residual(theta, base, basis, project, targets, centre) * scale[..., None]
        return 0.5 * r.pow(2).sum((-1, -2)) + 0.5 * ((theta @ prior2) * theta).sum(-1) + (prior1 * theta).sum(-1)

    with torch.no_grad():
        for _ in range(iterations):
            J = _jacobian(theta, base, basis, project, centre) * scale[..., None, None]  # [B, K, 2, 58]
            J = J.reshape(J.shape[0], -1, J.shape[-1])                        # [B, 2K, 58]
            r = (_residual(theta, base, basis, project, targets, centre) * scale[..., None]).reshape(J.shape[:2])
            # 0.5 |r + J d|^2 + 0.5 x' prior2 x + prior1 x, over x = theta + d in the box
            H = J.transpose(1, 2) @ J + prior2
            g = (J.transpose(1, 2) @ (r[..., None] - J @ theta[..., None]))[..., 0] + prior1
            step = box_qp(H, g, lower, upper, theta, below=(ARKIT_INDEX["mouthClose"], ARKIT_INDEX["jawOpen"]))
            # a step the linearised projection misjudged (a large head correction) is taken halfway or not at all
            for fraction in (1.0, 0.5, 0.0):
                trial = theta + fraction * (step - theta)
                better = energy(trial) <= energy(theta)
                if fraction == 0.0 or better.all():
                    theta = torch.where(better[:, None], trial, theta)
                    break
                theta = torch.where(better[:, None], trial, theta)
    found = seen.sum(-1) > 0
    return torch.where(found[:, None], theta[:, :count], initial.to(dtype))


QP_CHECK = 20
"""How often (iterations) :func:`box_qp` checks whether it has converged."""


def box_qp(H: torch.Tensor, g: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, x: torch.Tensor,
           iterations: int = 400, below: tuple[int, int] | None = None, tolerance: float = 1e-7) -> torch.Tensor:
    """argmin over ``lower <= x <= upper`` of ``0.5 x'Hx + g'x`` for a batch (H [B, N, N] positive definite, g and
    the start ``x`` [B, N], bounds [N] or [B, N]) by Jacobi-preconditioned accelerated projected gradient (FISTA),
    at most ``iterations``, stopping early once no entry of ``x`` moved more than ``tolerance`` in the last
    :data:`QP_CHECK` iterations. ``below = (i, j)`` also holds ``x[i] <= x[j]`` in every projection (not an exact
    projection: a heuristic)."""
    scale = torch.diagonal(H, dim1=1, dim2=2).clamp_min(1e-12).rsqrt()        # Jacobi preconditioning: x = s z
    H, g = H * scale[:, :, None] * scale[:, None, :], g * scale
    lower, upper = lower / scale, upper / scale
    step = 1.0 / torch.linalg.eigvalsh(H)[:, -1:].clamp_min(1e-12)            # [B, 1]

    close, jaw = below if below is not None else (0, 0)
    scale_close, scale_jaw = scale[:, close], scale[:, jaw]

    def projected(z):
        z = torch.maximum(torch.minimum(z, upper), lower)  # a new tensor: written in place below
        if below is not None:
            z[:, close] = torch.minimum(z[:, close] * scale_close, z[:, jaw] * scale_jaw) / scale_close
        return z

    z = projected(x / scale)
    y, t, checked = z, 1.0, z
    for i in range(1, iterations + 1):
        z_next = projected(y - step * ((H @ y[..., None])[..., 0] + g))
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        y = z_next + ((t - 1) / t_next) * (z_next - z)
        z, t = z_next, t_next
        if i % QP_CHECK == 0:
            if float(((z - checked) * scale).abs().max()) <= tolerance:
                break
            checked = z
    return z * scale


def gaussian_filter(values: torch.Tensor, sigma: float) -> torch.Tensor:
    """values [T, C] filtered along the frames by a Gaussian of ``sigma`` frames (edges replicated); unchanged below
    a third of a frame or for fewer than 3 frames."""
    if values.shape[0] < 3 or sigma < 0.3:
        return values
    x = values.detach().cpu().double().numpy()
    radius = max(1, int(np.ceil(2.5 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(x, ((radius, radius), (0, 0)), mode="edge")
    out = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(x.shape[1])], 1)
    return torch.from_numpy(out).to(values)


def smooth_expression(weights: torch.Tensor, fps: float, sharp: tuple[str, ...] = SHARP_CHANNELS,
                      sigma_s: float = SMOOTH_SIGMA_S) -> torch.Tensor:
    """Temporal filter of ARKit weights [T, 52] at ``fps``: a 3-frame median on the ``sharp`` channels (at
    ``MEDIAN_MIN_FPS`` or more; sparser frames would lose whole blinks), a Gaussian of ``sigma_s`` seconds (edges
    replicated; none below a third of a frame) on the others. Fewer than 3 frames come back unchanged."""
    if weights.shape[0] < 3:
        return weights
    x = weights.detach().cpu().double().numpy()
    out = gaussian_filter(weights, sigma_s * fps).detach().cpu().double().numpy()
    sharp_idx = [ARKIT_INDEX[n] for n in sharp]
    out[:, sharp_idx] = x[:, sharp_idx]
    if fps >= MEDIAN_MIN_FPS:
        padded = np.pad(x[:, sharp_idx], ((1, 1), (0, 0)), mode="edge")
        out[:, sharp_idx] = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), 0)
    return torch.from_numpy(out).to(weights)


def neutral_split(weights: torch.Tensor, open_jaw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """ARKit weights [..., 52] -> (rest [..., 52]: the part a resting face can have (:data:`REST_LIMITS`, lips
    within :data:`REST_LIP_GAP` of meeting), expression [..., 52] = weights - rest, both in 0..1). The expression
    part keeps ``mouthClose <= jawOpen``. ``open_jaw`` (a mouth seen open, :func:`bake_expression`): the lower
    lip's drop is the open mouth's too, none of it rest."""
    limit = torch.ones_like(weights)
    for name, value in REST_LIMITS.items():
        limit[..., ARKIT_INDEX[name]] = 0.0 if open_jaw and name.startswith("mouthLowerDown") else value
    rest = torch.minimum(weights, limit)
    jaw, close = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
    rest[..., jaw] = torch.minimum(weights[..., jaw], weights[..., close] + REST_LIP_GAP)
    return rest, weights - rest


def bake_expression(rig, arkit_weights: torch.Tensor, refit=None, rounds: int = BAKE_ROUNDS):
    """(the rig with the rest part of ``arkit_weights[0]`` [52] (:func:`neutral_split`) applied to its rest vertices,
    ``arkit_weights`` [B, 52] less that part).

    Skinning acts after the blendshapes, so the baked rig posed with the returned weights is the old rig posed with
    ``arkit_weights``, exactly (frame 0; other frames lose the same rest part, clamped to 0..1). A channel the photo
    fitted at the top of its range (browInnerUp 1.0 on brows higher than the body model's highest) wanted more:
    with ``refit`` (baked rig -> the photo's weights [1, 52] fitted anew on it, from the neutral face), such channels
    are refitted on the baked rig and their new weights baked too, up to ``rounds`` times, so that tracking the photo
    again with the rig finds its neutral face there instead of raised brows. A photo whose lips are seen parted
    further than its tracked ``jawOpen`` parts them (by more than :data:`REST_LIP_GAP`) is refitted with the jaw
    opened (``refit(rig, open_jaw=True)``, :func:`photo_jaw`), in every round."""
    open_jaw = False
    if refit is not None:
        opened = refit(rig, open_jaw=True).to(arkit_weights)
        jaw = ARKIT_INDEX["jawOpen"]
        open_jaw = bool(opened[0, jaw] > max(arkit_weights[0, jaw], REST_LIP_GAP) + OPEN_MARGIN)
        arkit_weights = torch.cat([opened, arkit_weights[1:]]) if open_jaw else arkit_weights
    rest, _ = neutral_split(arkit_weights[:1], open_jaw)
    whole = rest >= arkit_weights[:1]                                  # channels baked whole (no rest limit hit)
    rig = replace(rig, vertices=rig.rest_vertices(rest.to(rig.device, rig.dtype))[0])
    left = (arkit_weights - rest.to(arkit_weights)).clamp(0, 1)
    fitted = arkit_weights[:1]
    for _ in range(rounds if refit is not None else 0):
        saturated = whole & (fitted >= SATURATED)
        if not saturated.any():
            break
        fitted = refit(rig, open_jaw).to(arkit_weights)
        more = fitted * saturated
        rig = replace(rig, vertices=rig.rest_vertices(more.to(rig.device, rig.dtype))[0])
        left = torch.cat([fitted - more, left[1:]])
    return rig, left


def refit_expression(posed, landmarks, blendshapes: torch.Tensor, points: torch.Tensor, seen: torch.Tensor,
                     K: torch.Tensor, initial: torch.Tensor, open_jaw: bool = False) -> torch.Tensor:
    """The ARKit weights [B, 52] of B posed frames refitted to their detected face points, the pose held.

    ``posed``: the ``PosedBody`` of the frames with ``initial`` [B, 52] weights; ``landmarks``: a
    :class:`~talkavatar.core.body.landmark_groups.GroupedLandmarks`; ``blendshapes`` [52, V, 3]; ``points`` [B, K, 2]
    and ``seen`` [B, K]: the detected face group (work pixels, weights); ``K`` [3, 3]: the tracking camera's.
    ``open_jaw``: ``jawOpen`` at least :func:`photo_jaw` (the lips' opening made by the jaw).
    """
    index = landmarks.mediapipe_index("face")
    basis = expression_basis(posed.vertex_transforms, *landmarks.vertex_support("face"), blendshapes)
    current = landmarks(posed)["face"]
    base = current - (basis * initial[:, None, None, :].to(basis.dtype)).sum(-1)
    unit = 0.01 * inter_ocular(points, index).clamp_min(1.0)
    region = landmark_weights(index).to(points.device, points.dtype)
    floor = photo_jaw(base, basis, lambda p: project(p, K), points, seen, index) if open_jaw else None
    return fit_expression(base, basis, lambda p: project(p, K), points, seen, region, initial, unit, jaw_floor=floor,
                          ceiling=gaze_ceiling(seen, index))


def photo_refit(joint_rotations: torch.Tensor, root_translation: torch.Tensor, points: torch.Tensor,
                seen: torch.Tensor, K: torch.Tensor):
    """The ``refit`` of :func:`bake_expression` for a photo: (rig, ``open_jaw``) -> its ARKit weights [1, 52] fitted
    anew to the photo's face points from the neutral face with the pose held (``joint_rotations`` [1, 55, 3],
    ``root_translation`` [1, 3]; ``points`` [1, K, 2] and ``seen`` [1, K]: the detected face group; ``K`` [3, 3]: the
    tracking camera's); ``open_jaw``: see :func:`refit_expression`."""
    def refit(rig, open_jaw: bool = False) -> torch.Tensor:
        zeros = torch.zeros(1, len(ARKIT_NAMES))
        posed = rig.pose(joint_rotations, root_translation, zeros)
        return refit_expression(posed, GroupedLandmarks(rig.landmarks), rig.expression_blendshapes, points, seen, K,
                                zeros, open_jaw)
    return refit
