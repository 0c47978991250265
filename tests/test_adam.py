"""core.adam.Adam against torch.optim.Adam: the same parameters, bit for bit, over many steps with two groups,
a tensor that gets no gradient on some steps, and stages that start a new optimiser (as track's fit does)."""

from __future__ import annotations

import subprocess
import sys

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


def test_no_torch_dynamo_import():
    code = ("import sys, torch; from talkavatar.core.adam import Adam; p = torch.zeros(2, requires_grad=True); "
            "o = Adam([{'params': [p], 'lr': 0.1}]); p.sum().backward(); o.step(); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
