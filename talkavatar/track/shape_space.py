"""A linearised shape space for fitting: the body model's rest mesh and joints as affine functions of a few shape
parameters around a base shape.

Evaluating the full model (hundreds of shape blendshapes, bone re-orientation) at every optimisation step is the
slow part of fitting; its first-order expansion in the fitted parameters (Anny: the 6 phenotypes) costs one matrix
product. It is only accurate near the base: measured on Anny with all 6 phenotypes moved together, the largest
vertex error is 1.6 mm at +-0.05, 4.4 mm at +-0.1, 33 mm at +-0.2 and 154 mm at +-0.3. Fitting therefore keeps
the offsets within :data:`TRUST_RADIUS`, and the final rig (and every reported figure) comes from the real model
at the fitted shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from talkavatar.core.body.base import BodyModel


TRUST_RADIUS = 0.1
"""Largest offset of a fitted shape parameter from the base (Anny phenotypes are 0..1): <= ~4 mm linearisation
error. A person far from the average (e.g. very tall) needs re-linearising around a new base: not done yet."""


@dataclass(frozen=True)
class ShapeSpace:
    """``vertices(c) = vertices0 + c @ vertex_basis``, likewise joints, for ``c`` [P] = shape - base on the fitted
    entries. vertices0: [V, 3]; joints0: [J, 3]; vertex_basis: [P, V*3]; joint_basis: [P, J*3];
    rest_to_canonical: [J, 3, 3] (at the base shape); base: [S] full shape vector; fitted: [P] its indices."""

    vertices0: torch.Tensor
    joints0: torch.Tensor
    vertex_basis: torch.Tensor
    joint_basis: torch.Tensor
    rest_to_canonical: torch.Tensor
    base: torch.Tensor
    fitted: torch.Tensor

    def rest(self, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """delta: [P] → (vertices [V, 3], joints [J, 3])."""
        v = self.vertices0 + (delta @ self.vertex_basis).view_as(self.vertices0)
        j = self.joints0 + (delta @ self.joint_basis).view_as(self.joints0)
        return v, j

    def full_shape(self, delta: torch.Tensor) -> torch.Tensor:
        """The model's shape vector [S] for ``delta`` [P]."""
        return self.base.index_add(0, self.fitted, delta.to(self.base.dtype))


@torch.no_grad()
def linearise(body: BodyModel, base: torch.Tensor, fitted: list[int], step: float = 0.05) -> ShapeSpace:
    """Central differences of ``body.rest`` at ``base`` [S] along the entries ``fitted`` (may be empty: a fixed
    shape)."""
    index = torch.tensor(fitted, dtype=torch.long, device=base.device)
    probes = [base]
    for i in fitted:
        for sign in (1.0, -1.0):
            p = base.clone()
            p[i] += sign * step
            probes.append(p)
    vertices, joints = body.rest(torch.stack(probes))
    v_plus, v_minus = vertices[1::2], vertices[2::2]
    j_plus, j_minus = joints[1::2], joints[2::2]
    vertex_basis = ((v_plus - v_minus) / (2 * step)).reshape(len(fitted), vertices[0].numel())  # [0, V*3] if none
    joint_basis = ((j_plus - j_minus) / (2 * step)).reshape(len(fitted), joints[0].numel())
    return ShapeSpace(vertices[0], joints[0], vertex_basis, joint_basis, body.rest_to_canonical(joints[:1])[0],
                      base, index)
