"""Unseen-part plausibility of pseudo's completed texture alone (fit's initial avatar), cheap enough for the CPU:

    python benchmarks/completion_views.py BUNDLE PHOTO UV_RES VIEWS.png

The bundle needs track/ and pseudo/ (texture.png); its texture is resampled to UV_RES, put on the rig as
Gaussians (Avatar.on_surface), and measured by presentable_video.plausibility on 224x416 rest-pose views (yaw 0, +90,
-90, 180): unseen skin share and Laplacian ratio, printed; the four views saved side by side.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(bundle_path: str, photo_path: str, uv_res: int, views_png: str) -> None:
    import torch
    from PIL import Image

    import benchmarks.presentable_video as pv
    from talkavatar.bundle import Bundle
    from talkavatar.core.avatar import Avatar
    from talkavatar.core.body.rig import Rig
    from talkavatar.core.color import srgb_to_linear

    pv.VIEW_SIZE = (224, 416)
    bundle = Bundle.open(bundle_path)
    rig = Rig.from_tensors(*bundle.read_tensors("track/rig.safetensors", "talkavatar.rig"))
    texture = torch.from_numpy(np.asarray(bundle.read_png("pseudo/texture.png"))[..., :3].astype(np.float32) / 255)
    texture = torch.nn.functional.interpolate(texture.permute(2, 0, 1)[None], size=(uv_res, uv_res),
                                              mode="area")[0].permute(1, 2, 0)
    avatar = Avatar.on_surface(rig, uv_res, srgb_to_linear(texture))
    with torch.no_grad():
        figures = pv.plausibility(bundle, avatar, *pv.read_photo(photo_path), "cpu")
    Image.fromarray(np.concatenate(figures.pop("views"), 1)).save(views_png)
    print(bundle_path, figures)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
