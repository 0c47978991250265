"""Speed of the pseudo stage's reproject generator (DESIGN.md "Targets"; issue 5: 120 pseudo frames at 512² in
<= 10 s on one H100 and <= 5 min on 2 CPU cores), plus its quality figures on the same bundle.

Input: a bundle that `talkavatar track` made (``source/image.png``, ``track/params.safetensors``,
``track/rig.safetensors``, ``track/mask.png``). Files are read directly with safetensors/PIL (no bundle schema
validation; no body-model package: the baked rig is all it poses). ``talkavatar.motion`` still imports the bundle
layer, so ``jsonschema`` must be importable.

Steps timed: proxy (silhouette-driven clothing offsets), texture (inverse mapping + completion), input view
(re-render of the photo's pose and view, PSNR inside the person mask), sample (library poses + orbit cameras),
render (all frames, batches of 8). The process's CPU time is reported too: on a shared machine wall time
overstates what two idle cores need. ``--renderer auto`` renders Gaussians with ``rasterize(backend="auto")`` (gsplat)
on CUDA and the textured proxy mesh on a CPU. CUDA timings synchronise before each clock read; a first warm-up
batch is rendered and timed apart.

Usage: ``python benchmarks/pseudo_speed.py BUNDLE [--frames 120] [--size 512] [--renderer auto] [--out DIR]``;
with ``--out`` the frames' contact sheet and the input-view comparison are written there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.core.body.rig import Rig  # noqa: E402
from talkavatar.core.cameras import Cameras  # noqa: E402
from talkavatar.pseudo.config import PseudoConfig  # noqa: E402
from talkavatar.pseudo.stage import PhotoView, make_texture, psnr_in_mask, sample_frames  # noqa: E402


def read_tensors(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def read_view(bundle: Path) -> PhotoView:
    from PIL import Image

    from talkavatar.core.body.mouth import with_mouth_interior

    params, _ = read_tensors(bundle / "track/params.safetensors")
    image = np.asarray(Image.open(bundle / "source/image.png").convert("RGB"))
    mask = np.asarray(Image.open(bundle / "track/mask.png").convert("L")) > 127
    rig = with_mouth_interior(Rig.from_tensors(*read_tensors(bundle / "track/rig.safetensors")))
    h, w = image.shape[:2]
    camera = Cameras(torch.from_numpy(params["world_to_camera"][:1]).float(),
                     torch.from_numpy(params["intrinsics"][:1]).float(), w, h)
    return PhotoView(image, mask, torch.from_numpy(params["joint_rotations"][:1]),
                     torch.from_numpy(params["root_translation"][:1]), torch.from_numpy(params["arkit_weights"][:1]),
                     params["shape"], camera, rig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--uv-res", type=int, default=1024)
    ap.add_argument("--renderer", default="auto", choices=["auto", "splats", "mesh"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    from talkavatar.pseudo.proxy import fit_proxy
    from talkavatar.pseudo.render import FrameRenderer, choose_renderer

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = PseudoConfig(frames=args.frames, size=args.size, uv_res=args.uv_res, renderer=args.renderer)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    times = {}
    cpu_start = time.process_time()
    t_all = time.perf_counter()
    t = time.perf_counter()
    view = read_view(args.bundle)
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    offsets, proxy_stats = fit_proxy(view.rig, view.joint_rotations, view.root_translation, view.arkit_weights,
                                     view.camera, view.mask, raster_device=device, solve_device=device)
    times["proxy"] = time.perf_counter() - t
    t = time.perf_counter()
    texture, texture_stats = make_texture(view, offsets, config.uv_res, device)  # as the stage: on its device
    times["texture"] = time.perf_counter() - t
    name = choose_renderer(config.renderer, device)
    t = time.perf_counter()
    renderer = FrameRenderer(view.rig, offsets, torch.from_numpy(texture), name, device, config.uv_res)
    sync()
    times["renderer_setup"] = time.perf_counter() - t
    t = time.perf_counter()
    rgba, backend = renderer(view.joint_rotations, view.root_translation, view.arkit_weights, view.camera)
    sync()
    times["input_view"] = time.perf_counter() - t
    drawn = rgba[0, ..., 3] > 127
    psnr = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask & drawn)
    psnr_all = psnr_in_mask(rgba[0, ..., :3], view.image, view.mask)
    t = time.perf_counter()
    jr, rt, aw, cameras, _ = sample_frames(view, offsets, config)
    times["sample"] = time.perf_counter() - t
    t = time.perf_counter()
    renderer(jr[:config.batch], rt[:config.batch], aw[:config.batch], cameras[:config.batch])  # warm-up (CUDA kernels, allocator)
    sync()
    times["warmup_batch"] = time.perf_counter() - t
    frames = []
    t = time.perf_counter()
    for start in range(0, config.frames, config.batch):
        stop = min(config.frames, start + config.batch)
        batch, backend = renderer(jr[start:stop], rt[start:stop], aw[start:stop], cameras[start:stop])
        frames.extend(batch)
    sync()
    times["render"] = time.perf_counter() - t
    times["total_without_warmup"] = time.perf_counter() - t_all - times["warmup_batch"]
    cpu_seconds = time.process_time() - cpu_start  # CPU time of this process (all threads), warm-up included
    out = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
        "renderer": backend, "frames": config.frames, "size": config.size, "uv_res": config.uv_res,
        "seconds": {k: round(v, 3) for k, v in times.items()},
        "render_fps": round(config.frames / times["render"], 2), "process_cpu_seconds": round(cpu_seconds, 1),
        "psnr_input_view_covered_db": round(psnr, 2), "psnr_input_view_whole_mask_db": round(psnr_all, 2),
        "mask_coverage": round(float(drawn[view.mask].mean()), 4), "proxy": proxy_stats, "texture": texture_stats,
    }
    print(json.dumps(out, indent=1))
    print("\n| step | seconds |\n|---|---|")
    for k, v in times.items():
        print(f"| {k} | {v:.2f} |")
    print(f"| 120-frame budget check | {times['total_without_warmup']:.1f} s total, render {out['render_fps']} fps "
          f"({backend}) |")
    if args.out is not None:
        from PIL import Image

        from talkavatar.pseudo.contact import contact_sheet

        args.out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(contact_sheet(view.image, (texture * 255 + 0.5).astype(np.uint8), frames)).save(
            args.out / "contact.png")
        Image.fromarray(np.concatenate([rgba[0, ..., :3], view.image], 1)).save(args.out / "input_view.png")
        (args.out / "pseudo_speed.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
