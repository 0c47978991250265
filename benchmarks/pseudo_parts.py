"""The pseudo stage's parts that run on its device, timed alone on one tracked bundle: the photo's z-buffer
(:func:`~talkavatar.pseudo.raster.rasterize_mesh`, both schedules), one Gauss-Newton system of the proxy
(:func:`~talkavatar.pseudo.proxy.solve_spd`: SuperLU on the CPU, dense Cholesky on the device) and the UV gutter
fill (:func:`~talkavatar.pseudo.complete.fill_gutter`), on the CPU and on ``--device``; each the median of
``--repeats`` after one warm-up, CUDA synchronised before each clock read, and how far the device's result lies
from the CPU's.

    python benchmarks/pseudo_parts.py BUNDLE [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pseudo_speed import read_view  # noqa: E402
from talkavatar.pseudo.complete import fill_gutter  # noqa: E402
from talkavatar.pseudo.mesh import graph_laplacian  # noqa: E402
from talkavatar.pseudo.proxy import solve_spd  # noqa: E402
from talkavatar.pseudo.raster import rasterize_mesh  # noqa: E402


def timed(fn, device: torch.device, repeats: int) -> tuple[tuple[float, float], object]:
    """(median seconds of ``fn()`` over ``repeats`` runs after a warm-up, the warm-up's seconds: a library's first
    call, cuSOLVER's load), and the last result."""
    seconds = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t)
    return (statistics.median(seconds[1:]), seconds[0]), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    dev, cpu = torch.device(args.device), torch.device("cpu")
    view = read_view(args.bundle)
    rig = view.rig
    posed = rig.pose(view.joint_rotations, view.root_translation, view.arkit_weights).vertices[0]
    pixels, depth = view.camera.project(posed)
    w, h = view.camera.width, view.camera.height
    rows = []

    def raster(device, exact):
        return lambda: rasterize_mesh(pixels[0].to(device), depth[0].to(device), rig.faces.to(device), w, h,
                                      exact_boxes=exact)

    s_ref, ref = timed(raster(cpu, False), cpu, args.repeats)
    rows.append((f"z-buffer {w}x{h}", "cpu padded boxes", s_ref, "reference"))
    for device, exact in [(cpu, True)] + ([(dev, False), (dev, True)] if dev.type != "cpu" else []):
        s, out = timed(raster(device, exact), device, args.repeats)
        out = out.to("cpu")
        agree = float((out.face == ref.face).float().mean())
        rows.append((f"z-buffer {w}x{h}", f"{device.type} {'exact' if exact else 'padded'} boxes", s,
                     f"face ids agree on {100 * agree:.4f} % of pixels"))

    # a system shaped like a proxy round's: the membrane + thin plate prior, damping and random outline samples
    count = rig.vertices.shape[0]
    g = np.random.default_rng(0)
    lap = graph_laplacian(rig.faces.numpy(), count).tocsc()
    samples = 1500
    corners = rig.faces.numpy()[g.integers(0, len(rig.faces), samples)]
    jac = sp.csr_matrix((g.normal(0, 400, (samples, 3)).ravel(), (np.repeat(np.arange(samples), 3),
                                                                 corners.ravel())), shape=(samples, count))
    system = jac.T @ jac + 500.0 ** 2 * (0.3 * (lap + lap.T @ lap) + 0.06 * sp.identity(count))
    rhs = g.normal(0, 1e3, count)
    s_ref, x_ref = timed(lambda: solve_spd(system, rhs), cpu, args.repeats)
    rows.append((f"GN system {count} unknowns", "cpu SuperLU", s_ref, "reference"))
    if dev.type != "cpu":
        s, x = timed(lambda: solve_spd(system, rhs, dev), dev, args.repeats)
        rows.append((f"GN system {count} unknowns", f"{dev.type} dense Cholesky", s,
                     f"max |x - x_cpu| / max |x_cpu| = {np.abs(x - x_ref).max() / np.abs(x_ref).max():.1e}"))
        dense = torch.from_numpy(system.toarray()).to(dev)
        s, _ = timed(lambda: torch.linalg.cholesky_ex(dense), dev, args.repeats)
        rows.append((f"GN system {count} unknowns", f"{dev.type} of it the factorisation alone", s, "-"))
        del dense

    tex = np.array(Image.open(args.bundle / "pseudo/texture.png"))[..., :3]
    holes = np.zeros(tex.shape[:2], bool)
    holes[:, : tex.shape[1] // 3] = True  # a third of the texture as gutter (the real one is ~35 % at R = 1024)
    holes &= g.random(holes.shape) < 0.9
    s_ref, f_ref = timed(lambda: fill_gutter(torch.from_numpy(tex), torch.from_numpy(holes)).numpy(), cpu,
                         args.repeats)
    rows.append((f"gutter fill {tex.shape[0]}^2", "cpu", s_ref, "reference"))
    if dev.type != "cpu":
        s, f = timed(lambda: fill_gutter(torch.from_numpy(tex).to(dev), torch.from_numpy(holes).to(dev)).cpu().numpy(),
                     dev, args.repeats)
        rows.append((f"gutter fill {tex.shape[0]}^2", dev.type, s,
                     f"max |difference| {int(np.abs(f.astype(int) - f_ref).max())} of 255"))

    print(f"{args.bundle.name}, device {torch.cuda.get_device_name() if dev.type == 'cuda' else dev}, "
          f"{torch.get_num_threads()} CPU threads; medians of {args.repeats}")
    print("| part | where | ms | first call ms | against the CPU |\n|---|---|---|---|---|")
    for part, where, (s, first), note in rows:
        print(f"| {part} | {where} | {1000 * s:.1f} | {1000 * first:.1f} | {note} |")


if __name__ == "__main__":
    main()
