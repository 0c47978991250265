"""The solidity prior: Gaussians the photo does not see stay opaque (fit's new views have no see-through patches);
those it sees face-on keep the opacity the photo asks for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from talkavatar.core.avatar import Avatar
from talkavatar.fit.config import FitConfig
from talkavatar.fit.objective import LossWeights
from talkavatar.fit.stage import run_fit
from tests.fit_fixtures import camera, make_bundle

SMALL = dict(preset="tiny", uv_res=20, image_size=96, crop_size=32, pseudo_size=64, iters=60)


def _fit(root, solidity: float) -> tuple[np.ndarray, float, dict]:
    result = run_fit(root, FitConfig(**SMALL), device="cpu", force=True, log=lambda m: None, warn=lambda m: None,
                     loss_weights=replace(LossWeights(), solidity=solidity))
    avatar = Avatar.load(root / "fit")
    return (torch.sigmoid(avatar.opacity_logit).detach().numpy(), result.metrics["input_view"]["masked_psnr_db"],
            result.metrics["coverage"])


def test_unseen_gaussians_stay_opaque_and_the_photo_is_kept(tmp_path):
    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=4)
    free, psnr_free, _ = _fit(root, 0.0)
    solid, psnr_solid, coverage = _fit(root, LossWeights().solidity)
    avatar = Avatar.load(root / "fit")
    g = avatar.pose(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52))
    depth = (g.means[0] - camera(0.0).centers[0]).norm(dim=-1).numpy()
    hidden = depth > np.percentile(depth, 70)  # the far side of the tube from the photo's camera
    assert (1 - solid[hidden]).mean() < 0.5 * (1 - free[hidden]).mean()
    assert psnr_solid > psnr_free - 0.3
    assert max(v["hole_fraction"] for k, v in coverage.items() if k != "input") <= 0.05
