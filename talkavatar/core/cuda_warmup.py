"""One-time CUDA work done ahead of its first use, on this thread, while a worker thread does host work.

A CUDA process pays once for its context, for loading cuBLAS, cuDNN and gsplat's extension and kernels, and for
cuDNN's execution plan of each convolution shape (H200, twelfth session: ~6-8 s of a `fit PHOTO` outside every
stage's timings, landing on pseudo's first upload, and a ~4 s stall at the fit's first pseudo step: EfficientNet's
first forward and backward). ``talkavatar fit PHOTO`` tracks the photo on the CPU first: :func:`beside` runs the
tracking on a worker thread while this thread runs :func:`warm_up`. The warm-up stays on the thread that later uses
CUDA because PyTorch keeps the cuBLAS and cuDNN handles and cuDNN's execution plans per thread: plans made on a worker
would be made again on first use here.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence, TypeVar

import torch
import torch.nn.functional as F

from talkavatar.core.cameras import Cameras
from talkavatar.core.splats import Gaussians, rasterize

T = TypeVar("T")
R = TypeVar("R")


def beside(work: Callable[[], T], warm: Callable[[], R]) -> tuple[T, R]:
    """``work()`` on a worker thread while this thread runs ``warm()``; (work's result, warm's) once both are done.

    An error of ``work`` is raised as it was raised there, else one of ``warm`` (after ``work`` finished: what it
    made is kept). The worker is a daemon thread: an interrupt (Ctrl-C) here ends the process without waiting for
    it. ``work`` must not need this thread (no signal handlers: Python installs those on the main thread only)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="talkavatar-beside-warm-up", daemon=True)
    worker.start()
    warmed, failure = None, None
    try:
        warmed = warm()
    except Exception as exc:
        failure = exc
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    if failure is not None:
        raise failure
    return outcome["value"], warmed


def warm_up(device: torch.device, steps: Sequence[tuple[str, Callable[[], object]]] = ()) -> dict[str, float]:
    """The one-time work of a CUDA ``device`` on this thread -> seconds per step: the context, cuBLAS, cuDNN, the
    rasterizer (gsplat's extension and kernels, forward and backward), then the caller's ``steps`` (name, function)
    in order (e.g. a network built, a graph captured). Not CUDA: nothing to do ({}); errors are raised."""
    if torch.device(device).type != "cuda":
        return {}
    seconds: dict[str, float] = {}
    for name, fn in (("context", lambda: torch.zeros(1, device=device)), ("cublas", lambda: _matmuls(device)),
                     ("cudnn", lambda: _convolution(device)), ("rasterizer", lambda: _rasterize(device)), *steps):
        started = time.perf_counter()
        fn()
        torch.cuda.synchronize(device)
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


def _matmuls(device: torch.device) -> None:
    a = torch.ones(4, 64, 64, device=device, requires_grad=True)
    (a @ a).sum().backward()
    (a[0] @ a[0]).sum().backward()


def _convolution(device: torch.device) -> None:
    x = torch.ones(1, 8, 16, 16, device=device).to(memory_format=torch.channels_last).requires_grad_(True)
    weight = torch.ones(8, 1, 3, 3, device=device)
    F.conv2d(F.conv2d(x, weight, padding=1, groups=8), weight.reshape(1, 8, 3, 3)).sum().backward()


def _rasterize(device: torch.device) -> None:
    n = 64
    offsets = torch.linspace(-0.2, 0.2, n, device=device)
    means = torch.stack([offsets, offsets.flip(0), torch.full_like(offsets, 2.0)], -1).requires_grad_(True)
    gaussians = Gaussians(means, torch.tensor([[1.0, 0.0, 0.0, 0.0]], device=device).repeat(n, 1),
                          torch.full((n, 3), -3.0, device=device), torch.zeros(n, device=device),
                          torch.full((n, 3), 0.5, device=device))
    K = torch.tensor([[[32.0, 0.0, 16.0], [0.0, 32.0, 16.0], [0.0, 0.0, 1.0]]], device=device)
    out = rasterize(gaussians, Cameras(torch.eye(4, device=device)[None], K, 32, 32))
    (out.rgb.sum() + out.alpha.sum()).backward()
