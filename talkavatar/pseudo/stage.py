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
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from talkavatar.config import as_record
from talkavatar.errors import InvalidInput, UsageError
from talkavatar.pseudo.config import PseudoConfig

Log = Callable[[str], None]
INPUTS = ("source/image.png", "track/params.safetensors", "track/rig.safetensors", "track/mask.png")


@dataclass
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


def read_photo_view(bundle, warn: Log = print) -> PhotoView:
    import torch

    from talkavatar.core.body.mouth import with_mouth_interior
    from talkavatar.core.body.rig import Rig
    from talkavatar.core.cameras import Cameras

    if "source/image.png" not in (bundle.record("source") or {}).get("outputs", {}):
        raise InvalidInput(f"{bundle.root}: pseudo needs a photo bundle (source/image.png); this one was tracked "
                           "from a video", tip="track a photo of the person, or add the video with --import-video")
    params, _ = bundle.read_tensors("track/params.safetensors", "talkavatar.track")
    tracked = np.flatnonzero(params["tracked"]) if "tracked" in params else np.array([0])
    t = int(tracked[0]) if len(tracked) else 0
    image = bundle.read_png("source/image.png")[..., :3]
    mask = bundle.read_png("track/mask.png")
    mask = (mask[..., 0] if mask.ndim == 3 else mask) > 127
    h, w = image.shape[:2]
    if mask.shape != (h, w):
        raise InvalidInput(f"{bundle.root}: track/mask.png is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                           f"{w}x{h}", tip=f"rerun `talkavatar track -b {bundle.root} --force`")
    rig = Rig.from_tensors(*bundle.read_tensors("track/rig.safetensors", "talkavatar.rig"))
    camera = Cameras(torch.from_numpy(params["world_to_camera"][t:t + 1]).float(),
                     torch.from_numpy(params["intrinsics"][t:t + 1]).float(), w, h)
    try:
        rig = with_mouth_interior(rig)  # bundles tracked before the mouth interior existed get it here
    except ValueError as e:
        warn(f"no mouth interior: {e}")
    return PhotoView(image, mask, torch.from_numpy(params["joint_rotations"][t:t + 1]),
                     torch.from_numpy(params["root_translation"][t:t + 1]),
                     torch.from_numpy(params["arkit_weights"][t:t + 1]), params["shape"], camera, rig)


def make_texture(view: PhotoView, offsets, uv_res: int) -> tuple[np.ndarray, dict]:
    """The completed UV texture [R, R, 3] float sRGB 0..1 of the proxy, and the completion figures."""
    import torch

    from talkavatar.core.binding import Binding
    from talkavatar.core.body.mouth import mouth_colours, mouth_texels
    from talkavatar.pseudo.complete import complete_texture
    from talkavatar.pseudo.texture import project_texture

    rig = view.rig
    proxy = replace(rig, vertices=rig.vertices + offsets)
    binding = Binding.from_uv(rig.face_uvs, uv_res)
    posed = proxy.pose(view.joint_rotations, view.root_translation, view.arkit_weights)
    image = torch.from_numpy(view.image.astype(np.float32) / 255)
    seen = project_texture(posed.vertices[0], rig.faces, binding, view.camera, image, view.mask)
    part = mouth_texels(rig, binding.face_index)
    rgb, conf = seen.rgb.clone(), seen.confidence.clone()
    inside = part >= 0
    rgb[inside] = mouth_colours()[part[inside]].to(rgb)
    conf[inside] = 1.0
    texture, stats = complete_texture(rig, proxy.vertices, binding, rgb, conf, given=inside)
    stats["mouth_texels"] = int(inside.sum())
    stats["unfilled_texels"] = int(np.isnan(texture).any(-1).sum())
    return texture, stats


def psnr_in_mask(rendered: np.ndarray, photo: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) of two uint8 images [H, W, 3] over the pixels of ``mask`` [H, W] bool (the core's
    :func:`~talkavatar.core.losses.psnr`: +inf if identical there, nan for an empty mask)."""
    import torch

    from talkavatar.core.losses import psnr

    def batch(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(torch.float64)[None]

    return float(psnr(batch(rendered), batch(photo), batch(mask), data_range=255.0)[0])


def sample_frames(view: PhotoView, offsets, config: PseudoConfig):
    """Library poses around the tracked root and orbit cameras -> (joint_rotations [N, 55, 3], root_translation
    [N, 3], arkit_weights [N, 52], Cameras, sources)."""
    import torch

    from talkavatar.core.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from talkavatar.motion.library.sampling import sample_poses
    from talkavatar.pseudo.views import frame_focal, orbit_cameras, sample_view_angles

    n = config.frames
    if n == 0:
        return torch.zeros(0, 55, 3), torch.zeros(0, 3), torch.zeros(0, 52), None, []
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
    focus = []
    for start in range(0, n, 32):
        posed = proxy.pose(jr[start:start + 32], rt[start:start + 32], aw[start:start + 32])
        focus.append(posed.vertices[:, anchor] + offset)
    focus = torch.cat(focus) if focus else torch.zeros(0, 3)
    yaw, pitch = sample_view_angles(n, config.seed, config.side_views)
    focal = frame_focal(float(view.camera.K[0, 0, 0]), (w, h), config.size)
    cameras = orbit_cameras(focus, view.camera.centers[0], yaw, pitch, focal, config.size) if n else None
    return jr, rt, aw, cameras, poses.sources


def run_pseudo(bundle_path: Path, config: PseudoConfig = PseudoConfig(), *, device: str | None = None,
               force: bool = False, export_poses: Path | None = None, import_videos: Sequence[Path] = (),
               progress: Log = print, warn: Log = print) -> PseudoResult:
    """Make ``pseudo/`` in the bundle at ``bundle_path`` (see the module docstring)."""
    import torch

    from talkavatar.bundle import Bundle

    t0 = time.perf_counter()
    if export_poses is not None and config.frames == 0:
        raise UsageError("--export-poses needs frames to export", tip="pass --frames N with N > 0")
    bundle = Bundle.open(Path(bundle_path))
    bundle.require("track", by="pseudo")
    videos = [Path(v).resolve() for v in import_videos]
    for v in videos:
        if not v.is_file():
            raise InvalidInput(f"{v}: no such video file", tip="check the --import-video path")
    record = {**as_record(config), "import_videos": [str(v) for v in videos]}
    inputs = list(INPUTS) + [str(v) for v in videos]
    previous = bundle.record("pseudo")
    if not force and export_poses is None and previous is not None and previous["config"] == record and \
            set(previous["inputs"]) == set(inputs) and not bundle.stale_inputs("pseudo"):
        progress(f"{bundle.root}: pseudo is up to date (use --force to redo)")
        m = previous.get("metrics", {})
        return PseudoResult(bundle.root, m.get("frames", 0), m.get("imported_frames", 0), previous.get("backend", ""),
                            m.get("psnr_input_view_db"), 0.0, m.get("psnr_input_view_covered_db"),
                            m.get("input_view_mask_coverage"), skipped=True, metrics=m)

    timings: dict[str, float] = {}
    if videos:  # the user's inputs first: an unreadable video fails before any work
        from talkavatar.pseudo.importer import load_videos

        t = time.perf_counter()
        footages = load_videos(videos, warn)
        timings["import_load"] = time.perf_counter() - t
    view = read_photo_view(bundle, warn)
    from talkavatar.core.device import resolve_device

    dev = resolve_device(device)
    with torch.no_grad():
        return _generate(bundle, view, config, record, inputs, videos, footages if videos else [], dev,
                         export_poses, timings, progress, t0)


def _generate(bundle, view: PhotoView, config: PseudoConfig, record: dict, inputs: list[str], videos: list[Path],
              footages: list, dev, export_poses: Path | None, timings: dict, progress: Log, t0: float
              ) -> PseudoResult:
    import torch

    from talkavatar.pseudo.proxy import fit_proxy
    from talkavatar.pseudo.render import FrameRenderer, choose_renderer

    imported = []
    t = time.perf_counter()
    offsets, proxy_stats = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights,
                                     view.camera, view.mask, smooth=config.proxy_smooth, max_offset=config.proxy_max)
    timings["proxy"] = time.perf_counter() - t
    progress(f"proxy surface: silhouette IoU {proxy_stats['mask_iou_body']:.3f} -> "
             f"{proxy_stats['mask_iou_proxy']:.3f}, covers {100 * proxy_stats['mask_coverage_proxy']:.1f}% "
             "of the person mask")
    t = time.perf_counter()
    texture, texture_stats = make_texture(view, offsets, config.uv_res)
    timings["texture"] = time.perf_counter() - t
    progress(f"texture {config.uv_res}²: {100 * texture_stats['seen']:.1f}% seen, completed")

    renderer_name = choose_renderer(config.renderer, dev)
    renderer = FrameRenderer(view.rig, offsets, torch.from_numpy(texture), renderer_name, dev, config.uv_res)
    t = time.perf_counter()
    rgba, backend = renderer(view.joint_rotations, view.root_translation, view.arkit_weights, view.camera)
    drawn = rgba[0, ..., 3] > 127
    psnr_covered = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask & drawn)
    psnr = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask)  # uncovered mask pixels count as black
    covered = float(drawn[view.mask].mean()) if view.mask.any() else 1.0
    timings["input_view"] = time.perf_counter() - t
    progress(f"input view re-rendered: PSNR {psnr:.2f} dB over the person mask ({psnr_covered:.2f} dB where the "
             f"render covers it: {100 * covered:.1f}% of it)")

    t = time.perf_counter()
    jr, rt, aw, cameras, sources = sample_frames(view, offsets, config)
    timings["sample"] = time.perf_counter() - t
    frames: list[np.ndarray] = []
    t = time.perf_counter()
    for start in range(0, config.frames, config.batch):
        stop = min(config.frames, start + config.batch)
        batch, backend = renderer(jr[start:stop], rt[start:stop], aw[start:stop], cameras[start:stop])
        frames.extend(batch)
        progress(f"rendered {stop}/{config.frames} frames")
    timings["render"] = time.perf_counter() - t

    if videos:
        from talkavatar.pseudo.importer import retrack

        t = time.perf_counter()
        with torch.enable_grad():  # re-tracking optimises
            imported = retrack(footages, view.shape, config.size, dev, progress)
        timings["import_retrack"] = time.perf_counter() - t

    exported = None
    if export_poses is not None and cameras is not None:
        from talkavatar.pseudo.export import export_pose_frames

        t = time.perf_counter()
        exported = str(export_pose_frames(Path(export_poses), view.rig, jr, rt, aw, cameras, view.image))
        timings["export"] = time.perf_counter() - t
        progress(f"driving poses exported to {exported}")

    from talkavatar.motion.names import ARKIT_NAMES, JOINT_NAMES
    from talkavatar.pseudo.contact import contact_sheet

    size = config.size
    all_jr = [jr.numpy()] + [m.joint_rotations for m in imported]
    all_rt = [rt.numpy()] + [m.root_translation for m in imported]
    all_aw = [aw.numpy()] + [m.arkit_weights for m in imported]
    all_k = [cameras.K.numpy() if cameras is not None else np.zeros((0, 3, 3))] + [m.intrinsics for m in imported]
    all_w2c = [cameras.world_to_camera.numpy() if cameras is not None else np.zeros((0, 4, 4))] + \
        [m.world_to_camera for m in imported]
    imported_frames = [f for m in imported for f in m.frames]
    origin = np.array([0] * len(frames) + [1] * len(imported_frames), np.uint8)
    texture_u8 = (np.clip(texture, 0, 1) * 255 + 0.5).astype(np.uint8)
    metrics = {
        "generator": config.generator, "frames": len(frames) + len(imported_frames), "generated_frames": len(frames),
        "imported_frames": len(imported_frames), "renderer": backend, "psnr_input_view_db": round(psnr, 3),
        "psnr_input_view_covered_db": round(psnr_covered, 3), "input_view_mask_coverage": round(covered, 4),
        "proxy": proxy_stats, "texture": texture_stats,
        "sources": sources, "imported_from": [str(v) for v in videos],
    }
    with bundle.write_stage("pseudo", record, inputs=inputs) as writer:
        for i, f in enumerate(frames + imported_frames):
            writer.save_png(f"frames/{i:05d}.png", f)
        writer.save_tensors("params.safetensors", {
            "joint_rotations": np.concatenate(all_jr).astype(np.float32),
            "root_translation": np.concatenate(all_rt).astype(np.float32),
            "arkit_weights": np.concatenate(all_aw).astype(np.float32),
            "intrinsics": np.concatenate(all_k).astype(np.float32),
            "world_to_camera": np.concatenate(all_w2c).astype(np.float32),
            "image_size": np.array([size, size], np.int32), "origin": origin,
        }, "talkavatar.pseudo", {"fps": "30", "joint_names": json.dumps(list(JOINT_NAMES)),
                                 "arkit_names": json.dumps(list(ARKIT_NAMES)), "generator": config.generator,
                                 "renderer": backend})
        writer.save_tensors("proxy.safetensors", {"vertex_offsets": offsets.numpy().astype(np.float32)},
                            "talkavatar.proxy", {"vertex_count": str(offsets.shape[0])})
        writer.save_png("texture.png", texture_u8)
        writer.save_png("contact.png", contact_sheet(view.image, texture_u8, frames + imported_frames))
        writer.metrics.update(metrics)
        writer.timings.update(timings)
        writer.backend = backend
    return PseudoResult(bundle.root, len(frames) + len(imported_frames), len(imported_frames), backend,
                        round(psnr, 3), round(time.perf_counter() - t0, 2), round(psnr_covered, 3),
                        round(covered, 4), exported, metrics=metrics)
