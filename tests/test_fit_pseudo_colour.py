"""The pseudo frames' colour term: blind to fine details that do not line up, not to a change of colour."""

from __future__ import annotations

import torch

from talkavatar.fit.objective import LossWeights, low_pass_l1, weighted_total


def test_low_pass_l1_sees_colour_not_misaligned_detail():
    navy = torch.tensor([0.15, 0.15, 0.25])
    stripes = torch.zeros(1, 64, 64, 3) + navy
    stripes[:, :, ::2] += 0.2  # a fine pattern
    shifted = torch.roll(stripes, 1, dims=2)  # the same pattern one pixel off
    assert low_pass_l1(stripes, shifted) < 1e-6
    assert (stripes - shifted).abs().mean() > 0.19  # plain L1 would punish the misalignment
    blobs = stripes.clone()
    blobs[:, 16:48, 16:48] = torch.tensor([0.1, 0.7, 0.2])  # a green blob on the navy shirt
    assert low_pass_l1(stripes, blobs) > 0.05


def test_the_colour_term_is_weighted_with_the_pseudo_frames():
    w = LossWeights().scaled(pseudo=0.0, mesh=1.0, crop=1.0)
    assert float(weighted_total({"pseudo_colour": torch.tensor(1.0)}, w)) == 0.0
    w = LossWeights().scaled(pseudo=2.0, mesh=1.0, crop=1.0)
    assert float(weighted_total({"pseudo_colour": torch.tensor(1.0)}, w)) == 2 * LossWeights().pseudo_colour
