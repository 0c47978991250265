"""A linearised shape space for fitting: the body model's rest mesh and joints as affine functions of a few shape
parameters around a base shape.

Evaluating the full model (hundreds of shape blendshapes, bone re-orientation) at every optimisation step is the
slow part of fitting; its first-order expansion in the fitted parameters (Anny: the 6 phenotypes) costs one matrix
product. It is only accurate near the base: measured on Anny with all 6 phenotypes moved together, the largest
vertex error is 1.6 mm at +-0.05, 4.4 mm at +-0.1, 33 mm at +-0.2 and 154 mm at +-0.3. Fitting therefore keeps
the offsets within :data:`TRUST_RADIUS`, and the final rig (and every reported figure) comes from the real model
at the fitted shape.

A shape parameter may instead be *kinked* at the base: piecewise linear with different slopes above and below it
(Anny's local changes at 0 blend an "incr" target above and a "decr" target below; its limb-length ones lengthen a
shin 20 % at +1 but shorten it 14.5 % at -1). Such an entry is expanded exactly, by its two one-sided slopes over
:data:`KINK_STEP`, and may move by that much.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from talkavatar.core.body.base import BodyModel


TRUST_RADIUS = 0.1
"""Largest offset of a fitted shape parameter from the base (Anny phenotypes are 0..1): <= ~4 mm linearisation
error. A person far from the average (e.g. very tall) needs re-linearising around a new base: not done yet."""
KINK_STEP = 1.0
"""How far a kinked entry's slopes are measured, and how far it may move: Anny's local changes span -1..1."""


@dataclass(frozen=True)
class ShapeSpace:
    """``vertices(c) = vertices0 + c @ vertex_basis + |c| @ vertex_kink``, likewise joints, for ``c`` [P] = shape -
    base on the fitted entries (``*_basis``: the mean of the slopes above and below the base; ``*_kink``: half their
    difference, zero but for kinked entries). vertices0: [V, 3]; joints0: [J, 3]; vertex_basis, vertex_kink:
    [P, V*3]; joint_basis, joint_kink: [P, J*3]; rest_to_canonical: [J, 3, 3] (at the base shape); base: [S] full
    shape vector; fitted: [P] its indices; radius: [P] how far each entry may move (:data:`TRUST_RADIUS`,
    :data:`KINK_STEP`)."""

    vertices0: torch.Tensor
    joints0: torch.Tensor
    vertex_basis: torch.Tensor
    joint_basis: torch.Tensor
    vertex_kink: torch.Tensor
    joint_kink: torch.Tensor
    rest_to_canonical: torch.Tensor
    base: torch.Tensor
    fitted: torch.Tensor
    radius: torch.Tensor

    def rest(self, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """delta: [P] → (vertices [V, 3], joints [J, 3])."""
        size = delta.abs()
        v = self.vertices0 + (delta @ self.vertex_basis + size @ self.vertex_kink).view_as(self.vertices0)
        j = self.joints0 + (delta @ self.joint_basis + size @ self.joint_kink).view_as(self.joints0)
        return v, j

    def full_shape(self, delta: torch.Tensor) -> torch.Tensor:
        """The model's shape vector [S] for ``delta`` [P]."""
        return self.base.index_add(0, self.fitted, delta.to(self.base.dtype))


@torch.no_grad()
def linearise(body: BodyModel, base: torch.Tensor, fitted: list[int], kinked: list[int] = (),
              step: float = 0.05) -> ShapeSpace:
    """Central differences of ``body.rest`` at ``base`` [S] along the entries ``fitted`` (may be empty: a fixed
    shape); those also in ``kinked`` by their one-sided slopes over :data:`KINK_STEP` instead."""
    index = torch.tensor(fitted, dtype=torch.long, device=base.device)
    steps = [KINK_STEP if i in kinked else step for i in fitted]
    probes = [base]
    for i, h in zip(fitted, steps):
        for sign in (1.0, -1.0):
            p = base.clone()
            p[i] += sign * h
            probes.append(p)
    vertices, joints = body.rest(torch.stack(probes))
    h = torch.tensor(steps, dtype=base.dtype, device=base.device)

    def bases(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Probes [1 + 2P, N, 3] -> (mean slope, half the slopes' difference) [P, N*3] ([0, N*3] if none)."""
        plus, minus, twice, size = x[1::2], x[2::2], 2 * h[:, None], (len(fitted), x[0].numel())
        kink = torch.tensor([i in kinked for i in fitted], dtype=base.dtype, device=base.device)[:, None]
        return (plus - minus).reshape(size) / twice, kink * (plus + minus - 2 * x[:1]).reshape(size) / twice

    vertex_basis, vertex_kink = bases(vertices)
    joint_basis, joint_kink = bases(joints)
    radius = torch.tensor([KINK_STEP if i in kinked else TRUST_RADIUS for i in fitted], dtype=base.dtype,
                          device=base.device)
    return ShapeSpace(vertices[0], joints[0], vertex_basis, joint_basis, vertex_kink, joint_kink,
                      body.rest_to_canonical(joints[:1])[0], base, index, radius)
