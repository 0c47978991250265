"""Picking rows of a tensor by an index tensor, with a scatter-add for a backward.

``values[index]`` (advanced indexing) backpropagates through ``index_put_(accumulate=True)``, which on CUDA sorts the
indices on every call; ``index_select`` backpropagates through ``index_add_`` (atomic adds, no sort). The fit's mesh
terms pick rows this way 12 times a step (vertices of faces, normals of face pairs, Laplacian neighbours, the
Gaussians' triangle corners): on the H100 their backward was 0.64 ms of sorts and sort-based kernels a pseudo
step (benchmarks/step_profile.py, RESULTS.md, twenty-first session, speed21). On the CPU both add in the order
of the index: the same numbers.
"""

from __future__ import annotations

import torch


def gather(values: torch.Tensor, index: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``values`` picked along ``dim`` by ``index`` (long, any shape): the shape of ``values`` with ``dim`` replaced
    by ``index.shape``, e.g. values [B, V, 3], index [F, 3], dim 1 -> [B, F, 3, 3]; the same as
    ``values[:, index]``."""
    dim = dim % values.dim()
    return values.index_select(dim, index.reshape(-1)).unflatten(dim, index.shape)
