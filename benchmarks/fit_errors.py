"""Where a fitted avatar's input-view error lies: the fit's masked PSNR split by region (issue 16/23's astronaut guard).

    python benchmarks/fit_errors.py BUNDLE [--heat FILE.png] [--device cuda]

BUNDLE must have a fit. The photo's squared error inside the person mask (the fit's own input-view figure,
``talkavatar.fit.evaluate``) is split over regions of the input view, and for each region the PSNR the whole view
would have if that region's error were zero ("dB if perfect") is printed with its share of the pixels and of the
error:

- ``edge``: mask pixels within EDGE_PX of the mask's outline (hair, the suit's soft border);
- ``off mesh``: mask pixels outside the fitted (deformed) mesh's silhouette (what only Gaussians beside the mesh
  can cover);
- ``thin``: mask pixels whose rendered alpha is under THIN_ALPHA;
- ``anchored``: pixels whose colour comes for more than a tenth from Gaussians the colour anchor holds (its weights
  as the fit computed them, from the initial avatar: ``fit.visibility.colour_anchor_weights``);
- ``anchored now``: the same with the weights computed from the fitted avatar (what reweighing would hold);
- ``unseen``: pixels whose colour comes for more than a tenth from Gaussians the initial avatar's photo view does not
  see at all (``fit.visibility.photo_visibility`` 0: hidden, behind, outside the mask);
- ``head``: the head's Gaussians (the share of the pixel they make, > 0.5).

``--heat`` writes a picture: the render | the photo | the error (x4, grey) with the mesh silhouette's outline in red.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.bundle import Bundle  # noqa: E402
from talkavatar.core.avatar import Avatar  # noqa: E402
from talkavatar.core.body.parts import PART, texel_parts  # noqa: E402
from talkavatar.core.color import linear_to_srgb  # noqa: E402
from talkavatar.core.splats import rasterize  # noqa: E402
from talkavatar.fit.config import FitConfig  # noqa: E402
from talkavatar.fit.data import load_fit_data  # noqa: E402
from talkavatar.fit.evaluate import deformed_vertices, mesh_silhouette  # noqa: E402
from talkavatar.fit.model import AvatarParameters  # noqa: E402
from talkavatar.fit.visibility import colour_anchor_weights, photo_visibility  # noqa: E402

EDGE_PX = 2
THIN_ALPHA = 0.9
SHARE = 0.1  # a pixel belongs to a Gaussian set when the set makes more than this share of its colour


@torch.no_grad()
def input_view_errors(bundle_path: Path, device: str = "cpu", heat: Path | None = None) -> dict:
    """The fitted avatar of ``bundle_path``'s input-view PSNR split by region (module docstring): {"psnr_db",
    "regions": {name: {"pixels_pct", "error_pct", "db_if_perfect"}}}."""
    bundle = Bundle.open(bundle_path)
    record = bundle.record("fit")["config"]
    cfg = FitConfig(**{k: record[k] for k in ("preset", "uv_res", "image_size", "shape")})
    data = load_fit_data(bundle, cfg.image_size, 64, 1, 64, use_pseudo=False).to(device)
    photo = data.photo
    avatar = Avatar.load(bundle.root / "fit").to(device)
    initial = AvatarParameters.initial(data.rig, cfg.uv_res, data.texture, data.proxy_offsets, cfg.shape).avatar()
    with torch.enable_grad():
        anchored = colour_anchor_weights(initial, photo)
        anchored_now = colour_anchor_weights(avatar, photo)
    unseen = (photo_visibility(initial, photo) <= 0).to(anchored)
    b = initial.binding
    head = torch.from_numpy(texel_parts(initial.rig.to("cpu"), b.face_index.cpu(), b.barycentrics.cpu()) == PART["head"])
    head = head.to(anchored)
    p, camera = photo.poses[:1], photo.cameras[0:1]
    g = avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights)
    black = torch.zeros(3, device=device)
    out = rasterize(g, camera, background=black)
    shares = rasterize(replace(g, rgb=torch.stack([anchored, unseen, head], -1)[None]), camera, background=black)
    now = rasterize(replace(g, rgb=anchored_now[None, :, None].expand(1, -1, 3)), camera, background=black)
    rgb = linear_to_srgb(out.rgb[0]).clamp(0, 1).cpu().numpy()
    alpha = out.alpha[0, ..., 0].cpu().numpy()
    share = shares.rgb[0].cpu().numpy()
    mask = photo.mask[0].cpu().numpy()
    target = photo.rgb[0].cpu().numpy()
    error = (((rgb - target) * mask[..., None]) ** 2).mean(-1) * mask  # the fit's masked MSE (core.losses.mse) per pixel
    silhouette = mesh_silhouette(deformed_vertices(avatar, p)[0], avatar.rig.faces, camera)
    inside = mask > 0.5
    border = inside & ~cv2.erode(inside.astype(np.uint8), np.ones((2 * EDGE_PX + 1,) * 2, np.uint8)).astype(bool)
    regions = {"edge": border, "off mesh": inside & ~silhouette, "thin": inside & (alpha < THIN_ALPHA),
               "anchored": inside & (share[..., 0] > SHARE),
               "anchored now": inside & (now.rgb[0, ..., 0].cpu().numpy() > SHARE), "unseen": inside & (share[..., 1] > SHARE),
               "head": inside & (share[..., 2] > 0.5)}
    total, weight = float(error.sum()), float(mask.sum())
    psnr_db = 10 * math.log10(weight / total)
    figures = {}
    for name, region in regions.items():
        rest = total - float(error[region].sum())
        figures[name] = {"pixels_pct": round(100 * float(region.sum()) / float(inside.sum()), 2),
                         "error_pct": round(100 * (1 - rest / total), 1),
                         "db_if_perfect": round(10 * math.log10(weight / max(rest, 1e-12)) - psnr_db, 2)}
    if heat is not None:
        _heat(heat, rgb * mask[..., None], target * mask[..., None], error, silhouette)
    return {"psnr_db": round(psnr_db, 3), "regions": figures}


def _heat(path: Path, render: np.ndarray, target: np.ndarray, error: np.ndarray, silhouette: np.ndarray) -> None:
    """render | target | error x4 (grey) with the mesh silhouette's outline in red, as one PNG."""
    grey = np.repeat(np.sqrt(error * 4).clip(0, 1)[..., None], 3, -1)  # sqrt: the RMS error per pixel, x2
    sil = silhouette.astype(np.uint8)
    outline = (sil - cv2.erode(sil, np.ones((3, 3), np.uint8))).astype(bool)
    grey[outline] = (1.0, 0.0, 0.0)
    strip = np.concatenate([render, target, grey], 1)
    Image.fromarray((strip.clip(0, 1) * 255 + 0.5).astype(np.uint8)).save(path)


def table(rows: dict[str, dict]) -> str:
    """Markdown: one row per variant, the PSNR and each region's "dB if perfect" (pixels % / error %)."""
    names = list(next(iter(rows.values()))["regions"])
    lines = ["| variant | input dB | " + " | ".join(f"{n}: +dB (px % / err %)" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for variant, r in rows.items():
        cells = [f"{r['regions'][n]['db_if_perfect']:+.2f} ({r['regions'][n]['pixels_pct']:.1f} / "
                 f"{r['regions'][n]['error_pct']:.0f})" for n in names]
        lines.append(f"| {variant} | {r['psnr_db']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--heat", type=Path, default=None)
    args = ap.parse_args()
    result = input_view_errors(args.bundle, args.device, args.heat)
    print(json.dumps(result, indent=1))
    print(table({args.bundle.name: result}))


if __name__ == "__main__":
    main()
