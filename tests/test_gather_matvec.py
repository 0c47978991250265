"""core.gather.gather (row picks with a scatter-add backward) and core.skinning.matvec (3x3 matrices times vectors,
as products on CUDA): the same numbers as advanced indexing and torch.matmul, on the CPU bitwise, on CUDA to
rounding; the fit's mesh terms give the same values and gradients either way."""

import pytest
import torch

from talkavatar.core import silhouette as silhouette_module
from talkavatar.core.gather import gather
from talkavatar.core.losses import mesh as mesh_module
from talkavatar.core.losses import (face_pairs, laplacian_smoothing, mesh_edges, mesh_gaussian_consistency,
                                    normal_consistency)
from talkavatar.core.silhouette import sample_points
from talkavatar.core.skinning import matvec


def _mesh(seed: int = 0, v: int = 400, f: int = 700, n: int = 2500):
    g = torch.Generator().manual_seed(seed)
    faces = torch.randint(0, v, (f, 3), generator=g)
    bary = torch.rand(n, 3, generator=g)
    return dict(faces=faces, face_index=torch.randint(0, f, (n,), generator=g), bary=bary / bary.sum(1, keepdim=True),
                vertices=torch.randn(1, v, 3, generator=g), offsets=torch.randn(n, 3, generator=g),
                vertex_offsets=torch.randn(v, 3, generator=g),
                gaussian_edges=torch.randint(0, n, (2 * n, 2), generator=g))


def _advanced_indexing(values: torch.Tensor, index: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The reference :func:`gather`: ``values[..., index]`` (its backward is ``index_put_(accumulate=True)``)."""
    return values[(slice(None),) * (dim % values.dim()) + (index,)]


def _pick_by_advanced_indexing(monkeypatch):
    for module in (mesh_module, silhouette_module):
        monkeypatch.setattr(module, "gather", _advanced_indexing)


def _mesh_terms(m: dict, device) -> tuple[list, list]:
    """The fit's mesh terms (and track's surface samples) of ``m`` and their gradients."""
    m = {k: t.to(device) for k, t in m.items()}
    leaves = [m[k].clone().requires_grad_(True) for k in ("vertices", "offsets", "vertex_offsets")]
    vertices, offsets, dT = leaves
    faces = m["faces"]
    values = [normal_consistency(vertices + dT[None], faces, face_pairs(faces)),
              laplacian_smoothing(offsets, m["gaussian_edges"]) + laplacian_smoothing(dT, mesh_edges(faces)),
              mesh_gaussian_consistency(offsets, dT, faces, m["face_index"], m["bary"]),
              sample_points(vertices + dT[None], faces, m["face_index"], m["bary"]).square().mean()]
    grads = [torch.autograd.grad(v, leaves, allow_unused=True) for v in values]
    return values, grads


@pytest.mark.parametrize("dim", [0, 1, -2])
def test_gather_is_advanced_indexing(dim):
    values = torch.randn(4, 6, 5, dtype=torch.float64, requires_grad=True)
    index = torch.randint(0, values.shape[dim], (7, 3))
    picked = gather(values, index, dim)
    expected = _advanced_indexing(values, index, dim)
    assert picked.shape == expected.shape
    assert torch.equal(picked, expected)
    weights = torch.randn(picked.shape, dtype=torch.float64)
    (a,), (b,) = (torch.autograd.grad((p * weights).sum(), values) for p in (picked, expected))
    assert torch.equal(a, b)
    assert torch.autograd.gradcheck(lambda x: gather(x, index, dim), (values,))


def test_gather_rejects_an_index_out_of_range():
    with pytest.raises(IndexError):
        gather(torch.zeros(3, 2), torch.tensor([0, 3]))


def test_matvec_is_matmul_and_broadcasts():
    g = torch.Generator().manual_seed(1)
    m = torch.randn(2, 50, 3, 3, dtype=torch.float64, generator=g)
    v = torch.randn(50, 3, dtype=torch.float64, generator=g)  # shared by both batches, as an avatar's offsets
    out = matvec(m, v)
    assert out.shape == (2, 50, 3)
    torch.testing.assert_close(out, (m @ v[..., None]).squeeze(-1), rtol=0, atol=1e-14)
    assert torch.autograd.gradcheck(matvec, (m.requires_grad_(), v.requires_grad_()))


def test_mesh_terms_are_bitwise_the_same_on_the_cpu(monkeypatch):
    """On the CPU index_add adds in the index's order, as index_put does: the fit's mesh terms and their gradients
    do not change by a bit (nor track's silhouette samples)."""
    m = _mesh()
    new = _mesh_terms(m, "cpu")
    _pick_by_advanced_indexing(monkeypatch)
    old = _mesh_terms(m, "cpu")
    for a, b in zip(new[0], old[0]):
        assert torch.equal(a, b)
    for ga, gb in zip(new[1], old[1]):
        for a, b in zip(ga, gb):
            assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.gpu
def test_gather_and_matvec_on_cuda_match_the_old_paths(monkeypatch):
    """CUDA: index_add's atomics add in any order, cuBLAS's gemv in its own: equal to float32 rounding."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    m = _mesh(v=5000, f=9000, n=60000)
    new = _mesh_terms(m, "cuda")
    _pick_by_advanced_indexing(monkeypatch)
    old = _mesh_terms(m, "cuda")
    for a, b in zip(new[0], old[0]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    for ga, gb in zip(new[1], old[1]):
        for a, b in zip(ga, gb):
            assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-4, atol=1e-6)
    g = torch.Generator().manual_seed(2)
    mats, vecs = torch.randn(2, 170000, 3, 3, generator=g).cuda(), torch.randn(170000, 3, generator=g).cuda()
    torch.testing.assert_close(matvec(mats, vecs), (mats @ vecs[..., None]).squeeze(-1), rtol=1e-5, atol=1e-5)
