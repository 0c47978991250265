"""Resolving a ``--device`` value (auto, cpu, cuda, cuda:N) to a torch device; host-to-device copies without a
synchronisation; cuDNN switched for a block."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from talkavatar.core.threads import settle
from talkavatar.errors import MissingDependency, UsageError


def resolve_device(name: str | None) -> torch.device:
    """``auto``/None: CUDA when available, else CPU. Raises MissingDependency when CUDA is asked for and absent.
    A stage resolves its device when it starts: the moment a command takes its share of the CPU cores
    (:func:`talkavatar.core.threads.settle`)."""
    settle()
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MissingDependency(f"--device {name} asked for CUDA, which is not available here",
                                tip="use --device cpu (or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}", tip="use auto, cpu, cuda or cuda:N") from None


def upload(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without a host synchronisation on CUDA: a copy from pageable memory waits for the
    GPU's queue to drain, one from pinned memory is queued behind it."""
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


@contextmanager
def cudnn_enabled(enabled: bool) -> Iterator[None]:
    """cuDNN on or off inside the block (``torch.backends.cudnn.enabled``, a process-wide flag: the autograd
    engine's backward threads see it too; the other cuDNN flags are kept), restored after it. No effect off CUDA."""
    previous = torch.backends.cudnn.enabled
    torch.backends.cudnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.enabled = previous
