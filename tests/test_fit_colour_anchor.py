"""The colour anchor and the settled colours: Gaussians the photo hides (the back of the body) keep their initial
(completed) colours instead of taking Adam's full-size steps on their tiny gradients; the ones it sees face-on are
not anchored (fit.visibility) and learn the photo as without it; after the fit, what the photo neither sees nor shows
is given back to the completed texture, and a black-and-white photo makes a grey avatar."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from talkavatar.core.avatar import Avatar
from talkavatar.core.body.mouth import INNER_LIP_RING, lip_region_faces
from talkavatar.core.splats import rasterize
from talkavatar.fit.config import FitConfig
from talkavatar.fit.data import Views, load_fit_data
from talkavatar.fit.model import AvatarParameters
from talkavatar.fit.stage import run_fit
from talkavatar.fit.visibility import (ANCHOR_SHOWN, LIP_ANCHOR, SMALL_FACE, colour_anchor_weights, opening_lips,
                                       photo_contribution, photo_visibility, settled_colours, solid_weights)
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
    assert drift_anchored < 0.5 * drift_free  # (the far side shows between the toy's few Gaussians: not settled)
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
    lips = lip_region_faces(data.rig)[params.avatar().binding.face_index].numpy()
    assert lips.any() and (anchored[lips] == LIP_ANCHOR).all()  # the lips held (messi5's painted-open mouth)
    shown = photo_contribution(params.avatar(), data.photo).numpy()  # the toy's few Gaussians: the far side shows
    keep = ~lips  # the rest as the photo sees it
    anchored, held, seen, depth, shown = anchored[keep], held[keep], seen[keep], depth[keep], shown[keep]
    assert (anchored[(depth > np.percentile(depth, 70)) & (shown < 1e-4)] > 0.99).all()
    squarely = np.median(shown[seen >= 0.25])  # the pixels of a Gaussian the photo sees face-on
    assert (anchored[shown >= ANCHOR_SHOWN * squarely] == 0).all()
    held_back = (seen == 0) & (shown < 0.5 * ANCHOR_SHOWN * squarely)  # shown a little: still held
    assert held_back.sum() > 0 and (anchored[held_back] >= 0.5).all()
    assert (anchored[seen >= 0.25] == 0).all() and (seen >= 0.25).sum() > 0.1 * len(seen)
    assert np.allclose(held, 1 - seen) and (anchored <= held + 1e-6).all()
    # a clip's frame that sees the far side (a camera behind) frees it from the anchor as the photo frees the near side
    photo = data.photo
    cams = camera(180.0)
    behind = Views(photo.rgb, torch.ones_like(photo.mask), cams.to(dtype=photo.cameras.world_to_camera.dtype),
                   photo.poses)
    both = colour_anchor_weights(params.avatar(), photo, behind).numpy()
    both = both[keep]
    far = depth > np.percentile(depth, 90)
    assert np.median(both[far]) == 0 and (both <= anchored + 1e-6).all()


def test_settled_colours_give_back_what_the_photo_does_not_show_and_grey_a_greyscale_photo(tmp_path):
    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    from talkavatar.bundle import Bundle

    data = load_fit_data(Bundle.open(root), 96, 32, 0, 96, use_pseudo=False)
    params = AvatarParameters.initial(data.rig, 48, data.texture, data.proxy_offsets)  # the far side hidden
    initial = params.initial_rgb.detach()
    drifted = (initial + 0.2 * torch.rand(initial.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    avatar = replace(params.avatar(), rgb=drifted)
    shown = photo_contribution(avatar, data.photo)
    photo = data.photo
    pose = [t[:1] for t in (photo.poses.joint_rotations, photo.poses.root_translation, photo.poses.arkit_weights)]

    def render(rgb):
        return rasterize(replace(avatar, rgb=rgb).pose(*pose), photo.cameras[0:1], background=torch.zeros(3)).rgb[0]

    # the blend weights summed over the person: the render's sum over the mask is the colours weighted by them
    masked = (render(drifted) * photo.mask[0][..., None]).sum()
    assert torch.isclose(masked, (shown[:, None] * drifted).sum(), rtol=1e-4)
    settled = settled_colours(avatar, initial, photo)
    lips = lip_region_faces(avatar.rig)[avatar.binding.face_index]  # the toy's "lips" stay the fit's
    unseen = (photo_visibility(avatar, photo) == 0) & (shown < 1e-4) & ~lips  # the far side, behind the near one
    assert unseen.sum() > 0.1 * len(unseen) and torch.allclose(settled[unseen], initial[unseen], atol=1e-3)
    taught = shown > 0.1
    assert taught.sum() > 0.1 * len(taught) and torch.equal(settled[taught], drifted[taught])
    # the photo's own view hardly changes: what changed is what it does not show
    assert (render(settled) - render(drifted)).abs().max() < 0.02
    grey = Views(photo.rgb.mean(-1, keepdim=True).expand_as(photo.rgb), photo.mask, photo.cameras, photo.poses)
    greyed = settled_colours(avatar, initial, grey)
    assert torch.allclose(greyed, greyed[:, :1].expand_as(greyed))
    assert torch.allclose(greyed.mean(-1), settled.mean(-1), atol=1e-6)


def test_lips_over_the_photos_open_mouth_take_their_texture_colour_back(tmp_path):
    """A small face's tracked lips lie over the photo's open mouth and the fit paints them dark (messi5): after the
    fit, the lips the photo sees inside its inner-lip contour take back their initial colour; the other lips keep
    the fit's; without a face, or on a large one, nothing changes."""
    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    from talkavatar.bundle import Bundle

    data = load_fit_data(Bundle.open(root), 96, 32, 0, 96, use_pseudo=False)
    params = AvatarParameters.initial(data.rig, 48, data.texture, data.proxy_offsets)
    initial = params.initial_rgb.detach()
    avatar = replace(params.avatar(), rgb=(initial * 0.2).detach())  # the lips painted dark by the fit
    photo = data.photo
    lips = lip_region_faces(avatar.rig)[avatar.binding.face_index] & (photo_visibility(avatar, photo) > 0)
    pose = [t[:1] for t in (photo.poses.joint_rotations, photo.poses.root_translation, photo.poses.arkit_weights)]
    pixels = photo.cameras[0:1].project(avatar.pose(*pose).means[0])[0][0]
    centre, spread = pixels[lips].median(0).values, pixels[lips].std(0)
    angle = torch.linspace(0, 2 * torch.pi, len(INNER_LIP_RING) + 1)[:-1]
    face_xy = torch.zeros(478, 2)  # an opening around the middle of the seen lips, a third of their spread
    face_xy[list(INNER_LIP_RING)] = centre + torch.stack([angle.cos(), angle.sin()], -1) * spread / 3
    face_xy[[33, 263]] = centre + torch.tensor([[-10.0, -8.0], [10.0, -8.0]])  # a small face: eyes 20 px apart
    over = opening_lips(avatar, photo, face_xy)
    assert 0 < over.sum() < lips.sum() and not (over & ~lips).any()
    settled = settled_colours(avatar, initial, photo, given_back=over)
    assert torch.equal(settled[over], initial[over])
    assert torch.equal(settled[lips & ~over], avatar.rgb[lips & ~over])
    assert not opening_lips(avatar, photo, None).any()
    large = face_xy.clone()
    large[[33, 263]] = centre + torch.tensor([[-SMALL_FACE, -8.0], [SMALL_FACE, -8.0]])  # the opening's teeth are real
    assert not opening_lips(avatar, photo, large).any()
    assert torch.equal(settled_colours(avatar, initial, photo)[over], avatar.rgb[over])


def test_a_profiles_face_is_settled_at_least_as_opaque_as_the_fit_starts_it(tmp_path):
    """The Gaussians given back (a profile's drawn face) that the fit thinned get the starting opacity back; thicker
    ones and every other Gaussian keep the fit's."""
    from talkavatar.bundle import Bundle
    from talkavatar.core.avatar import SURFACE_OPACITY
    from talkavatar.fit.visibility import settled_opacity

    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    data = load_fit_data(Bundle.open(root), 96, 32, 0, 96, use_pseudo=False)
    avatar = AvatarParameters.initial(data.rig, 48, data.texture, data.proxy_offsets).avatar()
    n = avatar.count
    fitted = torch.linspace(-4.0, 6.0, n)                                # opacities 0.018 .. 0.998
    given = torch.arange(n) % 2 == 0
    out = settled_opacity(replace(avatar, opacity_logit=fitted), given)
    assert torch.equal(out[~given], fitted[~given])
    assert torch.allclose(torch.sigmoid(out[given]), torch.sigmoid(fitted[given]).clamp_min(SURFACE_OPACITY))


def test_a_profiles_whole_face_is_given_back_and_a_three_quarter_view_keeps_its_own():
    """profile_front on Anny's rest head: a photo from 75 degrees to its left (a profile) gives back the face below
    the brows (forward-facing head Gaussians low on the head, none facing backwards on its back half); one from 30
    degrees nothing."""
    import math

    import pytest

    pytest.importorskip("anny")
    from talkavatar.core.body.parts import PART, texel_parts
    from talkavatar.core.cameras import Cameras
    from talkavatar.core.losses.mesh import face_normals
    from talkavatar.fit.data import Poses
    from talkavatar.fit.visibility import profile_front
    from tests.eval_fixtures import anny_rig

    rig = anny_rig().to(dtype=torch.float32)
    avatar = Avatar.on_surface(rig, 64)
    binding = avatar.binding
    head = torch.from_numpy(texel_parts(rig, binding.face_index, binding.barycentrics) == PART["head"])
    points = binding.surface_points(rig.vertices[None], rig.faces)[0]
    normal_z = face_normals(rig.vertices[None], rig.faces)[0][binding.face_index][:, 2]
    height = (points[:, 1] - points[head, 1].min()) / (points[head, 1].max() - points[head, 1].min())
    centre = points[head].mean(0)
    still = Poses(torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52))
    given = {}
    for yaw in (75.0, 30.0):
        a = math.radians(yaw)
        eye = centre + 1.5 * torch.tensor([math.sin(a), 0.0, math.cos(a)])
        photo = Cameras.look_at(eye, centre, width=128, height=128, fov_y_degrees=30.0)
        views = Views(torch.zeros(1, 128, 128, 3), torch.ones(1, 128, 128, dtype=torch.bool), photo, still)
        given[yaw] = profile_front(avatar, views)
    face = head & (normal_z > 0.5) & (height < 0.6)
    back = head & (points[:, 2] < (points[head, 2].min() + points[head, 2].max()) / 2)  # the back half: hair, nape
    assert face.sum() > 50 and (back & (normal_z < 0)).sum() > 50
    assert given[75.0][face].all() and not given[75.0][back & (normal_z < 0)].any()
    assert not given[75.0][~head].any() and not given[30.0].any()


def test_what_a_detected_hand_hides_keeps_its_completed_colour_not_the_hands(tmp_path):
    """The photo shows a hand (orange, shaded fingers) over a stretch of the toy that the tracked toy has no hand in
    front of (laughing: his tracked hand lies inside the forehead, which the photo's and the hand crop's losses then
    painted with his fingers). The fitted avatar, seen from the photo's camera, shows there what the completed
    texture says (the truth's stripes), not the hand; what the hand does not cover still learns the photo."""
    from tests.fit_fixtures import HAND_SRGB, _render, hand_over, truth_avatar

    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0, hand=True)
    run_fit(root, FitConfig(**{**SMALL, "uv_res": 32}), device="cpu", force=True, log=lambda m: None,
            warn=lambda m: None)
    truth = truth_avatar()
    pose = (torch.zeros(1, 55, 3), torch.zeros(1, 3), torch.zeros(1, 52))
    want, mask = _render(truth, camera(0.0), *pose)
    got, _ = _render(Avatar.load(root / "fit"), camera(0.0), *pose)
    (x0, y0, x1, y1), _ = hand_over(truth, camera(0.0))
    yy, xx = np.mgrid[:want.shape[1], :want.shape[2]] + 0.5
    body = mask[0] > 250
    under = body & (xx >= x0 + 2) & (xx <= x1 - 2) & (yy >= y0) & (yy <= y1)  # well inside the hand's region
    beside = body & ((xx < x0 - 3) | (xx > x1 + 3))
    assert under.sum() >= 30 and beside.sum() >= 100
    got, want = got[0] / 255.0, want[0] / 255.0
    hand = np.abs(want[under] - HAND_SRGB).mean()  # how far the hand's colour is from the truth there
    assert np.abs(got[under] - want[under]).mean() < 0.25 * hand  # the truth's stripes, not the fingers
    assert np.abs(got[beside] - want[beside]).mean() < 0.06  # beside the hand, the photo's colours as fitted


def test_a_small_faces_mouth_interior_is_given_back_and_a_large_ones_keeps_the_fits():
    """small_face_interior on Anny's rig: with the photo's eyes under SMALL_FACE px apart, the teeth, tongue, cavity
    and inner lips (every mouth-chart colour) are given back, nothing else; on a larger face or without one, none;
    settled_opacity gives them their starting opacity back."""
    import pytest

    pytest.importorskip("anny")
    from talkavatar.core.avatar import SURFACE_OPACITY
    from talkavatar.core.body.mouth import MOUTH_COLOURS, mouth_texels, with_mouth_interior
    from talkavatar.fit.visibility import settled_opacity, small_face_interior
    from tests.eval_fixtures import anny_rig

    rig = with_mouth_interior(anny_rig()).to(dtype=torch.float32)
    avatar = Avatar.on_surface(rig, 64)
    parts = mouth_texels(rig, avatar.binding.face_index)
    assert set(np.unique(parts.numpy())) == {-1, *range(len(MOUTH_COLOURS))}
    face_xy = torch.zeros(478, 2)
    face_xy[263, 0] = SMALL_FACE - 1.0
    given = small_face_interior(avatar, face_xy)
    assert torch.equal(given, parts >= 0)
    face_xy[263, 0] = SMALL_FACE + 1.0
    assert not small_face_interior(avatar, face_xy).any() and not small_face_interior(avatar, None).any()
    thinned = replace(avatar, opacity_logit=torch.full_like(avatar.opacity_logit, -2.0))  # the fit thinned them
    opacity = torch.sigmoid(settled_opacity(thinned, given))
    assert torch.allclose(opacity[given], torch.tensor(SURFACE_OPACITY))
    assert torch.equal(opacity[~given], torch.sigmoid(thinned.opacity_logit[~given]))


def test_a_drawn_faces_geometry_is_given_back_as_the_fit_started_it(tmp_path):
    """restore_geometry_ puts the chosen Gaussians' offsets, scales and (oval) turns back to what geometry() copied
    before the fit moved them, and leaves every other Gaussian as fitted."""
    from talkavatar.bundle import Bundle

    root = make_bundle(tmp_path / "syn.avatar", pseudo_frames=0)
    data = load_fit_data(Bundle.open(root), 96, 32, 0, 96, use_pseudo=False)
    for shape in ("flat", "oval"):
        params = AvatarParameters.initial(data.rig, 48, data.texture, data.proxy_offsets, shape)
        start = params.geometry()
        assert set(start) == ({"offsets", "log_scales", "turn"} if shape == "oval" else {"offsets", "log_scales"})
        with torch.no_grad():
            for name in start:
                getattr(params, name).add_(0.01 * torch.randn_like(start[name]))
        moved = params.geometry()
        given = torch.arange(params.binding.count) % 3 == 0
        params.restore_geometry_(start, given)
        for name in start:
            now = getattr(params, name).detach()
            assert torch.equal(now[given], start[name][given])
            assert torch.equal(now[~given], moved[name][~given])
            assert not torch.equal(now[~given], start[name][~given])
