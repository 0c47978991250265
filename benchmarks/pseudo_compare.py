"""What two pseudo stages wrote for the same photo, side by side: the stage's timings, the proxy offsets, the UV
texture per texel (the texels the UV Gaussians sit on and the gutter between charts apart), the frames per pixel,
and, where both bundles were fitted, the fit's input-view figures.

    python benchmarks/pseudo_compare.py A.avatar B.avatar [A2.avatar B2.avatar ...] [--json FILE]

Bundles come in pairs (A, B) of the same photo, e.g. main's and a branch's ``talkavatar fit PHOTO`` bundles. Texel
figures are levels of 255; "bound" texels are those :class:`~talkavatar.core.binding.Binding` places a Gaussian on
at the texture's resolution, the gutter is the rest, its "ring" the gutter texels beside a bound one (what bilinear
lookups at a chart's edge read). Frame figures compare each pseudo frame of A with B's
(RGBA, uint8): the mean |difference| over all pixels and channels, the share of pixels that differ, and the PSNR
of B's frames against A's (inf where identical). Reads files directly (safetensors, PIL): no bundle validation.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.core.binding import Binding  # noqa: E402
from talkavatar.core.body.rig import Rig  # noqa: E402

PSEUDO_TIMINGS = ("proxy", "texture", "input_view", "sample", "render")


def _tensors(path: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(path))


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path)).astype(np.int16)


def compare(a: Path, b: Path) -> dict:
    """The figures of one pair of bundles (see the module docstring)."""
    stage = {k: json.loads((p / "bundle.json").read_text())["stages"]["pseudo"] for k, p in (("A", a), ("B", b))}
    out: dict = {"photo": a.name.split(".")[0],
                 "timings": {k: {t: round(s.get("timings", {}).get(t, 0.0), 2) for t in PSEUDO_TIMINGS}
                             for k, s in stage.items()},
                 "same_files": sorted(n for n, v in stage["A"]["outputs"].items()
                                      if stage["B"]["outputs"].get(n, {}).get("sha256") == v["sha256"]),
                 "files": len(stage["A"]["outputs"])}
    proxy = [next(iter(_tensors(p / "pseudo/proxy.safetensors").values())) for p in (a, b)]
    out["offsets_max_diff_m"] = float(np.abs(proxy[0] - proxy[1]).max())
    tex = [_png(p / "pseudo/texture.png")[..., :3] for p in (a, b)]
    bound = np.zeros(tex[0].shape[:2], bool)
    rig = _rig(a)
    binding = Binding.from_uv(rig.face_uvs, tex[0].shape[0])
    bound[binding.texel[:, 1].numpy(), binding.texel[:, 0].numpy()] = True
    diff = np.abs(tex[0] - tex[1]).max(-1)
    padded = np.pad(bound, 1)
    beside = np.zeros_like(bound)  # gutter texels with a bound 8-neighbour: what bilinear lookups at a chart read
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            beside |= padded[dy:dy + bound.shape[0], dx:dx + bound.shape[1]]
    beside &= ~bound
    for name, where in (("bound", bound), ("ring", beside), ("gutter", ~bound)):
        d = diff[where]
        out[f"texels_{name}"] = {"count": int(where.sum()), "differ": int((d > 0).sum()),
                                 "mean": round(float(d.mean()), 3), "max": int(d.max()) if d.size else 0}
    frames = sorted(p.name for p in (a / "pseudo/frames").glob("*.png"))
    errors, differ, total = [], 0, 0
    for name in frames:
        fa, fb = _png(a / "pseudo/frames" / name), _png(b / "pseudo/frames" / name)
        d = np.abs(fa - fb)
        errors.append(float(d.astype(np.float64).mean()))
        differ += int(d.max(-1).astype(bool).sum())
        total += d.shape[0] * d.shape[1]
    mse = [float(((_png(a / "pseudo/frames" / n) - _png(b / "pseudo/frames" / n)).astype(np.float64) ** 2).mean())
           for n in frames]
    out["frames"] = {"count": len(frames), "mean_abs": round(float(np.mean(errors)), 4) if errors else 0.0,
                     "pixels_differ": round(differ / max(total, 1), 5),
                     "psnr_db": round(10 * math.log10(255 ** 2 / np.mean(mse)), 2) if mse and np.mean(mse) > 0
                     else math.inf}
    for k, p in (("A", a), ("B", b)):
        doc = p / "fit/fit.json"
        if doc.is_file():
            view = json.loads(doc.read_text())["metrics"]["input_view"]
            out[f"fit_{k}"] = {"psnr_db": view["masked_psnr_db"], "ssim": view["masked_ssim"]}
    return out


def _rig(bundle: Path) -> Rig:
    """The rig the pseudo stage textures: the bundle's tracked rig with the mouth interior
    (:func:`talkavatar.pseudo.stage.read_photo_view`)."""
    from safetensors import safe_open

    from talkavatar.core.body.mouth import with_mouth_interior

    with safe_open(str(bundle / "track/rig.safetensors"), framework="numpy") as f:
        return with_mouth_interior(Rig.from_tensors({k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", type=Path, nargs="+", help="pairs: A B [A2 B2 ...]")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if len(args.bundles) % 2:
        raise SystemExit("bundles come in pairs (A B)")
    rows = [compare(a, b) for a, b in zip(args.bundles[::2], args.bundles[1::2])]
    print("| photo | pseudo timings A / B s | proxy A / B | texture A / B | same files | offsets max diff m | "
          "bound texels differ / mean / max | ring texels differ / mean / max | gutter texels differ / mean / max | frames mean abs / pixels differ / "
          "PSNR B vs A dB | fit A input PSNR / SSIM | fit B |")
    print("|---" * 12 + "|")
    for r in rows:
        ta, tb = r["timings"]["A"], r["timings"]["B"]
        fits = [f"{r[k]['psnr_db']:.2f} / {r[k]['ssim']:.4f}" if k in r else "-" for k in ("fit_A", "fit_B")]
        bt, rt, gt, fr = r["texels_bound"], r["texels_ring"], r["texels_gutter"], r["frames"]
        print(f"| {r['photo']} | {sum(ta.values()):.2f} / {sum(tb.values()):.2f} | "
              f"{ta['proxy']:.2f} / {tb['proxy']:.2f} | {ta['texture']:.2f} / {tb['texture']:.2f} | "
              f"{len(r['same_files'])}/{r['files']} | "
              f"{r['offsets_max_diff_m']:.2e} | {bt['differ']}/{bt['count']} / {bt['mean']} / {bt['max']} | "
              f"{rt['differ']}/{rt['count']} / {rt['mean']} / {rt['max']} | "
              f"{gt['differ']}/{gt['count']} / {gt['mean']} / {gt['max']} | {fr['mean_abs']} / "
              f"{fr['pixels_differ']} / {fr['psnr_db']} | {fits[0]} | {fits[1]} |")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
