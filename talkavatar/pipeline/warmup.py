"""The later stages' one-time start-up on a background thread while track fits the photo on the host's CPU.

``talkavatar fit PHOTO`` on CUDA tracks the photo on the CPU (one core for ~5 s on the H100 host, the GPU idle), then
pseudo and fit start what a CUDA process starts once: the pseudo stage's modules (SciPy's sparse solvers, OpenCV),
the CUDA context, cuBLAS, the rasterizer's extension (gsplat) and its kernels, and the fit's perceptual network on
the device. :class:`BesideTrack` does that on a daemon thread meanwhile, each step timed. What it makes is
process-wide (imported modules, the context, loaded libraries and kernels, the network: the fit takes the same
object from :func:`talkavatar.core.losses.shared_distance`); PyTorch's cuBLAS handles are per thread, so the main
thread still makes its own, cheap once the library is loaded. Track's figures do not depend on it: track computes on
the CPU, and the thread makes no CPU tensors beyond a few small ones. What it can cost is the GIL: the thread's
Python (the imports) waits for track's, and track's for it. ``pipeline.photo.WARM_UP_BESIDE_TRACK`` switches it.
"""

from __future__ import annotations

import threading
import time

import torch

from talkavatar.config import Perceptual

# The steps :func:`warm_up` takes, in order. The H100 A/B (twentieth session, benchmarks/photo_speed.py, 4 photos):
# all five took 1.6-1.8 s beside track (imports 0.65-0.77, context 0.15, cuBLAS 0.17-0.20, rasterizer 0.33-0.42,
# perceptual 0.27-0.32) and track was not slowed, but pseudo's texture phase took 0.3-0.8 s longer after it (why is
# not known): median wall 22.55 s against 22.73. The GPU-only steps alone are the next thing to measure.
STEPS = ("imports", "context", "cublas", "rasterizer", "perceptual")


class BesideTrack:
    """:func:`warm_up` of ``device`` (with the fit's perceptual distance ``perceptual``, convolving with cuDNN when
    ``cudnn``) started on a daemon thread; :meth:`result` waits for it."""

    def __init__(self, device: torch.device, perceptual: Perceptual, cudnn: bool):
        self._seconds: dict[str, float] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(torch.device(device), perceptual, cudnn),
                                        name="talkavatar-warm-up", daemon=True)
        self._thread.start()

    def _run(self, device: torch.device, perceptual: Perceptual, cudnn: bool) -> None:
        try:
            warm_up(device, perceptual, cudnn, self._seconds)
        except Exception as exc:  # reported by result(): the stages then start it themselves
            self._error = exc

    def result(self) -> dict[str, float]:
        """Seconds per step (:func:`warm_up`) once the thread is done; its error, if any, is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return dict(self._seconds)


def warm_up(device: torch.device, perceptual: Perceptual, cudnn: bool, seconds: dict[str, float]) -> None:
    """The later stages' one-time work on a CUDA ``device``, the steps of :data:`STEPS`, each step's seconds put in
    ``seconds`` as it ends: the pseudo stage's imports, the context, cuBLAS (a product and its backward), the
    rasterizer (a forward and backward of a few Gaussians), the perceptual distance (built on the device, a forward
    and backward of two small images with cuDNN on or off as ``cudnn``)."""
    steps = {"imports": _imports, "context": lambda: torch.zeros(1, device=device),
             "cublas": lambda: _matmul(device), "rasterizer": lambda: _rasterize(device),
             "perceptual": lambda: _perceptual(device, perceptual, cudnn)}
    for name in STEPS:
        step = steps[name]
        started = time.perf_counter()
        step()
        if name != "imports":
            torch.cuda.synchronize(device)
        seconds[name] = round(time.perf_counter() - started, 3)


def _imports() -> None:
    from talkavatar.pseudo import stage  # noqa: F401  (the photo's pipeline imports it after track)


def _matmul(device: torch.device) -> torch.Tensor:
    """A batched product's backward -> the gradient [4, 64, 64]."""
    a = torch.ones(4, 64, 64, device=device, requires_grad=True)
    (a @ a).sum().backward()
    return a.grad


def _rasterize(device: torch.device) -> torch.Tensor:
    """gsplat's forward and backward of 64 Gaussians on a 32 px camera -> the means' gradient [64, 3]."""
    from talkavatar.core.cameras import Cameras
    from talkavatar.core.splats import Gaussians, rasterize

    n = 64
    offsets = torch.linspace(-0.2, 0.2, n, device=device)
    means = torch.stack([offsets, offsets.flip(0), torch.full_like(offsets, 2.0)], -1).requires_grad_(True)
    gaussians = Gaussians(means, torch.tensor([[1.0, 0.0, 0.0, 0.0]], device=device).repeat(n, 1),
                          torch.full((n, 3), -3.0, device=device), torch.zeros(n, device=device),
                          torch.full((n, 3), 0.5, device=device))
    K = torch.tensor([[[32.0, 0.0, 16.0], [0.0, 32.0, 16.0], [0.0, 0.0, 1.0]]], device=device)
    out = rasterize(gaussians, Cameras(torch.eye(4, device=device)[None], K, 32, 32))
    (out.rgb.sum() + out.alpha.sum()).backward()
    return means.grad


def _perceptual(device: torch.device, kind: Perceptual, cudnn: bool) -> torch.Tensor:
    """The fit's perceptual distance (the process's, built here) on two 64 px images, forward and backward -> the
    first image's gradient [2, 64, 64, 3]."""
    from talkavatar.core.device import cudnn_enabled
    from talkavatar.core.losses import shared_distance

    distance = shared_distance(kind, device)
    x = torch.full((2, 64, 64, 3), 0.5, device=device, requires_grad=True)
    with cudnn_enabled(cudnn):
        distance(x, torch.full_like(x, 0.25).detach()).sum().backward()
    return x.grad
