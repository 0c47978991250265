"""The fit objective's shortcuts compute what the plain formulas compute."""

from __future__ import annotations

import torch

from talkavatar.fit.data import Poses, Views
from talkavatar.fit.model import AvatarParameters
from talkavatar.fit.objective import Objective, posed_mesh_samples
from tests.fit_fixtures import SIZE, camera
from tests.toy_body import toy_rig


def _photo(seed: int) -> Views:
    g = torch.Generator().manual_seed(seed)
    poses = Poses(torch.randn(1, 55, 3, generator=g) * 0.3, torch.randn(1, 3, generator=g) * 0.05,
                  torch.rand(1, 52, generator=g))
    mask = torch.zeros(1, SIZE, SIZE)
    mask[:, 20:76, 30:66] = 1
    return Views(torch.rand(1, SIZE, SIZE, 3, generator=g), mask, camera(0.0), poses)


def test_the_mesh_outline_on_the_kept_photo_pose_matches_posing_the_deformed_mesh():
    """The mask term projects the deformed mesh (rig + dT) in the photo's pose every step; with the pose fixed it
    turns dT by the kept frame's blended rotations instead of posing the rig: the same points and gradients."""
    params = AvatarParameters.initial(toy_rig(dtype=torch.float32), 16, None, None)
    photo = _photo(seed=5)
    objective = Objective(params, photo)
    assert objective.photo_frame is not None
    with torch.no_grad():
        params.vertex_offsets.copy_(torch.randn_like(params.vertex_offsets) * 0.02)
    kept = objective._project_mesh(params.vertex_offsets)
    (grad_kept,) = torch.autograd.grad(kept.square().sum(), params.vertex_offsets)
    plain = photo.cameras.project(posed_mesh_samples(params.rig, params.vertex_offsets, photo.poses, objective.faces,
                                                     objective.samples))[0][0]
    (grad_plain,) = torch.autograd.grad(plain.square().sum(), params.vertex_offsets)
    assert kept.shape == plain.shape == (objective.samples[0].shape[0], 2)
    assert (kept - plain).abs().max() < 1e-3  # pixels
    assert grad_plain.abs().max() > 0
    assert (grad_kept - grad_plain).abs().max() <= 1e-5 * grad_plain.abs().max()


def test_pseudo_frames_posed_on_their_kept_rig_frames_match_posing_them_fresh():
    """The pseudo frames' rig frames are made once (Objective.pseudo_frames); a step picks some of them: the same
    terms and gradients as posing the picked frames from scratch."""
    from talkavatar.core.losses import perceptual_distance

    params = AvatarParameters.initial(toy_rig(dtype=torch.float32), 16, None, None)
    frames = [_photo(seed) for seed in (1, 2, 3)]
    pseudo = Views(torch.cat([f.rgb for f in frames]), torch.cat([f.mask for f in frames]),
                   type(frames[0].cameras).cat([f.cameras for f in frames]),
                   Poses(*(torch.cat([getattr(f.poses, k) for f in frames]) for k in
                           ("joint_rotations", "root_translation", "arkit_weights"))))
    objective = Objective(params, frames[0], pseudo=pseudo)
    distance = perceptual_distance("efficientnet", torch.device("cpu"))
    pick, background = torch.tensor([2, 0]), torch.tensor([0.2, 0.5, 0.7])
    results = []
    for kept in (pick, None):
        terms = objective.pseudo_terms(params, pseudo.select(pick), background, distance, "reference", kept)
        total = terms["pseudo_perceptual"] + terms["pseudo_alpha"]
        results.append((total.detach(), torch.autograd.grad(total, (params.offsets, params.rgb))))
    (kept_total, kept_grads), (fresh_total, fresh_grads) = results
    assert kept_total > 0 and torch.allclose(kept_total, fresh_total, rtol=1e-5)
    for a, b in zip(kept_grads, fresh_grads):
        assert b.abs().max() > 0 and (a - b).abs().max() <= 1e-4 * b.abs().max()
