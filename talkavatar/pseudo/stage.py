"""The pseudo stage: the person rendered in library poses, expressions and views (writes ``pseudo/``).

Reads ``source/image.png`` and ``track/`` (params, rig, mask). The reproject generator:
1. proxy surface: the tracked body plus smooth clothing offsets fitted to the person mask (:mod:`proxy`);
2. inverse texture mapping of the photo through the tracked camera (:mod:`texture`), completion of unseen texels
   (:mod:`complete`) and the mouth interior's known colours (:mod:`talkavatar.core.body.mouth`);
3. frames: library poses (:mod:`talkavatar.motion.library.sampling`) around the tracked root, orbit views
   (:mod:`views`), rendered by :mod:`render`.
``import_videos`` adds re-tracked frames of other videos (origin 1, :mod:`importer`); ``export_poses`` writes the
driving poses as skeleton frames for external tools (:mod:`export`).

Everything that can fail on the user's input is checked before the bundle is touched; the stage writes
transactionally, so a failure leaves the bundle as it was.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import torch

from talkavatar.bundle import Bundle, artifacts
from talkavatar.config import as_record
from talkavatar.core.binding import Binding
from talkavatar.core.body.mouth import (lip_region_faces, lips_over_opening, mouth_colours, mouth_texels,
                                         with_mouth_interior)
from talkavatar.core.body.facing import PROFILE_YAW, face_yaw
from talkavatar.core.body.landmarks import FACE_OVAL
from talkavatar.core.body.parts import PART, hidden_parts, texel_parts, vertex_parts
from talkavatar.core.body.rig import Rig
from talkavatar.core.cameras import Cameras
from talkavatar.core.hand_cover import hand_region
from talkavatar.core.losses import psnr
from talkavatar.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from talkavatar.core.threads import few_or_all_threads
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.motion.library.sampling import SampledPoses, sample_poses
from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES
from talkavatar.progress import progress
from talkavatar.pseudo.complete import complete_texture, mirror_texels
from talkavatar.pseudo.config import PseudoConfig
from talkavatar.pseudo.contact import contact_sheet
from talkavatar.pseudo.export import export_pose_frames
from talkavatar.pseudo.importer import Retrack, imported_clip
from talkavatar.pseudo.matte import background_leak
from talkavatar.pseudo.proxy import fit_proxy
from talkavatar.pseudo.render import FrameRenderer, choose_renderer
from talkavatar.pseudo.texture import EDGE_PIXELS, inner_pixels, project_texture
from talkavatar.pseudo.views import frame_focal, orbit_cameras, sample_view_angles
from talkavatar.runner import Computed, StageContext, run_stage, stderr_log, stderr_warn

Log = Callable[[str], None]
FACE_MARGIN = 0.04  # the face oval's outline band, share of its height, that does not count as the face (jaw texels)
INPUTS = (artifacts.SOURCE_IMAGE, artifacts.TRACK_PARAMS, artifacts.TRACK_RIG, artifacts.TRACK_MASK)


@dataclass(frozen=True)
class PseudoResult:
    bundle: Path
    frames: int
    imported: int
    renderer: str
    psnr_input_view: float | None
    seconds: float
    psnr_input_view_covered: float | None = None
    input_view_coverage: float | None = None
    exported: str | None = None
    skipped: bool = False
    metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"bundle": str(self.bundle), "frames": self.frames, "imported_frames": self.imported,
                "renderer": self.renderer, "psnr_input_view_db": self.psnr_input_view,
                "psnr_input_view_covered_db": self.psnr_input_view_covered,
                "input_view_mask_coverage": self.input_view_coverage,
                "proxy_mask_iou": self.metrics.get("proxy", {}).get("mask_iou_proxy"), "seconds": self.seconds,
                "exported": self.exported, "skipped": self.skipped}


@dataclass
class PhotoView:
    """What the stage reads from the bundle: the photo and its tracked pose, camera, mask and rig."""

    image: np.ndarray        # [H, W, 3] uint8 sRGB
    mask: np.ndarray         # [H, W] bool
    joint_rotations: object  # torch [1, 55, 3]
    root_translation: object  # torch [1, 3]
    arkit_weights: object    # torch [1, 52]
    shape: np.ndarray
    camera: object           # Cameras, one
    rig: object              # Rig with the mouth interior
    hidden: tuple = ()       # body parts the detector did not see (core.body.parts.hidden_parts)
    face_xy: np.ndarray | None = None  # [478, 2] Face Mesh pixels of the photo, None without a face
    hands_xy: tuple = ()     # [21, 2] pixels of each hand MediaPipe found in the photo


def read_photo_view(bundle, warn: Log = stderr_warn) -> PhotoView:
    """The bundle's photo view (:func:`talkavatar.bundle.artifacts.read_photo_view`) as tensors, with its rig."""
    photo = artifacts.read_photo_view(bundle, by="pseudo")
    rig = Rig.from_tensors(*artifacts.read_rig(bundle))
    h, w = photo.image.shape[:2]
    camera = Cameras(torch.from_numpy(photo.world_to_camera[None]), torch.from_numpy(photo.intrinsics[None]), w, h)
    try:
        rig = with_mouth_interior(rig)  # bundles tracked before the mouth interior existed get it here
    except ValueError as e:
        warn(f"no mouth interior: {e}")
    detections = artifacts.read_detections(bundle)
    hidden, face, hands = (), None, ()
    if detections is not None:
        hidden = tuple(hidden_parts(detections["body"][photo.frame], detections["body_visibility"][photo.frame], w, h))
        if detections["face_present"][photo.frame]:
            face = detections["face"][photo.frame][:, :2].astype(np.float64)
        hands = tuple(artifacts.detected_hands(detections, photo.frame))
    return PhotoView(photo.image, photo.mask > 127, *(torch.from_numpy(a) for a in photo.poses()),
                     photo.params.shape, camera, rig, hidden, face, hands)


@dataclass(frozen=True)
class TextureInputs:
    """What the texture takes from the photo and the rig alone (the proxy's offsets change none of it): the UV
    ``binding``, each texel's mouth colour id ``mouth`` [N] (-1: none, :func:`mouth_texels`), body ``parts`` [N]
    (:func:`texel_parts`), ``lips`` [N] bool (texels of the lips' faces), ``mirror`` (:func:`mirror_texels`: each
    texel's mirror texel [N, 2] and whether it has one [N]), the photo's ``leak`` [H, W] bool
    (:func:`background_leak` with the face oval protected) and the :func:`inner_pixels` [2, H, W] of the mask less
    the leak (a profile's leak and inner pixels are made again without the face oval)."""

    binding: Binding
    mouth: torch.Tensor
    parts: np.ndarray
    lips: torch.Tensor
    mirror: tuple[torch.Tensor, torch.Tensor]
    leak: np.ndarray
    inner: np.ndarray


def texture_inputs(view: PhotoView, uv_res: int) -> TextureInputs:
    """:class:`TextureInputs` of ``view`` at UV resolution ``uv_res`` (the stage makes them beside the proxy fit)."""
    rig = view.rig
    binding = Binding.from_uv(rig.face_uvs, uv_res)
    leak = background_leak(view.image, view.mask, view.face_xy)
    return TextureInputs(binding, mouth_texels(rig, binding.face_index),
                         texel_parts(rig, binding.face_index, binding.barycentrics),
                         lip_region_faces(rig).cpu()[binding.face_index], mirror_texels(rig, binding), leak,
                         inner_pixels(view.mask & ~leak, EDGE_PIXELS))


def make_texture(view: PhotoView, offsets, uv_res: int, raster_device="cpu",
                 inputs: TextureInputs | None = None) -> tuple[np.ndarray, dict]:
    """The completed UV texture [R, R, 3] float sRGB 0..1 of the proxy, and the completion figures (the photo's
    z-buffer drawn, the texture completed and its UV gutter filled on ``raster_device``); ``inputs``: the view's
    :func:`texture_inputs` at ``uv_res`` when already made."""
    rig = view.rig
    inputs = texture_inputs(view, uv_res) if inputs is None else inputs
    binding, leak, parts, inner = inputs.binding, inputs.leak, inputs.parts, inputs.inner
    proxy = replace(rig, vertices=rig.vertices + offsets)
    posed = proxy.pose(view.joint_rotations, view.root_translation, view.arkit_weights)
    image = torch.from_numpy(view.image.astype(np.float32) / 255)
    yaw = face_yaw(rig, posed, view.camera)
    if yaw is not None and abs(yaw) > PROFILE_YAW and view.face_xy is not None:
        # Face Mesh reads a profile as a frontal face on the near cheek: no face oval to protect, nor to cut at
        view = replace(view, face_xy=None)
        leak, inner = background_leak(view.image, view.mask, None), None
    seen = project_texture(posed.vertices[0], rig.faces, binding, view.camera, image, view.mask & ~leak,
                           raster_device=raster_device, inner=inner)
    part = inputs.mouth
    rgb, conf = seen.rgb.clone(), seen.confidence.clone()
    if view.hidden:  # legs the fit folded into the picture behind an object: what they "see" is that object
        unseen = torch.from_numpy(np.isin(parts, view.hidden))
        rgb[unseen], conf[unseen] = 0.0, 0.0
    behind = torch.zeros(len(conf), dtype=torch.bool)
    if view.hands_xy:  # what lies behind a hand (a forehead under it) sees the hand: only the arm takes its colours
        behind = _in_region(hand_region(view.hands_xy, *view.mask.shape), seen.pixel)
        behind &= ~torch.from_numpy(np.isin(parts, [PART["hand"], PART["forearm"]]))
        rgb[behind], conf[behind] = 0.0, 0.0
    inside = part >= 0
    rgb[inside] = mouth_colours()[part[inside]].to(rgb)
    lips = inputs.lips & ~inside & (conf > 0)
    over = lips_over_opening(lips, seen.pixel, view.face_xy)
    if over.any() and (lips & ~over).any():  # lips that see the photo's open mouth take the lips' colour
        rgb[over] = rgb[lips & ~over].median(0).values
        inside |= over
    conf[inside] = 1.0
    texture, stats = complete_texture(rig, proxy.vertices, binding, rgb, conf, given=inside,
                                      off_face=_off_face(view, seen.pixel), behind_hand=behind, face_yaw=yaw,
                                      device=raster_device, parts=parts, mirror=inputs.mirror)
    stats["matte_leak"] = round(float(leak.sum() / max(view.mask.sum(), 1)), 4)
    stats["behind_hands"] = int(behind.sum())
    stats["mouth_texels"] = int(inside.sum())
    stats["unfilled_texels"] = int(np.isnan(texture).any(-1).sum())
    return texture, stats


def _in_region(region: np.ndarray, pixels: torch.Tensor) -> torch.Tensor:
    """[N] bool: texels whose pixel [N, 2] (x, y) lies inside ``region`` [H, W] bool."""
    h, w = region.shape
    col, row = pixels[:, 0].floor().long(), pixels[:, 1].floor().long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = torch.zeros(len(pixels), dtype=torch.bool)
    out[inside] = torch.from_numpy(region)[row[inside], col[inside]]
    return out


def _off_face(view: PhotoView, pixels: torch.Tensor) -> torch.Tensor | None:
    """[N] bool: texels whose pixel [N, 2] lies below the photo's face oval (shrunk by FACE_MARGIN of its height:
    its outline mixes the jaw with the neck's shadow and the collar): a chin texel there sees the neck or the
    collar. Beside the oval (a turned head's ear, the hair over the jaw) counts as seen. None without a face."""
    if view.face_xy is None:
        return None
    h, w = view.mask.shape
    oval = np.zeros((h, w), np.uint8)
    points = view.face_xy[list(FACE_OVAL)]
    cv2.fillPoly(oval, [np.round(points).astype(np.int32)], 1)
    margin = int(round(FACE_MARGIN * np.ptp(points[:, 1])))
    if margin > 0:
        oval = cv2.erode(oval, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)))
    rows = np.arange(h)[:, None] * oval
    lowest = np.where(oval.any(0), rows.max(0), h)  # [W] the oval's lowest row per column (h: no oval there)
    col, row = pixels[:, 0].floor().long(), pixels[:, 1].floor().long()
    inside = (col >= 0) & (col < w)
    below = torch.zeros(len(pixels), dtype=torch.bool)
    below[inside] = row[inside] > torch.from_numpy(lowest)[col[inside]]
    return below


def psnr_in_mask(rendered: np.ndarray, photo: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) of two uint8 images [H, W, 3] over the pixels of ``mask`` [H, W] bool (the core's
    :func:`~talkavatar.core.losses.psnr`: +inf if identical there, nan for an empty mask)."""
    def batch(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float64)[None]

    return float(psnr(batch(rendered), batch(photo), batch(mask), data_range=255.0)[0])


def sample_frames(view: PhotoView, offsets, config: PseudoConfig, poses: SampledPoses | None = None):
    """Library poses around the tracked root and orbit cameras -> (joint_rotations [N, 55, 3], root_translation
    [N, 3], arkit_weights [N, 52], Cameras, sources); ``poses``: the config's :func:`sample_poses` when already
    drawn."""
    n = config.frames
    if n == 0:
        return torch.zeros(0, 55, 3), torch.zeros(0, 3), torch.zeros(0, 52), None, []
    if poses is None:
        poses = sample_poses(n, config.seed, pitch_degrees=config.root_pitch, yaw_degrees=config.root_yaw)
    jr = torch.from_numpy(poses.joint_rotations).float()
    base = axis_angle_to_matrix(view.joint_rotations[0, 0].float())
    jr[:, 0] = matrix_to_axis_angle(axis_angle_to_matrix(jr[:, 0]) @ base)
    rt = view.root_translation.float().expand(n, 3).clone()
    aw = torch.from_numpy(poses.arkit_weights).float()
    proxy = replace(view.rig, vertices=view.rig.vertices + offsets)
    photo_posed = proxy.pose(view.joint_rotations, view.root_translation, view.arkit_weights).vertices[0]
    pixels, depth = view.camera.project(photo_posed)
    w, h = view.camera.width, view.camera.height
    shown = (pixels[0, :, 0] >= 0) & (pixels[0, :, 0] < w) & (pixels[0, :, 1] >= 0) & (pixels[0, :, 1] < h) & \
        (depth[0] > 0)
    if not shown.any():
        shown[:] = True
    # the photo's framing: the point of its central ray at the depth of what it shows, carried by the vertex
    # nearest to it (a fixed world offset from that vertex), so the frames follow the body as the photo framed it
    depth_shown = float(depth[0, shown].median())
    centre_ray = view.camera.pixel_rays()[1][0, h // 2, w // 2]
    target = view.camera.centers[0] + centre_ray * depth_shown
    anchor = int(torch.argmin((photo_posed - target).norm(dim=1) + (~shown).float() * 1e3))
    offset = target - photo_posed[anchor]
    focus, bodies = [], []
    for start in range(0, n, 32):
        posed = proxy.pose(jr[start:start + 32], rt[start:start + 32], aw[start:start + 32])
        focus.append(posed.vertices[:, anchor] + offset)
        bodies.append(posed.vertices[:, ::4])  # every 4th vertex: dense enough to keep cameras clear of the body
    focus = torch.cat(focus) if focus else torch.zeros(0, 3)
    yaw, pitch = sample_view_angles(n, config.seed, config.side_views)
    focal = frame_focal(float(view.camera.K[0, 0, 0]), (w, h), config.size)
    cameras = orbit_cameras(focus, view.camera.centers[0], yaw, pitch, focal, config.size,
                            torch.cat(bodies)) if n else None
    return jr, rt, aw, cameras, poses.sources


def run_pseudo(bundle_path: Path, config: PseudoConfig = PseudoConfig(), *, device: str | None = None,
               force: bool = False, export_poses: Path | None = None, import_videos: Sequence[Path] = (),
               retrack: Retrack | None = None, progress: Log = stderr_log, warn: Log = stderr_warn) -> PseudoResult:
    """Make ``pseudo/`` in the bundle at ``bundle_path`` (see the module docstring).

    ``import_videos`` are re-tracked by ``retrack`` (the pipeline passes the track stage's), only when the stage
    is not up to date."""
    if export_poses is not None and config.frames == 0:
        raise UsageError("--export-poses needs frames to export", tip="pass --frames N with N > 0")
    bundle = Bundle.open(Path(bundle_path))
    bundle.require("track", by="pseudo")
    videos = [Path(v).resolve() for v in import_videos]
    for v in videos:
        if not v.is_file():
            raise InvalidInput(f"{v}: no such video file", tip="check the --import-video path")
    if videos and retrack is None:
        raise ValueError("import_videos needs a retrack function (talkavatar.pseudo() passes the track stage's)")
    record = {**as_record(config), "import_videos": [str(v) for v in videos]}
    ctx = StageContext(device, progress, warn)

    def compute(ctx: StageContext) -> Computed:
        return _generate(bundle, config, videos, retrack, export_poses, ctx)

    done = run_stage(bundle, "pseudo", record, compute, ctx, force=force or export_poses is not None,
                     upstream=("track",))
    m = done.record.get("metrics", {})
    return PseudoResult(bundle.root, m.get("frames", 0), m.get("imported_frames", 0), done.record.get("backend", ""),
                        m.get("psnr_input_view_db"), round(done.seconds, 2), m.get("psnr_input_view_covered_db"),
                        m.get("input_view_mask_coverage"), done.value,
                        skipped=done.skipped, metrics=m)


def _generate(bundle, config: PseudoConfig, videos: list[Path], retrack: Retrack | None, export_poses: Path | None,
              ctx: StageContext) -> Computed:
    view = read_photo_view(bundle, ctx.warn)
    imported = []
    if videos:  # the user's inputs first: an unreadable video fails before any work
        with ctx.timed("import_retrack"):
            imported = [imported_clip(clip, config.size) for clip in retrack(view.shape, ctx.device, ctx.log)]
    # small-tensor work: one thread on few cores, all on many; beside the proxy fit, a side thread makes what needs
    # only the photo and the rig (the texture's share, the library poses: cv2, scipy, torch and numpy release the GIL)
    with torch.no_grad(), few_or_all_threads(), ThreadPoolExecutor(1) as side:
        inputs = side.submit(texture_inputs, view, config.uv_res)
        poses = side.submit(sample_poses, config.frames, config.seed, pitch_degrees=config.root_pitch,
                            yaw_degrees=config.root_yaw)
        offsets, texture, proxy_stats, texture_stats, renderer = _surface(view, config, ctx, inputs)
        psnr, psnr_covered, covered = _input_view(view, renderer, ctx)
        with ctx.timed("sample"):
            jr, rt, aw, cameras, sources = sample_frames(view, offsets, config, poses.result())
        frames = _render_frames(renderer, jr, rt, aw, cameras, config.frames, config.batch, ctx)
    exported = None
    if export_poses is not None and cameras is not None:
        with ctx.timed("export"):
            exported = str(export_pose_frames(Path(export_poses), view.rig, jr, rt, aw, cameras, view.image))
        ctx.log(f"driving poses exported to {exported}")

    imported_frames = [f for m in imported for f in m.frames]
    empty = cameras is None
    params = {
        "joint_rotations": np.concatenate([jr.numpy()] + [m.joint_rotations for m in imported]).astype(np.float32),
        "root_translation": np.concatenate([rt.numpy()] + [m.root_translation for m in imported]).astype(np.float32),
        "arkit_weights": np.concatenate([aw.numpy()] + [m.arkit_weights for m in imported]).astype(np.float32),
        "intrinsics": np.concatenate([np.zeros((0, 3, 3)) if empty else cameras.K.numpy()]
                                     + [m.intrinsics for m in imported]).astype(np.float32),
        "world_to_camera": np.concatenate([np.zeros((0, 4, 4)) if empty else cameras.world_to_camera.numpy()]
                                          + [m.world_to_camera for m in imported]).astype(np.float32),
        "image_size": np.array([config.size, config.size], np.int32),
        "origin": np.array([0] * len(frames) + [1] * len(imported_frames), np.uint8)}
    metadata = {"fps": "30", "joint_names": json.dumps(list(JOINT_NAMES)), "arkit_names": json.dumps(list(ARKIT_NAMES)),
                "generator": config.generator, "renderer": ctx.backend}
    metrics = {
        "generator": config.generator, "frames": len(frames) + len(imported_frames), "generated_frames": len(frames),
        "imported_frames": len(imported_frames), "renderer": ctx.backend, "psnr_input_view_db": round(psnr, 3),
        "psnr_input_view_covered_db": round(psnr_covered, 3), "input_view_mask_coverage": round(covered, 4),
        "proxy": proxy_stats, "texture": texture_stats,
        "sources": sources, "imported_from": [str(v) for v in videos],
    }
    texture_u8 = (np.clip(texture, 0, 1) * 255 + 0.5).astype(np.uint8)

    def write(writer) -> None:
        artifacts.save_pseudo(writer, frames + imported_frames, params, metadata, offsets.numpy(), texture_u8,
                              lambda: contact_sheet(view.image, texture_u8, frames + imported_frames))

    return Computed(exported, list(INPUTS) + [str(v) for v in videos], metrics, write)


def _surface(view: PhotoView, config: PseudoConfig, ctx: StageContext, inputs: Future):
    """The proxy surface and its completed texture -> (offsets [V, 3], texture [R, R, 3], proxy figures, texture
    figures, the frame renderer); ``inputs``: the view's :func:`texture_inputs`, made beside the proxy fit.

    The proxy's 9 z-buffers and the texture's one (:mod:`~talkavatar.pseudo.raster`, plain torch) are drawn on the
    stage's device: on the H200 the proxy and texture took 3.08 s instead of 4.26 s with them on its host's CPU, the
    offsets and texels identical (fifteenth session, benchmarks/pseudo_surface.py; the CPU is the reference twin,
    tests/test_pseudo_texture.py compares the two on CUDA)."""
    with ctx.timed("proxy"):
        unseen = np.isin(vertex_parts(view.rig), view.hidden)[view.rig.faces.numpy()].all(1)
        offsets, proxy_stats = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights,
                                         view.camera, view.mask, smooth=config.proxy_smooth,
                                         max_offset=config.proxy_max, raster_device=ctx.device, unseen=unseen,
                                         solve_device=ctx.device)
    ctx.log(f"proxy surface: silhouette IoU {proxy_stats['mask_iou_body']:.3f} -> "
            f"{proxy_stats['mask_iou_proxy']:.3f}, covers {100 * proxy_stats['mask_coverage_proxy']:.1f}% "
            "of the person mask")
    with ctx.timed("texture"):
        texture, texture_stats = make_texture(view, offsets, config.uv_res, ctx.device, inputs.result())
    ctx.log(f"texture {config.uv_res}²: {100 * texture_stats['seen']:.1f}% seen, completed")
    renderer_name = choose_renderer(config.renderer, ctx.device)
    renderer = FrameRenderer(view.rig, offsets, torch.from_numpy(texture), renderer_name, ctx.device, config.uv_res)
    return offsets, texture, proxy_stats, texture_stats, renderer


def _input_view(view: PhotoView, renderer, ctx: StageContext) -> tuple[float, float, float]:
    """The photo's view re-rendered -> (PSNR dB over the person mask, PSNR where the render covers it, covered
    fraction of the mask)."""
    with ctx.timed("input_view"):
        rgba, backend = renderer(view.joint_rotations, view.root_translation, view.arkit_weights, view.camera)
        ctx.used(backend)
        drawn = rgba[0, ..., 3] > 127
        psnr_covered = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask & drawn)
        psnr = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask)  # uncovered mask pixels count as black
        covered = float(drawn[view.mask].mean()) if view.mask.any() else 1.0
    ctx.log(f"input view re-rendered: PSNR {psnr:.2f} dB over the person mask ({psnr_covered:.2f} dB where the "
            f"render covers it: {100 * covered:.1f}% of it)")
    return psnr, psnr_covered, covered


def _render_frames(renderer, jr, rt, aw, cameras, count: int, batch_size: int,
                   ctx: StageContext) -> list[np.ndarray]:
    """``count`` RGBA frames [S, S, 4] uint8 of the sampled poses and cameras, rendered ``batch_size`` at a time."""
    frames: list[np.ndarray] = []
    with ctx.timed("render"), progress("pseudo", count, "frames", faster="fewer --frames or a smaller --size") as shown:
        for start in range(0, count, batch_size):
            stop = min(count, start + batch_size)
            batch, backend = renderer(jr[start:stop], rt[start:stop], aw[start:stop], cameras[start:stop])
            ctx.used(backend)
            frames.extend(batch)
            shown.update(stop)
    return frames
