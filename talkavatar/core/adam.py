"""Adam with ``torch.optim.Adam``'s arithmetic, without ``torch.optim``.

The first ``torch.optim`` optimiser a process builds imports ``torch._dynamo`` (its ``add_param_group`` is wrapped
by ``torch._disable_dynamo``): ~1.4 s of CPU on this project's machines, a tenth of tracking one photo. This class
does the same update as ``torch.optim.Adam``'s default single-tensor path (no weight decay, no AMSGrad, one step
count per tensor, bias corrections in Python floats), operation for operation, so results are bitwise the same on
the CPU (tests/test_adam.py checks it against torch.optim.Adam).

``capturable=True`` keeps each step count as a tensor on its parameter's device and makes the bias corrections
there (``torch.optim.Adam(capturable=True)``'s arithmetic): no Python number changes from step to step, so a step
can be captured once as a CUDA graph and replayed (track's fit on CUDA). The same update up to rounding.
"""

from __future__ import annotations

import torch


class Adam:
    """``Adam([{"params": [tensor, ...], "lr": rate}, ...])``, as ``torch.optim.Adam`` takes parameter groups."""

    def __init__(self, groups: list[dict], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 capturable: bool = False):
        self.groups = [{"params": list(g["params"]), "lr": float(g["lr"])} for g in groups]
        self.betas, self.eps, self.capturable = betas, eps, capturable
        self.state: dict[torch.Tensor, dict] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for group in self.groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                s = self.state.get(p)
                if s is None:  # made once (a CUDA graph of a step records no allocation of its own)
                    s = self.state[p] = {"step": p.new_zeros(()) if self.capturable else 0,
                                         "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
                s["step"] += 1
                s["exp_avg"].lerp_(p.grad, 1 - beta1)
                s["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                if self.capturable:
                    self._update_on_device(p, s, group["lr"])
                    continue
                step_size = group["lr"] / (1 - beta1 ** s["step"])
                denom = (s["exp_avg_sq"].sqrt() / (1 - beta2 ** s["step"]) ** 0.5).add_(self.eps)
                p.addcdiv_(s["exp_avg"], denom, value=-step_size)

    def _update_on_device(self, p: torch.Tensor, s: dict, lr: float) -> None:
        """The parameter update with the step count ``s["step"]`` a tensor (``capturable``)."""
        beta1, beta2 = self.betas
        step_size_neg = (lr / (1 - beta1 ** s["step"])).neg()
        bias_correction2_sqrt = (1 - beta2 ** s["step"]).sqrt()
        denom = (s["exp_avg_sq"].sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(self.eps / step_size_neg)
        p.addcdiv_(s["exp_avg"], denom)
