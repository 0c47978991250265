"""core.cuda_warmup: CUDA's start-up on a background thread beside track; the pipeline's report of it."""

import threading

import pytest
import torch

from talkavatar.core import cuda_warmup
from talkavatar.core.cuda_warmup import WarmUp
from talkavatar.pipeline.photo import _report, _warm_up


def test_no_warm_up_off_cuda():
    assert _warm_up(torch.device("cpu")) is None


def test_a_failed_warm_up_is_a_warning_not_an_error():
    """Off CUDA the warm-up's synchronisation fails on its thread: the pipeline warns and carries on."""
    if torch.cuda.is_available():
        pytest.skip("the warm-up succeeds here")
    logged, warned = [], []
    _report(WarmUp(torch.device("cpu")), logged.append, warned.append)
    assert not logged and len(warned) == 1 and "CUDA warm-up beside track failed" in warned[0]


def test_the_warm_up_steps_reach_their_backward_on_any_device():
    """Each step's work (a product, a convolution, a rasterization, each with its backward) on the CPU: what the
    GPU runs of them, minus CUDA (the rasterizer's torch backend here): a finite gradient of the right shape, and
    the Gaussians in view of the camera get one."""
    cpu = torch.device("cpu")
    shapes = {cuda_warmup._matmul: (4, 64, 64), cuda_warmup._convolution: (1, 8, 16, 16),
              cuda_warmup._rasterize: (64, 3)}
    for step, shape in shapes.items():
        grad = step(cpu)
        assert grad.shape == shape and torch.isfinite(grad).all()
    assert cuda_warmup._rasterize(cpu).abs().sum() > 0


@pytest.mark.gpu
def test_warm_up_runs_its_steps_on_another_thread():
    here = threading.get_ident()
    seen = []
    original = torch.cuda.synchronize

    def synchronize(device=None):
        seen.append(threading.get_ident())
        original(device)

    torch.cuda.synchronize = synchronize
    try:
        seconds = WarmUp(torch.device("cuda")).result()
    finally:
        torch.cuda.synchronize = original
    assert list(seconds) == ["context", "cublas", "cudnn", "rasterizer"] and min(seconds.values()) >= 0
    assert seen and here not in seen
