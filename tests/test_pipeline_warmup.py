"""The later stages' start-up on a thread beside track (talkavatar.pipeline.warmup): started only for CUDA, what it
readies is what the stages then use, and a failure is a warning."""

from __future__ import annotations

import sys

import pytest
import torch

from talkavatar.fit.config import FitConfig
from talkavatar.pipeline import photo
from talkavatar.pipeline.warmup import BesideTrack
from talkavatar.runner import StageContext


def test_no_start_up_off_cuda():
    assert photo._warm_up_beside_track(FitConfig(), StageContext("cpu")) is None


def test_a_failed_start_up_is_a_warning_after_what_it_did():
    """On the CPU the context step cannot synchronise a CUDA device: the thread stops there, its imports done, and
    the wait after track turns the error into a warning."""
    warming = BesideTrack(torch.device("cpu"), "efficientnet", cudnn=False)
    logs, warnings = [], []
    photo._warmed_up(warming, logs.append, warnings.append)
    assert not logs and len(warnings) == 1 and "start-up beside track failed" in warnings[0]
    assert "talkavatar.pseudo.stage" in sys.modules


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_start_up_beside_track_readies_the_fits_perceptual_network():
    from talkavatar.core.losses import perceptual

    device = torch.device("cuda")
    key = ("efficientnet", str(device))
    perceptual._shared.pop(key, None)
    seconds = BesideTrack(device, "efficientnet", cudnn=False).result()
    assert list(seconds) == ["imports", "context", "cublas", "rasterizer", "perceptual"]
    assert all(s >= 0 for s in seconds.values())
    built = perceptual._shared[key]
    assert perceptual.shared_distance("efficientnet", device) is built  # the fit takes this one
    assert next(built.network.parameters()).device.type == "cuda"
