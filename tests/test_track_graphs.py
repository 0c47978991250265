"""Track's fit with each stage's steps replayed from a CUDA graph (``fitting.GRAPHED_STEPS``), and the CUDA
formulations that make a step capturable, against their references.

On the CPU: ``Adam(capturable=True)`` (step counts as tensors) against the Python-number Adam; the silhouette's
splat as matrix products (CUDA's) against its sums and convolution (``index_add``, ``F.conv2d``: the CPU's),
densities and gradients; ``GraphedSteps`` off CUDA runs ``zero_grad`` and the step at every call; a failed
capture's diagnosis names the forward line of a synchronising backward; one step of each stage of a photo's fit
and of a video frame's, in the CUDA formulations, has nothing a CUDA graph capture cannot record
(``capture_lint``: host-to-device copies, reads back, data-dependent shapes).

On CUDA (marked gpu), a small deterministic fit (a posed Anny body's own landmarks and a coat-sized mask, every
stage, shape fitted, arms placed by their points, an open mouth): graphed equals op by op (the same kernels: within
1e-4 after 40 Adam steps), a second fit in the same process is graphed too and ends where the first did, and both
stay within a stated tolerance of the CPU's fit (a different order of float sums: rounding, which Adam steps
amplify a little): joint rotations within 0.02 rad, root within 5 mm, the landmarks' reprojection error within
0.3 px of the CPU's; its expression refit (one frame: on the CPU) equals the CPU's refit of the same state within
1e-3 and finds the open mouth.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from talkavatar.core.adam import Adam
from talkavatar.core.cuda_graphs import GraphedSteps
from talkavatar.core.silhouette import _gaussian_kernel, _splat_products, _splat_sums


def _adam_run(capturable: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    target = torch.randn(5, 3, generator=g)
    a = torch.zeros(5, 3, requires_grad=True)
    for stage in range(2):
        optim = Adam([{"params": [a], "lr": 0.05 / (stage + 1)}], capturable=capturable)
        for step in range(60):
            optim.zero_grad()
            (((a - target) ** 2).sum() * (1 + step % 3)).backward()
            optim.step()
    if capturable:
        assert torch.is_tensor(optim.state[a]["step"]) and float(optim.state[a]["step"]) == 60
    return a.detach()


def test_capturable_adam_takes_the_same_steps():
    plain, capturable = _adam_run(False), _adam_run(True)
    assert torch.allclose(plain, capturable, rtol=1e-5, atol=1e-6)
    assert float(plain.abs().sum()) > 0


@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-12), (torch.float32, 1e-4)])
def test_splat_products_equal_splat_sums(dtype, tolerance):
    g = torch.Generator().manual_seed(1)
    gw, gh = 64, 48
    cells = (torch.rand(4000, 2, generator=g, dtype=dtype) * 1.4 - 0.2) * torch.tensor([gw, gh], dtype=dtype)
    weights = torch.rand(gh, gw, generator=g, dtype=dtype)
    k = _gaussian_kernel(0.8, "cpu", dtype)  # splat_density's blur (radius 2)
    out, grads = [], []
    for fn in (_splat_sums, _splat_products):
        points = cells.clone().requires_grad_(True)  # a fifth of them outside the grid
        x, y = points[:, 0] - 0.5, points[:, 1] - 0.5
        x0, y0 = x.floor().detach(), y.floor().detach()
        density = fn(x0, y0, x - x0, y - y0, gw, gh, k)
        out.append(density.detach())
        grads.append(torch.autograd.grad((density * weights).sum(), points)[0])
    assert torch.allclose(out[0], out[1], atol=tolerance)
    assert torch.allclose(grads[0], grads[1], atol=tolerance)
    assert float(out[0].sum()) > 100 and float(grads[0].abs().sum()) > 0


def test_graphed_steps_off_cuda_run_every_step():
    calls = []
    steps = GraphedSteps(lambda: calls.append("step") or torch.tensor(float(len(calls))),
                         lambda: calls.append("zero"), torch.device("cpu"))
    for _ in range(4):
        steps()
    assert calls == ["zero", "step"] * 4 and not steps.graphed and not steps.failure


class _SyncInBackward(torch.autograd.Function):
    """Doubles its input; its backward raises what ``torch.cuda.set_sync_debug_mode("error")`` raises."""

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("called a synchronizing CUDA operation")


def test_a_failed_capture_names_the_forward_line_of_a_synchronising_backward(monkeypatch):
    """The diagnosis of a failed capture (one step with synchronisation an error: ``cuda_graphs._first_sync``)
    names the backward node and the forward line that made it, and hands back the loss of a step that ran."""
    from talkavatar.core import cuda_graphs

    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: 0)  # the CPU build has no CUDA to set
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda mode: None)
    x = torch.ones(3, requires_grad=True)

    def step():
        loss = _SyncInBackward.apply(x).sum()  # the line to find
        loss.backward()
        return loss

    where, loss = cuda_graphs._first_sync(step)
    assert loss is None and "_SyncInBackward" in where and "the line to find" in where, where
    where, loss = cuda_graphs._first_sync(lambda: x.sum())
    assert where == "" and float(loss.detach()) == 3.0


def _problem(device: str):
    """A posed Anny body's own landmarks and a mask dilated around it (a coat), on ``device``: (model, targets)."""
    import cv2

    from talkavatar.core.body.anny import anny_body
    from talkavatar.core.body.landmark_groups import GroupedLandmarks
    from talkavatar.core.silhouette import downsample_mask, hard_silhouette
    from talkavatar.motion.names import ARKIT_NAMES, JOINT_INDEX
    from talkavatar.track import fitting
    from talkavatar.track.camera import default_focal, intrinsics, project
    from talkavatar.track.shape_space import linearise

    body = anny_body(device)
    landmarks = GroupedLandmarks(body.landmarks, device)
    space, consts = linearise(body, body.default_shape.clone(), [0, 1, 2, 3, 4, 5]), fitting.ModelConsts.of(body)
    truth = torch.zeros(1, 55, 3)
    truth[0, JOINT_INDEX["left_shoulder"], 2], truth[0, JOINT_INDEX["right_shoulder"], 2] = -1.2, 1.2
    truth[0, JOINT_INDEX["left_elbow"], 1], truth[0, JOINT_INDEX["neck"], 1] = -0.7, 0.3
    width, height = 240, 320
    K = torch.tensor(intrinsics(width, height, default_focal(width, height)))
    arkit = torch.zeros(1, 52)
    arkit[0, ARKIT_NAMES.index("jawOpen")] = 0.6
    with torch.no_grad():
        posed = fitting.pose_batch(consts, space, torch.zeros(6, device=device), truth.to(device),
                                   torch.tensor([[0.0, -0.3, -2.8]], device=device), arkit.to(device))
        points = {g: project(p, K.to(device)).cpu() for g, p in landmarks(posed).items()}
        mask = hard_silhouette(project(posed.vertices[0].cpu(), K).numpy(), body.faces.cpu().numpy(), width, height)
    coat = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(np.float32)
    grid = torch.tensor(downsample_mask(coat, (96, 128)))[None]
    targets = fitting.FitTargets({g: p.to(device) for g, p in points.items()},
                                 {g: torch.ones(p.shape[:2], device=device) for g, p in points.items()},
                                 grid.to(device), torch.tensor([float(height)], device=device), K.to(device),
                                 (width, height))
    return (consts, space, landmarks), targets


def _fit(model, targets, steps: int = 40):
    from talkavatar.track import fitting

    state = fitting.initial_state(*model, targets, [("body", 11, 12)])
    return fitting.fit(*model, targets, state, steps=steps, seed=3, refit=False)


def _pixel_error(model, targets, result) -> float:
    """Mean distance in pixels of the fitted landmarks from the targets, over every group."""
    from talkavatar.track import fitting
    from talkavatar.track.camera import project

    consts, space, landmarks = model
    with torch.no_grad():
        posed = fitting.pose_batch(consts, space, result.shape_delta, result.joint_rotations, result.root_translation,
                                   result.arkit_weights)
        fitted = landmarks(posed)
        errors = [(project(fitted[g], targets.K) - targets.points[g]).norm(dim=-1).flatten() for g in fitted]
    return float(torch.cat(errors).mean())


@pytest.mark.gpu
def test_graphed_fit_equals_op_by_op_and_stays_near_the_cpu(monkeypatch):
    pytest.importorskip("anny")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from talkavatar.track import fitting

    model, targets = _problem("cuda")
    graphed = _fit(model, targets)
    again = _fit(model, targets)  # a second fit in the same process: captured afresh, the same numbers
    monkeypatch.setattr(fitting, "GRAPHED_STEPS", False)
    eager = _fit(model, targets)
    cpu_model, cpu_targets = _problem("cpu")
    cpu = _fit(cpu_model, cpu_targets)

    assert graphed.graphs.startswith("graphed (4 of 4 stages"), graphed.graphs
    assert again.graphs.startswith("graphed (4 of 4 stages"), again.graphs
    assert eager.graphs == "op by op", eager.graphs
    names = ("shape_delta", "joint_rotations", "root_translation", "arkit_weights")
    for name in names:
        a, b, c = (getattr(r, name) for r in (graphed, again, eager))
        assert torch.allclose(a, b, atol=1e-4), (name, float((a - b).abs().max()))
        assert torch.allclose(a, c, atol=1e-4), (name, float((a - c).abs().max()))
    rotation = float((graphed.joint_rotations.cpu() - cpu.joint_rotations).abs().max())
    root = float((graphed.root_translation.cpu() - cpu.root_translation).norm(dim=-1).max())
    errors = _pixel_error(model, targets, graphed), _pixel_error(cpu_model, cpu_targets, cpu)
    assert rotation < 0.02 and root < 0.005, (rotation, root)
    assert abs(errors[0] - errors[1]) < 0.3, errors
    assert errors[1] < 5.0 and float(graphed.shape_delta.abs().sum()) > 0  # the fit did something

    # the expression refit of one frame on CUDA runs on the CPU: the CPU's refit of the same state, to rounding
    from talkavatar.motion.names import ARKIT_NAMES

    refit = fitting.with_refitted_expression(*model, targets, graphed)
    on_cpu = dataclasses.replace(graphed, **{name: getattr(graphed, name).cpu() for name in names})
    refit_cpu = fitting.with_refitted_expression(*cpu_model, cpu_targets, on_cpu)
    assert refit.arkit_weights.is_cuda
    assert torch.allclose(refit.arkit_weights.cpu(), refit_cpu.arkit_weights, atol=1e-3)
    assert float(refit.arkit_weights[0, ARKIT_NAMES.index("jawOpen")]) > 0.2  # the open mouth found


@pytest.mark.parametrize("kind", ["photo", "video frame"])
def test_fit_steps_have_nothing_a_cuda_graph_cannot_capture(monkeypatch, kind):
    """One step of each stage of a fit, with the CUDA formulations (``Tensor.is_cuda`` True, dense skinning
    weights, capturable Adam), run on the CPU under :func:`capture_lint`: the step that a capture records (the
    third: two run op by op first) has no host-to-device copy, no read back and no data-dependent shape. A photo:
    every stage, shape, the focal length fitted, a close-up's rates; a video frame: one stage "all" from the
    previous frame's state, held to it (``FitWeights.temporal``). Hips and legs unseen in both (the upright prior,
    the held limbs)."""
    pytest.importorskip("anny")
    from capture_lint import capture_lint

    from talkavatar.core.body.anny import anny_body
    from talkavatar.track import fitting

    (consts, space, landmarks), targets = _problem("cpu")
    consts = dataclasses.replace(consts, skin=anny_body("cpu").dense_skin_weights)  # CUDA's (ModelConsts.of)
    targets.weights["body"][:, 23:] = 0.0  # MediaPipe's hips and legs
    monkeypatch.setattr(fitting, "Adam", lambda groups, capturable: Adam(groups, capturable=True))
    flags, calls, step = {}, {}, fitting._step

    def linted(p, params, stage, optim):
        calls[stage] = calls.get(stage, 0) + 1
        if calls[stage] != 3:
            return step(p, params, stage, optim)
        with capture_lint() as flags[stage]:
            return step(p, params, stage, optim)

    monkeypatch.setattr(fitting, "_step", linted)
    state = fitting.initial_state(consts, space, landmarks, targets, [("body", 11, 12)])
    if kind == "photo":
        fitting.fit(consts, space, landmarks, targets, state, steps=20, seed=3, refit=False, closeup=True,
                    free_focal=True)
    else:
        fitting.fit(consts, space, landmarks, targets, state, steps=4, seed=3, refit=False, warm=True,
                    weights=fitting.FitWeights(temporal=1.0))
    assert list(flags) == (["global", "body", "detail", "all"] if kind == "photo" else ["all"])
    found = {f"{stage}: {what}": count for stage, counted in flags.items() for what, count in counted.items()}
    assert not found, "\n".join(f"{count} x {what}" for what, count in found.items())
