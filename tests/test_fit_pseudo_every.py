"""The pseudo frames' terms on every k-th step of their stretch (fit.optimize.Schedule.pseudo_every), weighted k
times: which steps have them, and the weights their steps' totals are made with."""

from __future__ import annotations

import torch

from talkavatar.bundle import Bundle
from talkavatar.core.losses import perceptual_distance
from talkavatar.fit.data import load_fit_data
from talkavatar.fit.model import AvatarParameters, learning_rates
from talkavatar.fit.objective import LossWeights, term_weight
from talkavatar.fit.optimize import Schedule, run_steps
from tests.fit_fixtures import make_bundle


def test_schedule_picks_every_kth_step_between_warm_up_and_refinement():
    assert [it for it in range(12) if Schedule(12, 3, 1, 2).pseudo_step(it)] == [3, 4, 5, 6, 7, 8, 9]
    assert [it for it in range(12) if Schedule(12, 3, 1, 2, pseudo_every=2).pseudo_step(it)] == [3, 5, 7, 9]
    assert [it for it in range(12) if Schedule(12, 3, 1, 2, pseudo_every=3).pseudo_step(it)] == [3, 6, 9]


def test_pseudo_steps_every_other_step_weigh_their_terms_twice(tmp_path):
    """A 10-step fit of the toy (warm-up 2, refinement 2, pseudo frames every other step): the loss history (one
    entry a step here) has the pseudo terms at steps 2, 4 and 6 only, and each step's total is its terms times the
    weights, the pseudo ones doubled on those steps."""
    data = load_fit_data(Bundle.open(make_bundle(tmp_path / "syn.avatar", pseudo_frames=4)), 96, 32, 4, 64)
    params = AvatarParameters.initial(data.rig, 20, None, None)
    weights = LossWeights()
    progress = run_steps(params, data, Schedule(10, 2, 1, 2, pseudo_every=2), weights, learning_rates(10),
                         perceptual_distance("efficientnet"), 0, backend="reference")
    assert len(progress.history) == 10
    doubled = LossWeights(perceptual=2 * weights.perceptual, pseudo_alpha=2 * weights.pseudo_alpha)
    for entry in progress.history:
        it = entry["step"] - 1
        terms = {k: v for k, v in entry.items() if k not in ("step", "seconds", "total")}
        assert ("pseudo_perceptual" in terms) == (it in (2, 4, 6))
        w = doubled if "pseudo_perceptual" in terms else weights
        total = sum(term_weight(k, w) * v for k, v in terms.items())
        assert abs(total - entry["total"]) <= 1e-5 * max(1.0, abs(total))
    assert torch.isfinite(params.rgb).all()
