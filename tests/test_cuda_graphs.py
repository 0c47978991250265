"""CudaGraphed: replaying a captured graph gives the eager result; wrong arguments are refused."""

import pytest
import torch

from talkavatar.core.cuda_graphs import CudaGraphed
from talkavatar.core.rotations import axis_angle_to_matrix


def test_needs_cuda_tensors():
    with pytest.raises(ValueError, match="CUDA tensor"):
        CudaGraphed(lambda x: x * 2, torch.ones(3))


@pytest.mark.gpu
def test_replay_matches_eager_and_checks_shapes():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(500, 3, generator=gen).cuda()

    def pose(axis_angle, shift):  # many small kernels, like posing
        rotations = axis_angle_to_matrix(axis_angle)  # [B, 3, 3]
        return (rotations[:, None] @ points[None, :, :, None])[..., 0] + shift[:, None]

    example = (torch.randn(4, 3, generator=gen).cuda(), torch.randn(4, 3, generator=gen).cuda())
    graphed = CudaGraphed(pose, *example)
    for seed in (1, 2):
        g = torch.Generator().manual_seed(seed)
        args = (torch.randn(4, 3, generator=g).cuda(), torch.randn(4, 3, generator=g).cuda())
        assert torch.allclose(graphed(*args), pose(*args), atol=1e-6)
    with pytest.raises(ValueError, match="captured for"):
        graphed(torch.zeros(5, 3, device="cuda"), torch.zeros(5, 3, device="cuda"))


@pytest.mark.gpu
def test_in_place_work_replayed_on_the_same_tensors():
    """GraphedInPlace: the first call runs the function, later calls replay it on the tensors' current values."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from talkavatar.core.cuda_graphs import GraphedInPlace

    x, limit = torch.randn(1000, 3, device="cuda"), torch.full((1000, 1), 0.5, device="cuda")

    def keep_in_range():
        x.clamp_(-1, 1)
        torch.minimum(x, limit, out=x)

    step = GraphedInPlace(keep_in_range, x.device)
    for seed in range(3):
        with torch.no_grad():
            x.copy_(torch.randn(1000, 3, generator=torch.Generator().manual_seed(seed)).cuda() * 3)
        expected = torch.minimum(x.clamp(-1, 1), limit)
        step()
        assert torch.equal(x, expected)
