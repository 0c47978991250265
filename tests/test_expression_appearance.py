"""The face's expression-dependent appearance: the linear term poses like a naive loop, is stored and read back,
stays off without varied real frames, keeps its limits, and learns a colour that follows an expression."""

from __future__ import annotations

import torch

from talkavatar.core.avatar import Avatar
from talkavatar.core.cameras import Cameras
from talkavatar.core.expression_appearance import (CHANNELS, MIN_SPREAD, ExpressionAppearance, expression_spread,
                                                   local_edges)
from talkavatar.core.splats import rasterize
from talkavatar.fit.model import MAX_EXPRESSION_OFFSET, MAX_EXPRESSION_RGB, AvatarParameters
from talkavatar.fit.optimize import Adam
from talkavatar.motion.names import ARKIT_INDEX
from tests.toy_body import toy_rig


def _avatar(uv_res: int = 16, seed: int = 0) -> Avatar:
    avatar = Avatar.on_surface(toy_rig(dtype=torch.float32), uv_res)
    term = ExpressionAppearance.zeros(avatar.rig.expression_blendshapes, avatar.rig.faces, avatar.binding.face_index)
    g = torch.Generator().manual_seed(seed)
    term = ExpressionAppearance(term.index, term.channels, 0.002 * torch.randn(term.offsets.shape, generator=g),
                                0.2 * torch.randn(term.rgb.shape, generator=g))
    return Avatar(**{**avatar.__dict__, "expression": term})


def _weights(batch: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, 52, generator=torch.Generator().manual_seed(seed))


def test_the_term_poses_like_a_naive_loop_and_a_zero_term_changes_nothing():
    avatar = _avatar()
    term, weights = avatar.expression, _weights(3)
    assert 0 < term.index.shape[0] <= avatar.count and term.channels.shape[0] == len(CHANNELS)
    offsets, rgb = term.apply(avatar.offsets, avatar.rgb, weights)
    for b in range(3):
        want_offsets, want_rgb = avatar.offsets.clone(), avatar.rgb.clone()
        for m, n in enumerate(term.index.tolist()):
            for c, channel in enumerate(term.channels.tolist()):
                want_offsets[n] += weights[b, channel] * term.offsets[m, c]
                want_rgb[n] += weights[b, channel] * term.rgb[m, c]
        assert torch.allclose(offsets[b], want_offsets, atol=1e-6)
        assert torch.allclose(rgb[b], want_rgb.clamp(0, 1), atol=1e-6)
    posed = avatar.pose(torch.zeros(3, 55, 3), None, weights)
    assert torch.allclose(posed.rgb, rgb)
    zero = ExpressionAppearance(term.index, term.channels, torch.zeros_like(term.offsets), torch.zeros_like(term.rgb))
    plain = Avatar(**{**avatar.__dict__, "expression": None})
    with_zero = Avatar(**{**avatar.__dict__, "expression": zero})
    a, b = plain.pose(torch.zeros(3, 55, 3), None, weights), with_zero.pose(torch.zeros(3, 55, 3), None, weights)
    assert torch.allclose(a.means, b.means, atol=1e-7) and torch.allclose(a.rgb, b.rgb)


def test_the_term_is_stored_and_read_back(tmp_path):
    avatar = _avatar()
    avatar.save(tmp_path)
    back = Avatar.load(tmp_path)
    for name in ("index", "channels", "offsets", "rgb"):
        assert torch.equal(getattr(back.expression, name), getattr(avatar.expression, name))
    plain = Avatar(**{**avatar.__dict__, "expression": None})
    (tmp_path / "plain").mkdir()
    plain.save(tmp_path / "plain")
    assert Avatar.load(tmp_path / "plain").expression is None


def test_a_term_pointing_outside_the_avatar_is_refused():
    avatar = _avatar()
    tensors = {k: v.clone() for k, v in avatar.expression.tensors().items()}
    tensors["expression_index"][0] = avatar.count
    try:
        ExpressionAppearance.from_tensors(tensors, avatar.count)
    except ValueError as e:
        assert "Gaussians" in str(e)
    else:
        raise AssertionError("an index past the avatar was accepted")


def test_spread_and_local_edges():
    still = torch.full((5, 52), 0.3)
    assert expression_spread(still) == 0.0 and expression_spread(still[:1]) == 0.0
    moving = still.clone()
    moving[:, ARKIT_INDEX["jawOpen"]] = torch.tensor([0.0, 0.5, 0.0, 0.6, 0.1])
    assert expression_spread(moving) >= MIN_SPREAD
    moving[:, ARKIT_INDEX["tongueOut"]] = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0])  # not a followed channel
    assert expression_spread(moving) == expression_spread(moving[:, :])
    edges = torch.tensor([[0, 1], [1, 2], [2, 5], [5, 6]])
    assert local_edges(edges, torch.tensor([1, 2, 5]), 7).tolist() == [[0, 1], [1, 2]]


def test_parameters_carry_the_term_only_when_asked_and_keep_its_limits():
    rig = toy_rig(dtype=torch.float32)
    off = AvatarParameters.initial(rig, 16, None, None)
    assert off.expression() is None and off.avatar().expression is None
    assert not any(n.startswith("expression") for n, _ in off.named_parameters())
    on = AvatarParameters.initial(rig, 16, None, None, expression=True)
    assert {"expression_offsets", "expression_rgb"} <= {n for n, _ in on.named_parameters()}
    with torch.no_grad():
        on.expression_rgb.fill_(3.0)
        on.expression_offsets.fill_(1.0)
    on.project_()
    assert on.expression_rgb.max() == MAX_EXPRESSION_RGB
    assert on.expression_offsets.norm(dim=-1).max() <= MAX_EXPRESSION_OFFSET * (1 + 1e-5)


def test_a_colour_that_follows_an_expression_is_learned():
    """The true avatar darkens its face Gaussians by 0.25 per unit jawOpen; from renders at jawOpen 0, 0.5 and 1
    (the reference rasterizer) the term learns it: the error falls 10x and the visible Gaussians' jawOpen colour
    change comes out near -0.25."""
    rig = toy_rig(dtype=torch.float32)
    params = AvatarParameters.initial(rig, 16, None, None, expression=True)
    with torch.no_grad():
        base = params.avatar()
    jaw = list(CHANNELS).index("jawOpen")
    true_rgb = torch.zeros_like(params.expression_rgb)
    true_rgb[:, jaw] = -0.25
    truth = Avatar(**{**base.__dict__, "expression": ExpressionAppearance(
        params.expression_index, params.expression_channels, torch.zeros_like(true_rgb), true_rgb)})
    weights = torch.zeros(3, 52)
    weights[:, ARKIT_INDEX["jawOpen"]] = torch.tensor([0.0, 0.5, 1.0])
    rotations = torch.zeros(3, 55, 3)
    with torch.no_grad():
        centre = truth.pose(rotations[:1], None, weights[:1]).means[0].mean(0)
    cameras = Cameras.look_at(centre[None].expand(3, 3) + torch.tensor([[0.0, 0.0, 1.0]]), centre[None].expand(3, 3),
                              width=40, height=40)
    with torch.no_grad():
        target = rasterize(truth.pose(rotations, None, weights), cameras, backend="reference").rgb
    optimizer = Adam({"expression_rgb": params.expression_rgb}, {"expression_rgb": 0.02})
    errors, seen = [], None
    for _ in range(150):
        out = rasterize(params.avatar().pose(rotations, None, weights), cameras, backend="reference")
        loss = (out.rgb - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        if seen is None:  # the Gaussians the renders show
            seen = params.expression_rgb.grad[:, jaw].abs().sum(-1) > 0
        optimizer.step()
        params.project_()
        errors.append(float(loss.detach()))
    assert errors[-1] < 0.1 * errors[0] and seen.sum() > 10
    learned = params.expression_rgb.detach()[seen, jaw].mean()
    assert abs(float(learned) + 0.25) < 0.08
