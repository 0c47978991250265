"""The losses of One Shot One Talk §3.3 on the coupled avatar, with GUAVA's face and hand crops.

Input photo: L1 + SSIM + alpha (and the same on face/hand crops, weighted up). Real frames of a clip (fit VIDEO):
the same, plus a perceptual distance, under their refined poses. Pseudo frames: a perceptual
distance only (they are imperfect by nature), after a warm-up. Mesh: normal consistency and a mask loss (a 2D
chamfer distance between the projected surface and the mask's outline) on the deformed mesh (rig + dT), Laplacian
smoothing of dT and dX over the initial connectivity, and ``|dX - Bary(dT)|``. Images are compared in sRGB (what
the photo is), on a random background per step so that alpha must match the mask.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from talkavatar.core.body.rig import pose_mesh
from talkavatar.core.avatar import RigFrame
from talkavatar.core.color import linear_to_srgb, srgb_to_linear
from talkavatar.core.cuda_graphs import GraphedTerms
from talkavatar.core.expression_appearance import local_edges
from talkavatar.core.losses import (face_pairs, gaussian_edges, laplacian_smoothing, mesh_edges,
                                    mesh_gaussian_consistency, normal_consistency, ssim)
from talkavatar.core.silhouette import SilhouetteChamfer, sample_points, surface_samples
from talkavatar.core.skinning import matvec
from talkavatar.core.splats import Gaussians, rasterize
from talkavatar.fit.data import Views
from talkavatar.fit.model import MAX_EXPRESSION_OFFSET, AvatarParameters

SILHOUETTE_SAMPLES = 20000
EXPRESSION_RIDGE = 0.1
# On CUDA, the loss terms of a step (all but the rasterizer, which cannot be captured) run forward and backward as
# CUDA graphs (core.cuda_graphs.GraphedTerms): a fit step is bound by the host's kernel launches (H200: ~870 small
# operations a photo step outside gsplat, ~25 ms). False: op by op, as on the CPU. Off in the tenth session after
# its GPU parity test failed (gradients 0.53 apart against values up to 0.35); the 0.53 was the test's own: it kept
# dT's gradient, which is the mesh graph's buffer, past the next replay (benchmarks/graph_buffers_cpu.py reproduces
# 0.5289 / 0.3528 on the CPU). On again since the eleventh session's H200 run: tests/test_fit_graphs.py passes, the
# astronaut's fast fit graphed 31.68 dB / 0.9580 vs op by op 31.72 / 0.9583 (fit_sweep.py "graphed" / "op by op"),
# photo step 5.05 ms vs 35.5, pseudo step 13.7 vs 53.3 (benchmarks/profile_pipeline.py --sections fit).
GRAPH_TERMS = True
# The pseudo frames' perceptual terms graphed too (with GRAPH_TERMS): their capture is the fit's largest one-time cost
# (the H200 fast astronaut: 4.2-5.5 s with cuDNN, at its first pseudo step), op by op they cost the host ~6 ms a
# pseudo step more than the replay (benchmarks/perceptual_warmup.py; benchmarks/fit_speed.py measures both in a fit).
GRAPH_PERCEPTUAL = True
# The fit's rasters leave the expected depth out (no term reads it): gsplat then rasterizes three channels instead of
# four, the same rgb and alpha, and skips its depth cat and normalisation (H100, astronaut, a pseudo step's raster
# kernels 3.43 -> 3.08 ms; benchmarks/step_profile.py, RESULTS.md, twenty-first session, speed21).
MESH_TERMS = ("normal", "mask", "mgc", "lap_offsets")
ABSENT_LOGIT = -30.0  # the opacity logit of the Gaussians the photo's losses leave out (Objective.pose)
GAUSSIAN_FIELDS = ("means", "quats", "log_scales", "opacity_logit", "rgb")


@dataclass(frozen=True)
class LossWeights:
    """One Shot One Talk §3.4's weights as the starting point (rgb 0.8, ssim 0.1, alpha 0.4, perceptual 0.2,
    normal 0.01, mask 0.1, mgc 10, Laplacian 100 on offsets), tuned on the astronaut (benchmarks/fit_sweep.py): SSIM
    raised to 0.2; mgc and the offsets' Laplacian 10x weaker, since Gaussians are held near the mesh by a hard
    limit instead (:data:`talkavatar.fit.model.MAX_SURFACE_OFFSET`); no Laplacian on colours and scales (they blur
    the input view by ~1.5 dB and gain nothing in new views). Our mask term is a chamfer distance in fractions of
    the image side (:class:`~talkavatar.core.silhouette.SilhouetteChamfer`), not the paper's rendered-mask loss:
    its weight 1 holds the mesh outline within a pixel of the mask."""

    rgb: float = 0.8
    ssim: float = 0.2
    alpha: float = 0.4
    face: float = 0.5  # crop losses relative to the full image (GUAVA: face 0.25, hands 0.1)
    hand: float = 0.3
    perceptual: float = 0.2
    pseudo_alpha: float = 0.1
    normal: float = 0.01
    mask: float = 1.0
    mgc: float = 1.0
    lap_offsets: float = 10.0
    video: float = 1.0  # real frames of a clip: L1, SSIM and alpha as the photo's, times this
    video_perceptual: float = 0.2
    frame_prior: float = 10.0  # mean squared per-frame pose correction (talkavatar.fit.refine)
    expression_prior: float = 1.0  # the expression term's Laplacian over neighbouring face Gaussians + its size
    colour_anchor: float = 1.0  # mean weighted |rgb - initial rgb|^2 (Objective.priors), x --colour-anchor
    solidity: float = 0.3  # mean weighted 1 - opacity (Objective.priors): the unseen body stays opaque

    def scaled(self, pseudo: float, mesh: float, crop: float, video: float = 1.0,
               anchor: float = 0.0) -> "LossWeights":
        return LossWeights(self.rgb, self.ssim, self.alpha, self.face * crop, self.hand * crop,
                           self.perceptual * pseudo, self.pseudo_alpha * pseudo, self.normal * mesh,
                           self.mask * mesh, self.mgc * mesh, self.lap_offsets * mesh, self.video * video,
                           self.video_perceptual * video, self.frame_prior, self.expression_prior,
                           self.colour_anchor * anchor, self.solidity)


def pose_views(params: AvatarParameters, views: Views, frame: RigFrame | None = None):
    """The avatar's Gaussians posed for ``views``: fields [B, N, ...], or [N, ...] when one pose is seen by several
    cameras. ``frame``: the rig's part of these poses, made earlier (:attr:`Objective.photo_frame`)."""
    p = views.poses
    gaussians = params.avatar().pose(p.joint_rotations, p.root_translation, p.arkit_weights, frame=frame)
    if p.joint_rotations.shape[0] == 1 and views.cameras.count > 1:  # one pose seen by several cameras
        gaussians = first_pose(gaussians)
    return gaussians


def first_pose(gaussians):
    """Fields [B, N, ...] -> the first pose's [N, ...] (shared by every camera of a rasterize call). With one pose
    (the fit's photo) a view whose backward copies nothing (an index's backward writes zeros, then the gradient)."""
    fields = {k: getattr(gaussians, k) for k in GAUSSIAN_FIELDS}
    return type(gaussians)(**{k: t.squeeze(0) if t.shape[0] == 1 else t[0] for k, t in fields.items()})


def raster_views(gaussians, views: Views, background_srgb: Tensor, backend: str = "auto"):
    """Posed ``gaussians`` (:func:`pose_views`) seen by the views' cameras -> (rgb sRGB [B, H, W, 3], alpha
    [B, H, W, 1], backend). background_srgb: [B, 3] or [3]."""
    linear, alpha, used = raster_linear(gaussians, views, backend)
    return shade(linear, alpha, background_srgb), alpha, used


def raster_linear(gaussians, views: Views, backend: str = "auto"):
    """Posed ``gaussians`` seen by the views' cameras over black -> (linear rgb [B, H, W, 3], alpha [B, H, W, 1],
    backend): :func:`shade` makes the picture (a graphed loss does that in its graph)."""
    out = rasterize(gaussians, views.cameras, backend=backend, depth=False)
    return out.rgb, out.alpha, out.backend


def shade(linear: Tensor, alpha: Tensor, background_srgb: Tensor) -> Tensor:
    """Linear rgb rendered over black [B, H, W, 3] with its ``alpha`` [B, H, W, 1], over the background (sRGB [3]
    or [B, 3]) -> sRGB [B, H, W, 3]."""
    bg = srgb_to_linear(background_srgb.expand(linear.shape[0], 3))
    return linear_to_srgb(linear + (1 - alpha) * bg[:, None, None, :])


def composite(views: Views, background_srgb: Tensor) -> Tensor:
    """Target images over the background: [B, H, W, 3]."""
    return over(views.rgb, views.mask, background_srgb)


def over(rgb: Tensor, mask: Tensor, background_srgb: Tensor) -> Tensor:
    """Images ``rgb`` [B, H, W, 3] with ``mask`` [B, H, W] over the background [3] or [B, 3]: [B, H, W, 3]."""
    m = mask[..., None]
    return rgb * m + background_srgb.expand(rgb.shape[0], 3)[:, None, None, :] * (1 - m)


def view_losses(linear: Tensor, alpha: Tensor, target_rgb: Tensor, mask: Tensor, background_srgb: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
    """L1, 1 - SSIM and alpha L1 per image, each [B]: the rendering (:func:`raster_linear`'s ``linear`` and
    ``alpha``) over the background against the images ``target_rgb`` [B, H, W, 3] with their ``mask`` [B, H, W]
    over it."""
    rgb, target = shade(linear, alpha, background_srgb), over(target_rgb, mask, background_srgb)
    return ((rgb - target).abs().mean((1, 2, 3)), 1.0 - ssim(rgb, target),
            (alpha[..., 0] - mask).abs().mean((1, 2)))


def perceptual_losses(distance, linear: Tensor, alpha: Tensor, target_rgb: Tensor, mask: Tensor,
                      background_srgb: Tensor) -> tuple[Tensor, Tensor]:
    """The perceptual ``distance`` and the alpha L1 per image, each [B] (arguments as :func:`view_losses`')."""
    rgb, target = shade(linear, alpha, background_srgb), over(target_rgb, mask, background_srgb)
    return distance(rgb, target), (alpha[..., 0] - mask).abs().mean((1, 2))


_shared_terms: dict[tuple, GraphedTerms] = {}  # (site, id(distance), graphed) -> its graphed image terms


def image_terms_graph(site: str, distance=None) -> GraphedTerms:
    """The graphed image terms of call site ``site`` ("photo image", "crops": :func:`view_losses`; "pseudo
    perceptual": :func:`perceptual_losses` of ``distance``), one per site, distance and process. They read nothing
    but their arguments, so a later fit in the process (a batch worker's) replays their captures (one per shape;
    the perceptual one took 2-4 s on the H200, the fit's stall at its first pseudo step). A graph whose capture
    failed is not handed out again: its next user captures afresh."""
    graphed = GRAPH_TERMS and (distance is None or GRAPH_PERCEPTUAL)
    key = (site, id(distance), graphed)  # a distance lives on in its graph's function: its id stays its own
    if key not in _shared_terms or _shared_terms[key].failure:
        fn = view_losses if distance is None else functools.partial(perceptual_losses, distance)
        _shared_terms[key] = GraphedTerms(fn, graphed)
    return _shared_terms[key]


class Objective:
    """Precomputed connectivity and silhouette samples for one avatar; :meth:`photo_terms`, :meth:`pseudo_terms`,
    :meth:`mesh_terms` return named, unweighted loss terms (scalars)."""

    def __init__(self, params: AvatarParameters, photo: Views, seed: int = 0, pseudo: Views | None = None):
        rig, binding = params.rig, params.binding
        self.faces = rig.faces
        self.edges = mesh_edges(rig.faces)
        self.pairs = face_pairs(rig.faces)
        self.gaussian_edges = gaussian_edges(binding.texel, binding.face_index, rig.faces, binding.uv_res)
        face_index, bary = surface_samples(rig.vertices, rig.faces, SILHOUETTE_SAMPLES, seed)
        left_out = torch.zeros(len(rig.faces), dtype=torch.bool, device=face_index.device)
        left_out[binding.face_index[params.off_photo].to(face_index.device)] = True
        kept = ~left_out[face_index]  # the mask's chamfer does not pull what the photo's losses leave out
        self.samples = (face_index[kept], bary[kept])
        self.outline = SilhouetteChamfer(photo.mask[0])
        self.expression_edges = (None if params.expression_index is None else
                                 local_edges(self.gaussian_edges, params.expression_index, binding.count))
        p = photo.poses
        fixed = not any(t is not None and t.requires_grad for t in (p.joint_rotations, p.root_translation,
                                                                       p.arkit_weights))
        with torch.no_grad():  # the photo's pose is data: the rig is posed for it once, not every step
            self.photo_frame = (params.avatar().rig_frame(p.joint_rotations, p.root_translation, p.arkit_weights)
                                if fixed else None)
            # the silhouette samples of the rig (dT = 0) in that pose, [S, 3]
            self.photo_samples = (None if self.photo_frame is None else
                                  sample_points(self.photo_frame.vertices[0], self.faces, *self.samples))
            # the pseudo frames' poses are data too: their rig frames, made once (a step picks some of them)
            q = None if pseudo is None else pseudo.poses
            self.pseudo_frames = None if q is None else params.avatar().rig_frame(q.joint_rotations,
                                                                                  q.root_translation, q.arkit_weights)
        self.backend = ""  # the rasterizer backend the photo terms last ran on (as rasterize() reports it)
        self.photo, self.pseudo, self.rig, self.binding = photo, pseudo, rig, binding
        # graphed terms by call site: a graph called twice in a step would overwrite what the first backward needs
        self._graphs: dict[tuple, GraphedTerms] = {}

    def _project_mesh(self, vertex_offsets: Tensor) -> Tensor:
        """The silhouette samples of the deformed mesh (rig + dT) in the photo's pose, in pixels: [S, 2].

        With the photo's pose fixed (:attr:`photo_frame`), skinning is linear in the rest vertices: the samples are
        the rig's posed samples plus dT turned by each vertex's blended LBS rotation (the same numbers as posing
        rig + dT, without the rig's forward kinematics and skinning every step: :func:`posed_mesh_samples`)."""
        if self.photo_frame is not None:
            turned = matvec(self.photo_frame.vertex_transforms[0, :, :, :3], vertex_offsets)
            points = self.photo_samples + sample_points(turned, self.faces, *self.samples)
        else:
            points = posed_mesh_samples(self.rig, vertex_offsets, self.photo.poses, self.faces, self.samples)
        return self.photo.cameras.project(points)[0][0]

    def pose(self, params: AvatarParameters, pick: Tensor | None = None) -> Gaussians:
        """The avatar's Gaussians posed for the photo (``pick`` None; without ``params.off_photo``'s: transparent, so
        its losses and its crops' neither see nor thin them) or for the pseudo frames ``pick`` [K] given at set-up,
        on their kept rig frames: fields [1 or K, N, ...], as :func:`pose_views`; graphed on CUDA."""
        names = tuple(name for name, _ in params.named_parameters())
        kept = self.photo_frame is not None if pick is None else self.pseudo_frames is not None
        site = ("photo pose" if pick is None else "pseudo pose", names)
        posing = self._graphed(site, functools.partial(self._pose_fields, params, names), kept)
        args = tuple(getattr(params, k) for k in names) + (() if pick is None else (pick,))
        return Gaussians(**dict(zip(GAUSSIAN_FIELDS, posing(*args))))

    def graph_status(self) -> dict[str, str]:
        """Each call site's :meth:`GraphedTerms.status` (what ran as CUDA graphs), by name."""
        return {" ".join(str(part) for part in site if not isinstance(part, (tuple, int))): graphed.status()
                for site, graphed in self._graphs.items()}

    def _graphed(self, site: tuple, fn, capturable: bool = True) -> GraphedTerms:
        """The graphed ``fn`` of call site ``site`` (made on its first call; graphed where ``capturable``)."""
        if site not in self._graphs:
            self._graphs[site] = GraphedTerms(fn, GRAPH_TERMS and capturable)
        return self._graphs[site]

    def _shared(self, site: tuple, distance=None) -> GraphedTerms:
        """Call site ``site``'s image terms, the process's (:func:`image_terms_graph`)."""
        if site not in self._graphs:
            self._graphs[site] = image_terms_graph(site[0], distance)
        return self._graphs[site]

    def _pose_fields(self, params: AvatarParameters, names: tuple[str, ...], *args: Tensor) -> tuple[Tensor, ...]:
        """:meth:`pose`'s fields from the trainables ``args`` (``names``), then the pseudo frames' pick if any."""
        stand_ins, pick = dict(zip(names, args)), args[len(names):]
        if pick:
            q, frame = self.pseudo.poses, self.pseudo_frames.select(pick[0])
            p = (q.joint_rotations[pick[0]], q.root_translation[pick[0]], q.arkit_weights[pick[0]])
        else:
            q, frame = self.photo.poses, self.photo_frame
            p = (q.joint_rotations, q.root_translation, q.arkit_weights)
        g = params.avatar(**stand_ins).pose(*p, frame=frame)
        if not pick:  # the photo shows something else where it leaves Gaussians out (fit.visibility.off_photo)
            g = replace(g, opacity_logit=g.opacity_logit.masked_fill(params.off_photo, ABSENT_LOGIT))
        return tuple(getattr(g, k) for k in GAUSSIAN_FIELDS)

    def image_terms(self, params: AvatarParameters, views: Views, background: Tensor, prefix: str,
                    backend: str = "auto", posed=None) -> dict[str, Tensor]:
        """L1, SSIM and alpha of ``views``; ``posed``: their Gaussians already posed (:func:`pose_views`)."""
        posed = pose_views(params, views) if posed is None else posed
        linear, alpha, self.backend = raster_linear(posed, views, backend)
        losses = self._shared((f"{prefix} image",))
        l1s, ssims, alphas = losses(linear, alpha, views.rgb, views.mask, background)
        return {f"{prefix}_l1": l1s.mean(), f"{prefix}_ssim": ssims.mean(), f"{prefix}_alpha": alphas.mean()}

    def crop_terms(self, params: AvatarParameters, crops: Views, names: tuple[str, ...], background: Tensor,
                   backend: str = "auto", posed=None) -> dict[str, Tensor]:
        """L1, SSIM and alpha of each face/hand crop (rendered together, one camera per crop). ``posed``: the
        Gaussians in the crops' one pose, fields [N, ...] (posed once for the photo and its crops), else posed
        here."""
        posed = pose_views(params, crops) if posed is None else posed
        linear, alpha, _ = raster_linear(posed, crops, backend)
        losses = self._shared(("crops",))
        l1s, ssim_losses, alphas = losses(linear, alpha, crops.rgb, crops.mask, background)
        terms = {}  # unbound (views; an index per crop and term would cost zeros and a copy each in the backward)
        for name, l1, ssim_loss, alpha_loss in zip(names, l1s.unbind(), ssim_losses.unbind(), alphas.unbind()):
            terms[f"{name}_l1"], terms[f"{name}_ssim"], terms[f"{name}_alpha"] = l1, ssim_loss, alpha_loss
        return terms

    def pseudo_terms(self, params: AvatarParameters, views: Views, background: Tensor, distance,
                     backend: str = "auto", pick: Tensor | None = None) -> dict[str, Tensor]:
        """The perceptual distance and alpha of pseudo frames ``views``: the frames ``pick`` [K] of those given at
        set-up (posed on their kept rig frames), or any others (``pick`` None: posed here)."""
        posed = pose_views(params, views) if pick is None or self.pseudo_frames is None else self.pose(params, pick)
        linear, alpha, _ = raster_linear(posed, views, backend)
        losses = self._shared(("pseudo perceptual", id(distance)), distance)
        perceptual, alphas = losses(linear, alpha, views.rgb, views.mask, background)
        return {"pseudo_perceptual": perceptual.mean(), "pseudo_alpha": alphas.mean()}

    def video_terms(self, params: AvatarParameters, frames: Views, background: Tensor, distance,
                    backend: str = "auto") -> dict[str, Tensor]:
        """Real frames of the person (each under its refined pose): L1, SSIM and alpha as on the photo, and the
        perceptual distance when ``distance`` is given."""
        linear, alpha, _ = raster_linear(pose_views(params, frames), frames, backend)
        losses = self._graphed(("video",), view_losses)
        l1s, ssims, alphas = losses(linear, alpha, frames.rgb, frames.mask, background)
        terms = {"video_l1": l1s.mean(), "video_ssim": ssims.mean(), "video_alpha": alphas.mean()}
        if distance is not None:
            losses = self._graphed(("video perceptual", id(distance)), functools.partial(perceptual_losses, distance))
            perceptual, _ = losses(linear, alpha, frames.rgb, frames.mask, background)
            terms["video_perceptual"] = perceptual.mean()
        return terms

    def priors(self, params: AvatarParameters) -> dict[str, Tensor]:
        """The colour anchor and the solidity prior (graphed together on CUDA: a handful of small operations each,
        forward and backward, one replay instead of ~20 launches a step).

        Colour anchor: the mean squared distance of rgb from the initial rgb (linear), per Gaussian times its
        ``anchor_weight`` (1 where the photo does not see it, 0 where it sees it squarely and on the head:
        :mod:`talkavatar.fit.visibility`):
        the completed texture's colours are the prior of what the photo does not constrain. Adam scales every step to
        the same size, so a Gaussian behind the face in the photo, or one only a perceptual distance on pseudo frames
        sees, takes full steps on its tiny gradients and turns into green, red and yellow blobs (side_45, tiny fit);
        the face stays free to learn (an unweighted anchor blurred the tiny demo's face). Squared: a small correction
        costs little, a blob much.

        Solidity: the mean of 1 - opacity per Gaussian times its ``solid_weight`` (1 - how squarely the photo sees
        it, 0 on the head: :mod:`talkavatar.fit.visibility`): the body is opaque where the photo does not say
        otherwise. A Gaussian the photo hardly sees gets only tiny, noisy opacity gradients (pseudo frames' alpha
        and perceptual distance), which Adam scales to full steps: without this, 40 % of the tiny astronaut's
        Gaussians ended below 0.9 opacity and its new views had 8.8 % holes (alpha < 0.98 inside the mesh's
        silhouette). The head is left to the photo and its face crop (with it held too, the tiny demo's face was
        found by an independent FaceMesh in 15 % of the frames). Weight 0.3: tiny astronaut max hole 3.5 %, demo
        face check 100 %; weight 1: 3.4 % but 94.7 % of the frames (RESULTS.md, present4)."""
        values = self._graphed(("priors",), _prior_values)(params.rgb, params.opacity_logit, params.initial_rgb,
                                                           params.anchor_weight, params.solid_weight)
        return dict(zip(("colour_anchor", "solidity"), values))

    def mesh_terms(self, params: AvatarParameters) -> dict[str, Tensor]:
        """Normal consistency, the mask's chamfer, ``|dX - Bary(dT)|``, the Laplacians of dX and dT (and the
        expression term's prior, where the avatar has one): :meth:`_mesh_values_of` of the parameters."""
        names, tensors = MESH_TERMS, (params.offsets, params.vertex_offsets)
        if self.expression_edges is not None:
            names, tensors = names + ("expression_prior",), tensors + (params.expression_rgb,
                                                                       params.expression_offsets)
        # the photo's pose changes between steps only when it is learned: the mesh terms read it then
        values = self._graphed(("mesh",), self._mesh_values_of, self.photo_frame is not None)(*tensors)
        return dict(zip(names, values))

    def _mesh_values_of(self, offsets: Tensor, vertex_offsets: Tensor, *expression: Tensor) -> tuple[Tensor, ...]:
        """The values of :data:`MESH_TERMS` for dX [N, 3] and dT [V, 3] (and with ``expression`` = the expression
        term's rgb and offsets [M, C, 3], its prior last)."""
        b, cam = self.binding, self.photo.cameras
        values = (normal_consistency((self.rig.vertices + vertex_offsets)[None], self.faces, self.pairs),
                  self.outline.loss(self._project_mesh(vertex_offsets)) / max(cam.width, cam.height),
                  mesh_gaussian_consistency(offsets, vertex_offsets, self.faces, b.face_index, b.barycentrics),
                  laplacian_smoothing(offsets, self.gaussian_edges) + laplacian_smoothing(vertex_offsets, self.edges))
        if not expression:
            return values
        rgb, shift = expression
        return values + (expression_prior(torch.cat([rgb, shift / MAX_EXPRESSION_OFFSET], -1).flatten(1),
                                          self.expression_edges),)


def _prior_values(rgb: Tensor, opacity_logit: Tensor, initial_rgb: Tensor, anchor_weight: Tensor,
                  solid_weight: Tensor) -> tuple[Tensor, Tensor]:
    """(colour anchor, solidity) of rgb [N, 3] and opacity_logit [N] with their weights [N] and the initial rgb
    [N, 3] (:meth:`Objective.priors`)."""
    return ((anchor_weight[:, None] * (rgb - initial_rgb).pow(2)).sum(-1).mean(),
            (solid_weight * (1 - torch.sigmoid(opacity_logit))).mean())


def posed_mesh_samples(rig, vertex_offsets: Tensor, p, faces: Tensor, samples) -> Tensor:
    """The surface samples (``samples``: :func:`surface_samples`) of the deformed mesh (``rig`` + dT
    ``vertex_offsets`` [V, 3]) posed by the first of poses ``p``: [S, 3]; the reference of
    :meth:`Objective._project_mesh`'s shortcut."""
    rest = rig.rest_vertices(p.arkit_weights) + vertex_offsets
    posed = pose_mesh(rig.tree, rest, rig.joints, rig.rest_to_canonical, rig.dense_skin_weights, rig.bone_driver,
                      rig.bone_driver_fraction, rig.canonical_joint_bone, p.joint_rotations, p.root_translation)
    return sample_points(posed.vertices[0], faces, *samples)


def expression_prior(basis: Tensor, edges: Tensor) -> Tensor:
    """The expression term's prior: its Laplacian over neighbouring face Gaussians (``edges`` [E, 2]) plus
    :data:`EXPRESSION_RIDGE` times its mean squared size per Gaussian; ``basis`` [M, C * 6] (colour and offset per
    channel, the offsets in units of their limit). What few real frames do not clearly show stays near zero: with the
    Laplacian alone, 6 frames of a clip taught colour speckles round the eyes."""
    return laplacian_smoothing(basis, edges) + EXPRESSION_RIDGE * basis.pow(2).sum(-1).mean()


def weighted_total(terms: dict[str, Tensor], w: LossWeights) -> Tensor:
    """Sum of the (scalar) terms with their weights (face crops weighted by ``w.face``, hand crops by ``w.hand``;
    terms of weight 0 left out): the stacked terms times their weights, three kernels on a GPU instead of a
    multiplication and an addition per term."""
    names = tuple(name for name in terms if term_weight(name, w))
    if not names:
        raise ValueError("no loss term has a weight")
    values = torch.stack([terms[name] for name in names])
    return values @ _weight_vector(names, w, values.dtype, values.device)


@functools.lru_cache(maxsize=64)
def _weight_vector(names: tuple[str, ...], w: LossWeights, dtype: torch.dtype, device: torch.device) -> Tensor:
    """[len(names)] the weights of ``names`` on ``device`` (made once per set of terms: an upload per step would
    be a host-to-device copy per step)."""
    return torch.tensor([term_weight(name, w) for name in names], dtype=dtype).to(device)


def term_weight(name: str, w: LossWeights) -> float:
    """The weight of the term ``name`` in :func:`weighted_total`."""
    table = {"photo_l1": w.rgb, "photo_ssim": w.ssim, "photo_alpha": w.alpha,
             "pseudo_perceptual": w.perceptual, "pseudo_alpha": w.pseudo_alpha, "colour_anchor": w.colour_anchor,
             "solidity": w.solidity,
             "normal": w.normal, "mask": w.mask,
             "mgc": w.mgc, "lap_offsets": w.lap_offsets, "video_l1": w.rgb * w.video, "video_ssim": w.ssim * w.video,
             "video_alpha": w.alpha * w.video, "video_perceptual": w.video_perceptual, "frame_prior": w.frame_prior,
             "expression_prior": w.expression_prior}
    if name in table:
        return table[name]
    crop, kind = name.rsplit("_", 1)  # "<crop>_l1", "<crop>_ssim", "<crop>_alpha"
    crop_weights = {"face": w.face, "left_hand": w.hand, "right_hand": w.hand}
    return crop_weights[crop] * {"l1": w.rgb, "ssim": w.ssim, "alpha": w.alpha}[kind]
