"""The track stage's speed paths compute bitwise what the plain torch expressions they replace compute.

- ``GroupedLandmarks`` sums each landmark from its non-zero vertex weights and sends the gradient back in the
  landmark map's own order: its landmarks and their gradients (vertices and joints) equal the padded map's
  (``LandmarkMap.__call__``) bit for bit, for batches of 1 and 3 frames.
- ``splat_density`` masks the points outside the grid instead of indexing them away: density and gradient equal
  the indexed version's (written out here) bit for bit, with points inside and outside the image.
- the fit makes the rest of a held shape and the expression offsets of held ARKit weights once a stage
  (``fitting._frozen_parts``): a silhouette fit of every stage (shape fitted, arms placed by their points, an open
  mouth seen, a coat around the body) ends bit for bit where making them at every posing ends. (That the
  silhouette's posing may read the landmarks' rest, detached, is checked on the real photos against main:
  benchmarks/RESULTS.md, nineteenth session, speed19; here a posing sharing the fitted expression's offsets between
  the two terms changed nothing, on the astronaut it moved a joint 0.13 rad.)
- ``import_mediapipe`` leaves matplotlib unimported (checked in a fresh interpreter) and a later
  ``import matplotlib.pyplot`` still gets the real module.

Not bitwise, checked against the reference to rounding:
- the mask's hole filling against scipy's ``binary_fill_holes`` (track no longer imports scipy.ndimage; the guided
  filter's OpenCV box means: tests/test_track_ops.py against its naive reference);
- posing only the vertices the landmarks read (``track.landmark_vertices``): the same landmarks and gradients (joint
  rotations, expression weights, shape) as the whole body's.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from talkavatar.core.silhouette import splat_density
from talkavatar.track.mask import fill_holes, refine_mask


def _indexed_splat(points_px, width, height, grid):
    """splat_density's density before the blur, with the outside points indexed away: [gh * gw]."""
    gw, gh = grid
    scaled = [points_px[:, i] * (cells / extent) - 0.5 for i, cells, extent in ((0, gw, width), (1, gh, height))]
    floors = [s.floor().detach() for s in scaled]
    fx, fy = (s - f for s, f in zip(scaled, floors))
    density = points_px.new_zeros(gh * gw)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
        cx, cy = floors[0].long() + dx, floors[1].long() + dy
        keep = (cx >= 0) & (cx < gw) & (cy >= 0) & (cy < gh)
        density = density.index_add(0, (cy * gw + cx)[keep], weight[keep])
    return density


def test_splat_density_equals_the_indexed_sum_bitwise():
    torch.manual_seed(0)
    points = (torch.rand(5000, 2) * 700 - 100).requires_grad_(True)  # a fifth outside the 500 x 400 image
    weights = torch.rand(40, 50)
    mine = splat_density(points, 500, 400, (50, 40), sigma=0.01)  # sigma -> 0: a radius-1 kernel of (0, 1, 0)
    (grad_mine,) = torch.autograd.grad((mine * weights).sum(), points)
    theirs = _indexed_splat(points, 500, 400, (50, 40)).view(40, 50)
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), points)
    assert torch.equal(mine, theirs)
    assert torch.equal(grad_mine, grad_theirs)
    assert float(grad_mine.abs().sum()) > 0


@pytest.mark.parametrize("batch", [1, 3])
def test_grouped_landmarks_equal_the_padded_map_bitwise(batch):
    pytest.importorskip("anny")
    from talkavatar.core.body.anny import anny_body
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.body.rig import PosedBody

    body = anny_body()
    grouped = GroupedLandmarks(body.landmarks)
    torch.manual_seed(batch)
    vertices = torch.randn(batch, body.dense_skin_weights.shape[0], 3, requires_grad=True)
    joints = torch.randn(batch, body.dense_skin_weights.shape[1], 3, requires_grad=True)
    mine = grouped(PosedBody(vertices, joints, None, None))
    padded = grouped.map(vertices, joints)
    theirs = {g: padded[:, rows] for g, rows in grouped.rows.items()}
    upstream = {g: torch.randn_like(p) for g, p in mine.items()}
    grads_mine = torch.autograd.grad(sum((mine[g] * upstream[g]).sum() for g in mine), (vertices, joints))
    grads_theirs = torch.autograd.grad(sum((theirs[g] * upstream[g]).sum() for g in theirs), (vertices, joints))
    for g in mine:
        assert torch.equal(mine[g], theirs[g]), g
    for a, b in zip(grads_mine, grads_theirs):
        assert torch.equal(a, b)
        assert float(a.abs().sum()) > 0


def test_mediapipe_imports_without_matplotlib():
    pytest.importorskip("mediapipe")
    code = ("import sys\n"
            "from talkavatar.mediapipe_import import import_mediapipe\n"
            "mp = import_mediapipe()\n"
            "assert mp.solutions.holistic.Holistic\n"
            "assert 'matplotlib' not in sys.modules and 'matplotlib.pyplot' not in sys.modules\n"
            "import matplotlib.pyplot as plt\n"
            "assert callable(plt.plot)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_mask_filters_equal_scipys():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(0)
    for i in range(50):
        mask = ndimage.uniform_filter(rng.random((40, 60)), 5) > 0.5 + 0.05 * rng.random()
        assert np.array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask)), i
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7], ring[4, 4] = True, False
    assert fill_holes(ring)[4, 4] and not fill_holes(ring)[0, 0]
    # two blobs, a seed in one: the other goes, the hole in the kept one is filled
    image = np.zeros((60, 80, 3), np.uint8)
    image[10:40, 5:30], image[10:40, 50:75] = 200, 200
    blobs = (image[..., 0] > 0).astype(np.float32)
    blobs[20:24, 15:19] = 0.0
    refined = refine_mask(image, blobs, np.array([[15.0, 25.0]]))
    assert refined[22, 17] > 0.5 and refined[25, 60] < 0.5


def test_landmark_vertices_pose_the_same_landmarks():
    pytest.importorskip("anny")
    from talkavatar.core.body.anny import anny_body
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.track.fitting import ModelConsts, pose_batch
    from talkavatar.track.landmark_vertices import landmark_vertices, restricted
    from talkavatar.track.shape_space import linearise

    body = anny_body()
    landmarks = GroupedLandmarks(body.landmarks)
    consts, space = ModelConsts.of(body), linearise(body, body.default_shape.float(), [0, 1])
    sub = restricted(consts, space, landmarks)
    assert 0 < len(landmark_vertices(landmarks)) < 0.5 * body.dense_skin_weights.shape[0]
    torch.manual_seed(0)
    rotations = (0.2 * torch.randn(2, 55, 3)).requires_grad_(True)
    arkit = torch.rand(2, 52).requires_grad_(True)
    delta = torch.tensor([0.03, -0.02]).requires_grad_(True)
    translation = torch.tensor([[0.1, 0.0, -2.5], [0.0, 0.1, -2.0]])
    outs = []
    for c, s, lm in ((consts, space, landmarks), sub):
        points = lm(pose_batch(c, s, delta, rotations, translation, arkit))
        upstream = sum((p * (k + 1)).sum() for k, p in enumerate(points.values()))
        outs.append((points, torch.autograd.grad(upstream, (rotations, arkit, delta))))
    (full, full_grads), (mine, mine_grads) = outs
    for g in full:
        assert torch.allclose(full[g], mine[g], atol=1e-6), g
    for a, b in zip(full_grads, mine_grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4) and float(a.abs().sum()) > 0


def test_held_parts_made_once_a_stage_fit_the_same_bitwise(monkeypatch):
    pytest.importorskip("anny")
    import cv2

    from talkavatar.core.body.anny import anny_body
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.silhouette import downsample_mask, hard_silhouette
    from talkavatar.motion.names import ARKIT_NAMES, JOINT_INDEX
    from talkavatar.track import fitting
    from talkavatar.track.camera import default_focal, intrinsics, project
    from talkavatar.track.shape_space import linearise

    body = anny_body()
    landmarks = GroupedLandmarks(body.landmarks)
    space, consts = linearise(body, body.default_shape.clone(), [0, 1, 2, 3, 4, 5]), fitting.ModelConsts.of(body)
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["left_shoulder"], 2], truth[0, JOINT_INDEX["right_shoulder"], 2] = -1.2, 1.2
    truth[0, JOINT_INDEX["neck"], 1], truth[0, JOINT_INDEX["head"], 1] = 0.6, 0.8  # the face on the outline
    width, height = 240, 320
    K = torch.tensor(intrinsics(width, height, default_focal(width, height)))
    arkit = torch.zeros(1, 52)
    arkit[0, ARKIT_NAMES.index("jawOpen")] = 0.6  # an open mouth for the face points to fit
    with torch.no_grad():
        posed = fitting.pose_batch(consts, space, torch.zeros(6), truth, torch.tensor([[0.0, -0.3, -2.8]]), arkit)
        points = {g: project(p, K) for g, p in landmarks(posed).items()}
        mask = hard_silhouette(project(posed.vertices[0], K).numpy(), body.faces.numpy(), width, height)
    coat = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(np.float32)  # clothes: a pull
    grid = torch.tensor(downsample_mask(coat, (96, 128)))[None]
    targets = fitting.FitTargets(points, {g: torch.ones(p.shape[:2]) for g, p in points.items()}, grid,
                                 torch.tensor([float(height)]), K, (width, height))
    assert float(fitting.placed_arms(landmarks, targets).sum()) > 0  # the silhouette poses the body a second time

    def run():
        state = fitting.initial_state(consts, space, landmarks, targets, [("body", 11, 12)])
        return fitting.fit(consts, space, landmarks, targets, state, steps=24, seed=3, refit=False)

    once = run()
    monkeypatch.setattr(fitting, "_frozen_parts", lambda p, params, active: {})  # made at every posing
    every = run()
    for name in ("shape_delta", "joint_rotations", "root_translation", "arkit_weights"):
        assert torch.equal(getattr(once, name), getattr(every, name)), name
    assert once.history == every.history
    assert float(once.arkit_weights.abs().sum()) > 0 and float(once.shape_delta.abs().sum()) > 0
