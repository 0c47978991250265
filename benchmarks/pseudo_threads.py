"""The pseudo stage's CPU work (proxy fit, texture) on 1, 2, 4, ... torch threads: does it gain from the cores of an
idle machine? (The stage runs it on one thread, ``core.threads.one_thread``: measured on 2 loaded cores, two threads
were twice as slow.) Each count times fit_proxy and make_texture on a tracked bundle, after one untimed run, and
says how far its results are from one thread's.

    python benchmarks/pseudo_threads.py BUNDLE [--threads 1,2,4,8,16] [--repeats 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--threads", default="1,2,4,8,16")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from talkavatar.bundle import Bundle
    from talkavatar.core.threads import usable_cores
    from talkavatar.pseudo.config import PseudoConfig
    from talkavatar.pseudo.proxy import fit_proxy
    from talkavatar.pseudo.stage import make_texture, read_photo_view

    view = read_photo_view(Bundle.open(args.bundle))
    config = PseudoConfig()

    def run():
        with torch.no_grad():
            t = time.perf_counter()
            offsets, _ = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights,
                                   view.camera, view.mask, smooth=config.proxy_smooth, max_offset=config.proxy_max)
            proxy = time.perf_counter() - t
            t = time.perf_counter()
            texture, _ = make_texture(view, offsets, config.uv_res)
            return proxy, time.perf_counter() - t, offsets, texture

    counts = [n for n in (int(x) for x in args.threads.split(",")) if n <= usable_cores()]
    print(f"{args.bundle.name}: {usable_cores()} usable cores; best of {args.repeats} after one untimed run")
    print("| threads | proxy s | texture s | offsets max diff to 1 thread | texture max diff |\n|---|---|---|---|---|")
    reference = None
    for n in counts:
        torch.set_num_threads(n)
        with threadpool_limits(n):
            run()
            runs = [run() for _ in range(args.repeats)]
        proxy, texture_s = min(r[0] for r in runs), min(r[1] for r in runs)
        offsets, texture = runs[0][2], runs[0][3]
        if reference is None:
            reference = offsets, texture
        d_off = float((offsets - reference[0]).abs().max())
        d_tex = float(np.nanmax(np.abs(texture - reference[1])))
        print(f"| {n} | {proxy:.2f} | {texture_s:.2f} | {d_off:.2e} | {d_tex:.2e} |", flush=True)


if __name__ == "__main__":
    main()
