"""Image losses: SSIM against scikit-image, PSNR/L1 with masks, shapes, bad inputs, gradients."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from talkavatar.core.losses import l1, psnr, ssim, ssim_loss, ssim_map


def _pair(seed=0, b=2, h=40, w=33, c=3, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, h, w, c, generator=g, dtype=dtype)
    y = (x + 0.2 * torch.randn(b, h, w, c, generator=g, dtype=dtype)).clamp(0, 1)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_skimage(seed):
    x, y = _pair(seed)
    ours = ssim(x, y)
    for i in range(x.shape[0]):
        ref = structural_similarity(x[i].numpy(), y[i].numpy(), channel_axis=-1, data_range=1.0,
                                    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert abs(float(ours[i]) - ref) < 1e-3


def test_ssim_float32_close_to_float64_and_identity_is_one():
    x, y = _pair(3)
    assert torch.allclose(ssim(x.float(), y.float()).double(), ssim(x, y), atol=1e-4)
    assert torch.allclose(ssim(x, x), torch.ones(2, dtype=torch.float64))
    assert ssim_loss(x, x).abs() < 1e-12


def test_ssim_batched_equals_looped_and_map_shape():
    x, y = _pair(4, b=3)
    looped = torch.cat([ssim(x[i:i + 1], y[i:i + 1]) for i in range(3)])
    assert torch.allclose(ssim(x, y), looped)
    assert ssim_map(x, y).shape == (3, 30, 23, 3)


def test_ssim_mask_selects_region():
    x, y = _pair(5, b=1, h=48, w=48)
    y[:, :, 24:] = x[:, :, 24:]  # right half identical
    mask = torch.zeros(1, 48, 48, dtype=x.dtype)
    mask[:, :, 30:] = 1  # window centres whose whole window lies in the identical half
    assert torch.allclose(ssim(x, y, mask), torch.ones(1, dtype=x.dtype))
    assert ssim(x, y) < 0.95


def test_bad_inputs():
    x, y = _pair()
    with pytest.raises(ValueError):
        ssim(x, y[:, :-1])
    with pytest.raises(ValueError):
        ssim(x[:, :8, :8], y[:, :8, :8])
    with pytest.raises(ValueError):
        l1(x, y, torch.ones(2, 5, 5))
    with pytest.raises(ValueError):
        psnr(x[0], y[0])


def test_psnr_and_l1_masked():
    x = torch.zeros(1, 16, 16, 3)
    y = torch.zeros(1, 16, 16, 3)
    y[:, :8] = 0.1  # top half differs by 0.1
    mask = torch.zeros(1, 16, 16)
    mask[:, :8] = 1
    assert torch.allclose(psnr(x, y, mask), torch.tensor([20.0]), atol=1e-4)
    assert torch.allclose(psnr(x, y), torch.tensor([10 * np.log10(1 / 0.005)], dtype=torch.float32), atol=1e-4)
    assert torch.allclose(l1(x, y, mask), torch.tensor(0.1))
    assert torch.allclose(l1(x, y), torch.tensor(0.05))
    mask[:] = 0
    mask[:, 8:] = 1
    assert l1(x, y, mask) == 0


def test_gradcheck_ssim_and_l1():
    x, y = _pair(6, b=1, h=12, w=12, c=1)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: ssim(a, y), (x,))
    assert torch.autograd.gradcheck(lambda a: l1(a, y), (x,))
