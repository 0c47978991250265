"""The photo's pixels a detected hand covers (core.hand_cover): the hull of its points and half a finger's width."""

from __future__ import annotations

import numpy as np

from talkavatar.core.hand_cover import hand_region, margin


def test_a_hand_covers_its_points_hull_and_a_margin_beyond_only():
    rng = np.random.default_rng(0)
    hand = rng.uniform((40, 30), (90, 80), (21, 2))  # a hand spread over a 50 px square
    region = hand_region([hand], 120, 160)
    assert region.shape == (120, 160)
    assert region[np.round(hand[:, 1]).astype(int), np.round(hand[:, 0]).astype(int)].all()
    far = margin(hand) + 2  # beyond half a finger's width, nothing
    rows, cols = np.nonzero(region)
    assert cols.min() >= hand[:, 0].min() - far and cols.max() <= hand[:, 0].max() + far
    assert rows.min() >= hand[:, 1].min() - far and rows.max() <= hand[:, 1].max() + far
    assert not hand_region([], 120, 160).any()
    two = hand_region([hand, hand + (60, 30)], 120, 160)
    assert two.sum() > region.sum() and (two | region).sum() == two.sum()
