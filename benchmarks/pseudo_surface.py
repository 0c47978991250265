"""Pseudo's host-side surface work on a tracked bundle (issue 23): the proxy fit and the completed texture, timed as
the stage runs them (``few_or_all_threads``: one torch thread below 4, all above), best of ``--repeats``, wall and
process CPU seconds, after one untimed run (imports, caches). Writes the offsets and the texture to ``--out``
(npz); ``--against`` an npz another checkout wrote compares them: the largest offset difference, the texels that
differ inside the charts and within RING texels of them (what bilinear lookups and the fit's resampling read), and
the fit's initial Gaussian colours at ``--fit-uv``. ``--raster-device cuda``: the z-buffers on CUDA (as the
stage on CUDA draws them; the CPU run's npz as ``--against`` checks the parity on real data).

    python benchmarks/pseudo_surface.py BUNDLE --out /tmp/a.npz [--code OTHER_CHECKOUT] [--against /tmp/b.npz]

``--code DIR`` runs the talkavatar package of another checkout (e.g. main's) with this script, so two versions are
timed by the same code on the same machine, alternately.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

RING = 3.0  # texels beyond the charts that must not move (a bilinear lookup reads 1, the fit's 2x resampling 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--uv-res", type=int, default=1024, help="the texture's resolution (the fast preset's)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--against", type=Path, default=None)
    ap.add_argument("--fit-uv", type=int, default=512, help="the fit's UV resolution (the fast preset's)")
    ap.add_argument("--raster-device", default="cpu",
                    help="where the z-buffers are drawn (the stage: on its device)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.code.resolve()))

    import numpy as np
    import torch

    from talkavatar.bundle import Bundle
    from talkavatar.core.threads import few_or_all_threads
    from talkavatar.pseudo.config import PseudoConfig
    from talkavatar.pseudo.proxy import fit_proxy
    from talkavatar.pseudo.stage import make_texture, read_photo_view

    view = read_photo_view(Bundle.open(args.bundle), warn=lambda m: None)
    raster = {} if args.raster_device == "cpu" else {"raster_device": torch.device(args.raster_device)}  # main: none
    config = PseudoConfig()
    best: dict[str, list[float]] = {"proxy": [1e9, 1e9], "texture": [1e9, 1e9]}
    for attempt in range(args.repeats + 1):
        with torch.no_grad(), few_or_all_threads():
            clocks = [(time.perf_counter(), time.process_time())]
            offsets, _ = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights,
                                   view.camera, view.mask, smooth=config.proxy_smooth, max_offset=config.proxy_max,
                                   **raster)
            clocks.append((time.perf_counter(), time.process_time()))
            texture, _ = make_texture(view, offsets, args.uv_res, **raster)
            clocks.append((time.perf_counter(), time.process_time()))
        if attempt == 0:
            continue  # untimed
        for name, (a, b) in zip(best, zip(clocks, clocks[1:])):
            best[name] = [min(best[name][0], b[0] - a[0]), min(best[name][1], b[1] - a[1])]
    np.savez(args.out, offsets=offsets.numpy(), texture=texture)
    print(f"{args.bundle.name} code {args.code} threads {torch.get_num_threads()} raster {args.raster_device} "
          + " ".join(f"{k} {w:.2f} s (cpu {c:.2f})" for k, (w, c) in best.items())
          + f" sum {best['proxy'][0] + best['texture'][0]:.2f} s")
    if args.against is not None:
        print("   against", args.against.name + ":", compare(np.load(args.against), offsets.numpy(), texture, view.rig,
                                                               args.fit_uv))


def compare(other, offsets, texture, rig, fit_uv: int) -> str:
    """The differences of (offsets [V, 3], texture [R, R, 3]) from ``other``'s (an npz), in words."""
    import cv2
    import numpy as np
    import torch

    from talkavatar.core.binding import Binding
    from talkavatar.fit.model import AvatarParameters
    from talkavatar.pseudo.texture import texels_to_image

    theirs = other["texture"]
    binding = Binding.from_uv(rig.face_uvs, texture.shape[0])
    covered = texels_to_image(torch.ones(binding.count, 1), binding).numpy()[..., 0] > 0
    ring = cv2.distanceTransform((~covered).astype(np.uint8), cv2.DIST_L2, 5) <= RING
    moved = np.abs(texture - theirs).max(-1) > 0
    initial = [AvatarParameters.initial(rig, fit_uv, torch.from_numpy(np.asarray(t, np.float32)), None).rgb.detach()
               for t in (texture, theirs)]
    return (f"offsets max |diff| {np.abs(offsets - other['offsets']).max():.3g} m; texels moved: {int(moved.sum())} "
            f"of which in the charts or within {RING:g} texels of them {int((moved & ring).sum())}; fit's initial "
            f"colours at UV {fit_uv} max |diff| {float((initial[0] - initial[1]).abs().max()):.3g}")


if __name__ == "__main__":
    main()
