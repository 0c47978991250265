"""Parts the photo's detector did not see, lying where the photo's mask shows no person (soldier_bw's legs, cut off by
the frame and hung down through his coat, which MediaPipe's mask leaves out): the photo's losses leave their
Gaussians out, so the fit keeps them opaque instead of thinning them into holes in every other view."""

from __future__ import annotations

from dataclasses import replace

import torch

from talkavatar.bundle import Bundle
from talkavatar.core.body.parts import PART
from talkavatar.fit.data import Views, load_fit_data
from talkavatar.fit.model import AvatarParameters, learning_rates
from talkavatar.fit.objective import LossWeights, Objective
from talkavatar.fit.optimize import Schedule, run_steps
from talkavatar.fit.visibility import _parts, off_photo
from tests.fit_fixtures import make_bundle

FOREARM = (PART["forearm"],)  # the toy's "elbow" bone: the part its photo's mask leaves out here
STEPS = 40


def _data(tmp_path):
    """The toy's bundle at a small size with the person mask cleared over its forearm (the segmenter missed it: the
    photo's pixels there count as background), and the forearm unseen by the detector."""
    data = load_fit_data(Bundle.open(make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)), 96, 32, 0, 64)
    params = AvatarParameters.initial(data.rig, 20, None, None)
    avatar = params.avatar()
    p = data.photo.poses
    pixels = data.photo.cameras.project(avatar.pose(p.joint_rotations, p.root_translation, p.arkit_weights).means[0])
    forearm = torch.from_numpy(_parts(avatar) == PART["forearm"])
    mask = data.photo.mask.clone()
    px = pixels[0][0][forearm].floor().long().clamp(0, mask.shape[-1] - 1)
    for dx in range(-3, 4):  # cleared a few pixels round each of its Gaussians' centres
        for dy in range(-3, 4):
            mask[0, (px[:, 1] + dy).clamp(0, mask.shape[1] - 1), (px[:, 0] + dx).clamp(0, mask.shape[2] - 1)] = 0.0
    photo = Views(data.photo.rgb, mask, data.photo.cameras, data.photo.poses)
    return replace(data, photo=photo, crops=None, unseen_parts=FOREARM), forearm


def _fit(data, leave_out: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Photo-only steps from the grey starting avatar -> (opacities [N], the Gaussians left out [N] bool)."""
    params = AvatarParameters.initial(data.rig, 20, None, None)
    if leave_out:
        params.off_photo.copy_(off_photo(params.avatar(), data.photo, data.unseen_parts))
    weights = replace(LossWeights(), solidity=0.0, colour_anchor=0.0, perceptual=0.0)
    run_steps(params, data, Schedule(STEPS, 0, 1), weights, learning_rates(STEPS), None, 0, backend="reference")
    return torch.sigmoid(params.opacity_logit.detach()), params.off_photo.clone()


def test_off_photo_picks_the_unseen_part_off_the_mask_only(tmp_path):
    data, forearm = _data(tmp_path)
    avatar = AvatarParameters.initial(data.rig, 20, None, None).avatar()
    out = off_photo(avatar, data.photo, data.unseen_parts)
    assert out.any() and not (out & ~forearm).any()  # the forearm's, no other part's
    assert not off_photo(avatar, data.photo, ()).any()  # every part seen: none
    whole = Views(data.photo.rgb, torch.ones_like(data.photo.mask), data.photo.cameras, data.photo.poses)
    inside = off_photo(avatar, whole, data.unseen_parts)  # on the mask: only the forearm outside the picture
    assert inside.sum() < out.sum()


def test_the_photo_neither_sees_nor_thins_what_it_leaves_out(tmp_path):
    data, _ = _data(tmp_path)
    params = AvatarParameters.initial(data.rig, 20, None, None)
    params.off_photo.copy_(off_photo(params.avatar(), data.photo, data.unseen_parts))
    objective = Objective(params, data.photo)
    posed = objective.pose(params)
    assert torch.sigmoid(posed.opacity_logit[0][params.off_photo]).max() < 1e-9
    terms = objective.image_terms(params, data.photo, torch.tensor([0.2, 0.5, 0.9]), "photo", "reference", posed)
    (terms["photo_l1"] + terms["photo_alpha"]).backward()
    grad = params.opacity_logit.grad
    assert grad[params.off_photo].abs().max() == 0
    assert grad[~params.off_photo].abs().max() > 0


def test_a_fit_keeps_the_left_out_part_opaque(tmp_path):
    data, forearm = _data(tmp_path)
    thinned, left = _fit(data, leave_out=False)
    kept, left_out = _fit(data, leave_out=True)
    assert left_out.sum() > 20 and not left.any()
    # fitted to the photo's background there, the forearm fades; left out, it stays as opaque as it started (0.95)
    assert thinned[left_out].mean() < 0.8
    assert kept[left_out].mean() > 0.93
    # the rest of the avatar is fitted alike (but next to the forearm, which the two fits show differently)
    assert (kept[~forearm] - thinned[~forearm]).abs().median() < 0.005
