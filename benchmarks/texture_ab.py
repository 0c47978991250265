"""The pseudo stage's texture step (:func:`~talkavatar.pseudo.stage.make_texture`: the photo's colours onto the UV
map, then the completion) of two source trees on tracked bundles, interleaved, and how far apart their textures are.

Both trees texture the same proxy (offsets fitted once on the CPU, by the tree that goes first, and kept under
``--work``; the same offsets from either tree unless one changes the proxy's CPU path), so only the texture step
differs. Each tree runs in its own process per bundle (its code on ``PYTHONPATH``, the caller's path after it:
a device's carried packages), ``--repeats`` times after one warm-up call, and writes its texture (uint8, as the stage
stores it) and completion figures; the trees alternate which goes first.

    git archive main talkavatar | tar -x -C /tmp/main     # tree A: a snapshot of main
    python benchmarks/texture_ab.py /tmp/main . A.avatar B.avatar ... [--device cpu] [--repeats 3] [--work DIR]
        [--json FILE]

Per bundle: the median seconds of each tree (B / A), and for the textures B against A (levels of 255): texels that
differ among the bound ones (those Gaussians sit on) and in the gutter, mean and max |difference|, PSNR, and the
completion figures (shares of texels each step filled) that differ. ``--save DIR`` writes both textures there as
PNG (``BUNDLE-a.png``, ``BUNDLE-b.png``) to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

WORKER = """
import json, sys, time
import numpy as np, torch
from talkavatar.bundle import Bundle
from talkavatar.core.body.parts import vertex_parts
from talkavatar.core.threads import few_or_all_threads
from talkavatar.pseudo.proxy import fit_proxy
from talkavatar.pseudo.stage import make_texture, read_photo_view
bundle, device, repeats, offsets_file, out = sys.argv[1], torch.device(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \
    sys.argv[5]
view = read_photo_view(Bundle.open(bundle), warn=lambda m: None)
with torch.no_grad(), few_or_all_threads():  # as the stage runs it
    try:
        offsets = torch.from_numpy(np.load(offsets_file))
    except FileNotFoundError:
        unseen = np.isin(vertex_parts(view.rig), view.hidden)[view.rig.faces.numpy()].all(1)
        offsets, _ = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights, view.camera,
                               view.mask, unseen=unseen)
        np.save(offsets_file, offsets.numpy())
    seconds = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        texture, stats = make_texture(view, offsets, 1024, device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
np.save(out, (np.clip(texture, 0, 1) * 255 + 0.5).astype(np.uint8))
print(json.dumps({"seconds": seconds, "stats": stats}))
"""


def run(tree: Path, bundle: Path, device: str, repeats: int, work: Path, tag: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(tree.resolve()), os.environ.get("PYTHONPATH"))
                                                        if p)}
    out = work / f"{bundle.stem}-{tag}.npy"
    done = subprocess.run([sys.executable, "-c", WORKER, str(bundle), device, str(repeats),
                           str(work / f"{bundle.stem}-offsets.npy"), str(out)], capture_output=True, text=True,
                          env=env, cwd=tree)
    if done.returncode:
        raise SystemExit(f"{tree}: texture of {bundle} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**result, "texture": np.load(out)}


def bound_texels(bundle: Path) -> np.ndarray:
    """[R, R] bool: the texels a UV triangle covers (what the Gaussians sit on) at R = 1024."""
    import torch

    from talkavatar.bundle import Bundle
    from talkavatar.core.binding import Binding
    from talkavatar.pseudo.stage import read_photo_view

    rig = read_photo_view(Bundle.open(bundle), warn=lambda m: None).rig
    binding = Binding.from_uv(rig.face_uvs, 1024)
    out = torch.zeros(1024, 1024, dtype=torch.bool)
    out[binding.texel[:, 1], binding.texel[:, 0]] = True
    return out.numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("bundles", type=Path, nargs="+")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/texture_ab"))
    ap.add_argument("--save", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows, report = [], {}
    for i, bundle in enumerate(args.bundles):
        trees = [("a", args.tree_a), ("b", args.tree_b)]
        if i % 2:
            trees.reverse()
        got = {tag: run(tree, bundle, args.device, args.repeats, args.work, tag) for tag, tree in trees}
        a, b = got["a"], got["b"]
        sa, sb = statistics.median(a["seconds"][1:]), statistics.median(b["seconds"][1:])
        bound = bound_texels(bundle)
        diff = np.abs(a["texture"].astype(int) - b["texture"].astype(int)).max(-1)
        mse = float(((a["texture"].astype(float) - b["texture"]) ** 2).mean())
        psnr = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
        stats = {k: (a["stats"].get(k), b["stats"].get(k)) for k in sorted(set(a["stats"]) | set(b["stats"]))
                 if a["stats"].get(k) != b["stats"].get(k)}
        report[bundle.stem] = {"seconds_a": a["seconds"], "seconds_b": b["seconds"],
                               "bound_differ": int((diff[bound] > 0).sum()),
                               "bound": int(bound.sum()), "bound_mean": float(diff[bound].mean()),
                               "bound_max": int(diff[bound].max()), "gutter_differ": int((diff[~bound] > 0).sum()),
                               "gutter_mean": float(diff[~bound].mean()), "psnr": psnr, "stats_differ": stats}
        rows.append(f"| {bundle.stem} | {sa:.3f} / {sb:.3f} | {sb / sa:.2f} | {int((diff[bound] > 0).sum()):,} / "
                    f"{int(bound.sum()):,} | {diff[bound].mean():.4f} / {diff[bound].max()} | "
                    f"{int((diff[~bound] > 0).sum()):,} / {diff[~bound].mean():.4f} | {psnr:.1f} | "
                    f"{', '.join(f'{k} {x} -> {y}' for k, (x, y) in stats.items()) or 'same'} |")
        if args.save is not None:
            from PIL import Image

            args.save.mkdir(parents=True, exist_ok=True)
            for tag in "ab":
                Image.fromarray(got[tag]["texture"]).save(args.save / f"{bundle.stem}-{tag}.png")
        print(rows[-1], file=sys.stderr)
    print(f"texture step, A = {args.tree_a}, B = {args.tree_b}, device {args.device}, medians of {args.repeats} after "
          "a warm-up call; levels of 255, B against A")
    print("| bundle | seconds A / B | B/A | bound texels differ | bound mean / max diff | gutter differ / mean | "
          "PSNR dB | completion figures that differ |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
