"""The process's one-time CUDA start-up on a background thread, while the main thread does CPU work.

A CUDA process pays once for its context, for loading cuBLAS, cuDNN and the rasterizer's extension (gsplat) and for
their first kernels; `talkavatar fit PHOTO` paid it on pseudo's first upload, after tracking the photo on the CPU
(twelfth session's H200 runs: context 0.13-0.16 s, cuBLAS 0.15-0.30, cuDNN 0.53-0.69, rasterizer 0.76-1.53).
:class:`WarmUp` does that work on a daemon thread while track runs. What is process-wide (the context, the loaded
libraries and kernels, imported modules) is then ready; PyTorch's cuBLAS and cuDNN handles are per thread, so the
main thread still makes its own (milliseconds once the libraries are loaded). The thread mostly waits in native code
(library loads, the driver), which PyTorch's operators run without holding the GIL.
"""

from __future__ import annotations

import threading
import time

import torch
import torch.nn.functional as F


class WarmUp:
    """:func:`warm_up` of ``device`` started on a daemon thread; :meth:`result` waits for it."""

    def __init__(self, device: torch.device):
        self._seconds: dict[str, float] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(torch.device(device),), name="talkavatar-cuda-warm-up",
                                        daemon=True)
        self._thread.start()

    def _run(self, device: torch.device) -> None:
        try:
            warm_up(device, self._seconds)
        except Exception as exc:  # reported by result(): the stages then start CUDA themselves
            self._error = exc

    def result(self) -> dict[str, float]:
        """Seconds per step (:func:`warm_up`) once the thread is done; its error, if any, is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return dict(self._seconds)


def warm_up(device: torch.device, seconds: dict[str, float]) -> None:
    """The one-time work of a CUDA ``device``, recording each step's seconds in ``seconds`` as it goes: the context,
    cuBLAS (a matrix product and its backward), cuDNN (a convolution and its backward), the rasterizer (gsplat's
    forward and backward of a few Gaussians)."""
    for name, step in (("context", lambda: torch.zeros(1, device=device)), ("cublas", lambda: _matmul(device)),
                       ("cudnn", lambda: _convolution(device)), ("rasterizer", lambda: _rasterize(device))):
        started = time.perf_counter()
        step()
        torch.cuda.synchronize(device)
        seconds[name] = round(time.perf_counter() - started, 3)


def _matmul(device: torch.device) -> torch.Tensor:
    """A batched product's backward -> the gradient [4, 64, 64] (each step returns its input's gradient)."""
    a = torch.ones(4, 64, 64, device=device, requires_grad=True)
    (a @ a).sum().backward()
    return a.grad


def _convolution(device: torch.device) -> torch.Tensor:
    x = torch.ones(1, 8, 16, 16, device=device).to(memory_format=torch.channels_last).requires_grad_(True)
    weight = torch.ones(8, 1, 3, 3, device=device)
    F.conv2d(F.conv2d(x, weight, padding=1, groups=8), weight.reshape(1, 8, 3, 3)).sum().backward()
    return x.grad


def _rasterize(device: torch.device) -> torch.Tensor:
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
