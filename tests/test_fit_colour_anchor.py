"""The colour anchor: Gaussians the photo hides (the back of the body) keep their initial colours instead of taking
Adam's full-size steps on their tiny gradients; the ones it sees face-on are not anchored (fit.visibility) and learn
the photo as without it."""

from __future__ import annotations

import numpy as np
import torch

from talkavatar.core.avatar import Avatar
from talkavatar.fit.config import FitConfig
from talkavatar.fit.data import load_fit_data
from talkavatar.fit.model import AvatarParameters
from talkavatar.fit.stage import run_fit
from talkavatar.fit.visibility import solid_weights, colour_anchor_weights, photo_visibility
from tests.fit_fixtures import camera, make_bundle

SMALL = dict(preset="tiny", uv_res=20, image_size=96, crop_size=32, iters=60, pseudo_weight=0.0)


def _colours(root, anchor: float) -> tuple[np.ndarray, np.ndarray]:
    result = run_fit(root, FitConfig(**SMALL, colour_anchor=anchor), device="cpu", force=True, log=lambda m: None,
                     warn=lambda m: None)
    avatar = Avatar.load(root / "fit")
    return avatar.rgb.detach().numpy(), result.metrics["input_view"]["masked_psnr_db"]


def test_hidden_gaussians_keep_their_colour_and_seen_ones_learn(tmp_path):
    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    free, psnr_free = _colours(root, 0.0)
    anchored, psnr_anchored = _colours(root, 0.1)  # the weight RESULTS measured on side_45
    avatar = Avatar.load(root / "fit")
    g = avatar.pose(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52))
    depth = (g.means[0] - camera(0.0).centers[0]).norm(dim=-1).numpy()
    hidden = depth > np.percentile(depth, 70)  # the far side of the tube from the photo's camera
    initial = Avatar.on_surface(avatar.rig, avatar.binding.uv_res, None).rgb.numpy()
    drift_free = np.abs(free - initial)[hidden].mean()
    drift_anchored = np.abs(anchored - initial)[hidden].mean()
    assert drift_anchored < 0.5 * drift_free
    assert psnr_anchored > psnr_free - 0.3  # the seen side is not anchored


def test_the_photo_sees_the_near_side_face_on_and_not_the_far_side(tmp_path):
    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    from talkavatar.bundle import Bundle

    data = load_fit_data(Bundle.open(root), 96, 32, 0, 96, use_pseudo=False)
    params = AvatarParameters.initial(data.rig, 20, data.texture, data.proxy_offsets)
    seen = photo_visibility(params.avatar(), data.photo).numpy()
    g = params.avatar().pose(*(t[:1] for t in (data.photo.poses.joint_rotations, data.photo.poses.root_translation,
                                                data.photo.poses.arkit_weights)))
    depth = (g.means[0] - data.photo.cameras.centers[0]).norm(dim=-1).detach().numpy()
    assert seen.min() >= 0 and seen.max() <= 1
    assert (seen[depth > np.percentile(depth, 70)] == 0).all()  # the far side of the tube
    assert np.median(seen[depth < np.percentile(depth, 10)]) > 0.6  # the nearest strip, seen face-on
    # the colour anchor holds what the photo does not see and leaves what it sees squarely to the photo alone (a
    # pull in proportion to 1 - cosine cost the astronaut's input view 0.3-0.6 dB); the solidity prior keeps 1 - cosine
    held = solid_weights(params.avatar(), data.photo).numpy()
    anchored = colour_anchor_weights(params.avatar(), data.photo).numpy()
    assert (anchored[depth > np.percentile(depth, 70)] == 1).all()
    assert (anchored[seen >= 0.25] == 0).all() and (seen >= 0.25).sum() > 0.1 * len(seen)
    assert np.allclose(held, 1 - seen) and (anchored <= held + 1e-6).all()
    # a clip's frame that sees the far side (a camera behind) frees it from the anchor as the photo frees the near side
    from talkavatar.fit.data import Views

    photo = data.photo
    cams = camera(180.0)
    behind = Views(photo.rgb, torch.ones_like(photo.mask), cams.to(dtype=photo.cameras.world_to_camera.dtype),
                   photo.poses)
    both = colour_anchor_weights(params.avatar(), photo, behind).numpy()
    far = depth > np.percentile(depth, 90)
    assert np.median(both[far]) == 0 and (both <= anchored + 1e-6).all()
