"""core.adam.Adam against torch.optim.Adam: the same parameters, bit for bit, over many steps with two groups,
a tensor that gets no gradient on some steps, and stages that start a new optimiser (as track's fit does); and the
start-up it exists for: no torch._dynamo import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from talkavatar.core.adam import Adam


def _run(make, steps: int = 60) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    target = torch.randn(5, 3, generator=g, dtype=torch.float64)
    a = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(7, dtype=torch.float32, requires_grad=True)
    for stage in range(2):
        optim = make([{"params": [a], "lr": 0.05}, {"params": [b], "lr": 0.2 / (stage + 1)}])
        for step in range(steps):
            optim.zero_grad(set_to_none=True)
            loss = ((a - target) ** 2).sum() * (1 + step % 3)
            if step % 4:  # b has no gradient every fourth step: its own step count stays behind
                loss = loss + (b.sin() - 0.3).square().sum().double()
            loss.backward()
            optim.step()
    return [a.detach(), b.detach()]


def test_bitwise_equal_to_torch_optim_adam():
    ours, theirs = _run(Adam), _run(torch.optim.Adam)
    assert all(torch.equal(x, y) for x, y in zip(ours, theirs))
    assert not torch.equal(ours[0], torch.zeros_like(ours[0]))


def test_anny_adam_and_determinism_do_not_import_torch_dynamo():
    """What track and fit start with (Anny from talkavatar's cache, an Adam step, the deterministic switch), in a
    fresh process: no torch._dynamo import (1.4 s of CPU) and the switch really set."""
    pytest.importorskip("anny")
    code = ("import sys, torch\n"
            "from talkavatar.core.adam import Adam\n"
            "from talkavatar.core.body.anny import anny_body\n"
            "from talkavatar.core.determinism import use_deterministic_algorithms\n"
            "b = anny_body()\n"
            "shape = b.default_shape[None].clone().requires_grad_()\n"
            "o = Adam([{'params': [shape], 'lr': 0.1}])\n"
            "use_deterministic_algorithms(True, warn_only=True)\n"
            "b(shape, torch.zeros(1, 55, 3)).vertices.sum().backward()\n"
            "o.step()\n"
            "print(torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),"
            " 'anny' in sys.modules, 'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "False", "False"]
