"""Forward kinematics and linear blend skinning (LBS): the one posing path every body model and rig uses.

Convention (SMPL-style): every joint's local rotation is expressed in world-aligned axes of the rest pose, so a
pose of identities gives the rest mesh. Joint ``j`` with parent ``p`` posed:
``G_j = G_p R_j`` and ``t_j = t_p + G_p (J_j - J_p)`` (root: ``G_0 = R_0``, ``t_0 = J_0``), and it moves rest points
by the skinning transform ``T_j x = G_j (x - J_j) + t_j``. A vertex moves by the weighted sum of its joints'
transforms. Pure functions over tensors; batched over a leading ``B``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KinematicTree:
    """A joint tree ordered for level-by-level forward kinematics.

    ``parents``: [J] parent index per joint (exactly one root, at index 0, with parent -1; otherwise any order).
    ``levels``: per depth level below the root, the joints of that level [n] and their parents' positions [n] in
    the level above.
    """

    parents: tuple[int, ...]
    levels: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    order: torch.Tensor    # [J] joints in level order
    inverse: torch.Tensor  # [J] position of each joint in ``order``
    parent_index: torch.Tensor  # [J] parents as a tensor, the root's being -1
    jump_steps: int  # ceil(log2(depth)): pointer-jumping steps that compose every chain
    jump_ancestor: torch.Tensor  # [J + 1] parents, with the root (and the identity slot J) pointing at slot J

    @classmethod
    def from_parents(cls, parents) -> "KinematicTree":
        parents = [int(p) for p in parents]
        if not parents or parents[0] >= 0 or any(p < 0 for p in parents[1:]):
            raise ValueError("expected one root joint, at index 0 (parent -1)")
        children: list[list[int]] = [[] for _ in parents]
        for joint, parent in enumerate(parents[1:], start=1):
            if not 0 <= parent < len(parents):
                raise ValueError(f"joint {joint} has parent {parent}, outside the tree")
            children[parent].append(joint)
        levels, order = [], [0]
        level = [0]
        while True:
            nxt, local = [], []
            for position, joint in enumerate(level):
                for child in children[joint]:
                    nxt.append(child)
                    local.append(position)
            if not nxt:
                break
            levels.append((torch.tensor(nxt), torch.tensor(local)))
            order.extend(nxt)
            level = nxt
        if len(order) != len(parents):
            raise ValueError("the joint tree has a cycle or joints not reachable from the root")
        order_t = torch.tensor(order)
        depth = len(levels) + 1
        ancestor = torch.tensor([len(parents)] + parents[1:] + [len(parents)])
        return cls(tuple(parents), tuple(levels), order_t, torch.argsort(order_t), torch.tensor(parents),
                   max(0, math.ceil(math.log2(depth))), ancestor)

    def to(self, device) -> "KinematicTree":
        return KinematicTree(self.parents, tuple((a.to(device), b.to(device)) for a, b in self.levels),
                             self.order.to(device), self.inverse.to(device), self.parent_index.to(device),
                             self.jump_steps, self.jump_ancestor.to(device))


def forward_kinematics(tree: KinematicTree, local_rotations: torch.Tensor,
                       rest_joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Posed joint frames.

    ``local_rotations``: [B, J, 3, 3]; ``rest_joints``: [J, 3] or [B, J, 3].
    Returns ``(global_rotations [B, J, 3, 3], posed_joints [B, J, 3])`` (root at its rest position).

    Composes the chains by pointer jumping: ``ceil(log2(depth))`` rounds of "every joint takes its ancestor's
    transform and jumps to that ancestor's ancestor", a few large batched products instead of one small product
    per depth level (fewer kernel launches on a GPU). :func:`forward_kinematics_by_level` is the readable twin.
    """
    batch, count = local_rotations.shape[:2]
    rest_joints = rest_joints.expand(batch, -1, -1) if rest_joints.dim() == 2 else rest_joints
    offsets = rest_joints - rest_joints[:, tree.parent_index.clamp_min(0)] * (tree.parent_index >= 0)[:, None]
    # Local rigid transforms [R_j | J_j - J_p] (root: [R_0 | J_0]) as 4x4, plus an identity slot at index J.
    local = torch.zeros(batch, count + 1, 4, 4, dtype=local_rotations.dtype, device=local_rotations.device)
    local[:, :count, :3, :3] = local_rotations
    local[:, :count, :3, 3] = offsets
    local[:, :, 3, 3] = 1
    local[:, count, :3, :3] = torch.eye(3, dtype=local.dtype, device=local.device)
    ancestor = tree.jump_ancestor
    world = local
    for _ in range(tree.jump_steps):
        world = world[:, ancestor] @ world
        ancestor = ancestor[ancestor]
    return world[:, :count, :3, :3], world[:, :count, :3, 3]


def forward_kinematics_by_level(tree: KinematicTree, local_rotations: torch.Tensor,
                                rest_joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Same as :func:`forward_kinematics`, one depth level at a time (the readable reference)."""
    batch = local_rotations.shape[0]
    rest_joints = rest_joints.expand(batch, -1, -1) if rest_joints.dim() == 2 else rest_joints
    offsets = rest_joints - rest_joints[:, tree.parent_index.clamp_min(0)]  # [B, J, 3], root: 0
    rotations = [local_rotations[:, :1]]
    positions = [rest_joints[:, :1]]
    for joints, local_parent in tree.levels:
        parent_rotation = rotations[-1][:, local_parent]
        rotations.append(parent_rotation @ local_rotations[:, joints])
        positions.append(positions[-1][:, local_parent]
                         + (parent_rotation @ offsets[:, joints, :, None]).squeeze(-1))
    inverse = tree.inverse
    return torch.cat(rotations, 1)[:, inverse], torch.cat(positions, 1)[:, inverse]


def skinning_transforms(global_rotations: torch.Tensor, posed_joints: torch.Tensor,
                        rest_joints: torch.Tensor) -> torch.Tensor:
    """Per-joint rest-to-posed transforms ``[G_j | t_j - G_j J_j]``: [B, J, 3, 4]."""
    translation = posed_joints - (global_rotations @ rest_joints.expand_as(posed_joints)[..., None]).squeeze(-1)
    return torch.cat([global_rotations, translation[..., None]], -1)


@dataclass(frozen=True)
class SparseWeights:
    """Skinning weights [N, J] held as sparse rows (CSR) and their transpose, for the CPU: a point reads few joints
    (Anny: 2.5 of 104 on average), and the dense product of :func:`blend_transforms` costs ~10x its sparse one, its
    backward as much again (track's fit on one CPU thread: ~1.5 s of its 240 steps; benchmarks/RESULTS.md,
    thirteenth session, speed9pre). Same sums up to float rounding (the order of each row's few terms)."""

    rows: torch.Tensor     # [N, J] sparse CSR
    columns: torch.Tensor  # [J, N] sparse CSR: the transpose, for the backward

    @classmethod
    def of(cls, dense: torch.Tensor) -> "SparseWeights":
        """From dense weights [N, J]."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta state")
            return cls(dense.to_sparse_csr(), dense.t().contiguous().to_sparse_csr())

    @property
    def shape(self) -> torch.Size:
        return self.rows.shape

    def __getitem__(self, points: torch.Tensor) -> "SparseWeights":
        """The weights of ``points`` [N'] (indices) alone."""
        return SparseWeights.of(self.rows.to_dense()[points])


class _SparseProduct(torch.autograd.Function):
    """``rows @ x`` for sparse ``rows`` [N, J] and dense ``x`` [J, C]; the gradient of ``x`` is ``columns @ grad``
    (the weights are constants: no gradient)."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, columns: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.columns = columns
        return rows @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, None, ctx.columns @ grad.contiguous()


def blend_transforms(weights: torch.Tensor | SparseWeights, transforms: torch.Tensor) -> torch.Tensor:
    """Per-point blended transforms ``sum_j w_ij T_j``. ``weights``: [N, J] dense or :class:`SparseWeights`;
    ``transforms``: [B, J, 3, 4].

    Returns [B, N, 3, 4] (not rigid in general: LBS blends matrices).
    """
    batch, joints = transforms.shape[:2]
    flat = transforms.reshape(batch, joints, 12)
    if isinstance(weights, SparseWeights):
        columns = flat.transpose(0, 1).reshape(joints, batch * 12)  # [J, B * 12]
        blended = _SparseProduct.apply(weights.rows, weights.columns, columns)  # [N, B * 12]
        return blended.reshape(-1, batch, 3, 4).transpose(0, 1)
    return torch.matmul(weights, flat).reshape(batch, -1, 3, 4)


# Matrices times vectors in posing's hot paths (:func:`matvec`) as products summed over a row. torch.matmul makes a
# batch of 3x3 matrices times vectors a batched cuBLAS gemv, one launch per 65,535 of them, each 47-75 us on the
# H100: the fit's posing of 169k Gaussians and its mesh term made 18 of them a pseudo step, 1.08 ms of kernels
# (benchmarks/step_profile.py, RESULTS.md, twenty-first session, speed21); skinning's 13.7k vertices one a frame.
# On the CPU torch.matmul stays (its small-matrix loop is faster there: 0.48 against 0.82 ms forward + backward for
# 6000 matrices on one thread) and adds the three products in the same order.


def matvec(matrices: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """``matrices`` [..., 3, 3] times ``vectors`` [..., 3] -> [..., 3] (leading dimensions broadcast): on CUDA one
    elementwise product and a sum, elsewhere ``(matrices @ vectors[..., None])[..., 0]``; the same numbers up to
    rounding."""
    if matrices.is_cuda:
        return (matrices * vectors[..., None, :]).sum(-1)
    return (matrices @ vectors[..., None]).squeeze(-1)


def apply_transforms(transforms: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """``transforms``: [B, N, 3, 4], ``points``: [B or 1, N, 3] -> [B, N, 3]."""
    return matvec(transforms[..., :3], points) + transforms[..., 3]


def linear_blend_skinning(rest_points: torch.Tensor, weights: torch.Tensor | SparseWeights,
                          transforms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LBS of ``rest_points`` [B or 1, N, 3] with ``weights`` [N, J] (dense or :class:`SparseWeights`) and joint
    ``transforms`` [B, J, 3, 4].

    Returns ``(posed_points [B, N, 3], point_transforms [B, N, 3, 4])``.
    """
    blended = blend_transforms(weights, transforms)
    return apply_transforms(blended, rest_points), blended


def dense_weights(indices: torch.Tensor, weights: torch.Tensor, joint_count: int) -> torch.Tensor:
    """Sparse top-k skinning weights (``indices``, ``weights``: [N, K]) -> dense [N, J]."""
    dense = torch.zeros(indices.shape[0], joint_count, dtype=weights.dtype, device=weights.device)
    return dense.scatter_add_(1, indices.long(), weights)
