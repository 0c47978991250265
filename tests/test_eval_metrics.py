"""Eval metrics against known values: PSNR (identical -> inf, Gaussian noise -> analytic), SSIM against skimage,
masking, the lip-sync correlation and lag on signals with a known delay, the mouth-opening measure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from talkavatar.core.losses import psnr
from talkavatar.eval.image_metrics import image_scores, l1_per_image
from talkavatar.eval.lipsync import lip_sync, mouth_opening, pearson, speech_envelope


def _images(seed: int, batch: int = 2, size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, size, size, 3, generator=g, dtype=torch.float64)


def test_identical_images_give_infinite_psnr_and_unit_ssim():
    x = _images(0)
    scores = image_scores(x, x.clone())
    assert np.isinf(scores.psnr).all() and (scores.psnr > 0).all()
    np.testing.assert_allclose(scores.ssim, 1.0, atol=1e-12)
    np.testing.assert_array_equal(scores.l1, 0.0)


def test_gaussian_noise_of_known_sigma_gives_the_analytic_psnr():
    # Mid-grey plus N(0, sigma^2) noise that never clips: MSE -> sigma^2, so PSNR -> -20 log10(sigma).
    g = torch.Generator().manual_seed(1)
    for sigma in (0.01, 0.05, 0.1):
        x = torch.full((1, 256, 256, 3), 0.5, dtype=torch.float64)
        y = x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64)
        expected = -20 * math.log10(sigma)
        assert abs(float(psnr(y, x)[0]) - expected) < 0.1


def test_ssim_matches_skimage_on_random_images():
    skm = pytest.importorskip("skimage.metrics")
    for seed in range(3):
        x = _images(seed, batch=1)
        y = (x + 0.2 * _images(seed + 10, batch=1)).clamp(0, 1)
        ours = float(image_scores(x, y).ssim[0])
        ref = skm.structural_similarity(x[0].numpy(), y[0].numpy(), channel_axis=-1, data_range=1.0,
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert abs(ours - ref) < 1e-3, (ours, ref)


def test_masked_metrics_ignore_what_lies_outside_the_mask():
    x = _images(2)
    y = x.clone()
    y[:, :, 32:] = 1 - y[:, :, 32:]          # right half differs
    mask = torch.zeros(x.shape[:3], dtype=x.dtype)
    mask[:, :, :20] = 1                      # left part only (SSIM windows centred there see only equal pixels)
    scores = image_scores(x, y, mask)
    assert np.isinf(scores.psnr).all()
    np.testing.assert_allclose(scores.ssim, 1.0, atol=1e-12)
    assert (l1_per_image(x, y) > 0.1).all() and (scores.l1 == 0).all()


def test_bad_shapes_are_refused():
    x = _images(0)
    with pytest.raises(ValueError):
        image_scores(x, x[:, :32])
    with pytest.raises(ValueError):
        image_scores(x, x, torch.ones(2, 32, 32))


def test_perceptual_distance_is_zero_for_identical_and_grows_with_noise():
    from talkavatar.core.losses import perceptual_distance

    distance = perceptual_distance("efficientnet")
    x = _images(3, batch=1).float()
    g = torch.Generator().manual_seed(0)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    same, different = image_scores(x, x, perceptual=distance), image_scores(x, noisy, perceptual=distance)
    assert same.perceptual_kind == "efficientnet"
    assert abs(float(same.perceptual[0])) < 1e-6 < float(different.perceptual[0])


def test_lip_sync_finds_a_known_delay():
    fps, rate = 25.0, 100.0
    t_env = np.arange(0, 8, 1 / rate)
    rng = np.random.default_rng(0)
    envelope = np.convolve(rng.random(len(t_env)), np.ones(15) / 15, mode="same")
    delay = 0.12                                          # the mouth moves 120 ms after the sound
    t_video = np.arange(0, 8, 1 / fps)
    opening = np.interp(t_video - delay, t_env, envelope)
    opening[::7] = np.nan                                 # frames without a face are skipped
    result = lip_sync(opening, fps, envelope, max_lag_ms=300)
    assert result.best_lag_ms == pytest.approx(120, abs=10)
    assert result.best_correlation > 0.95 > result.correlation
    assert result.frames_used == np.isfinite(opening).sum()
    unrelated = lip_sync(opening, fps, np.roll(envelope, 350), max_lag_ms=300)
    assert unrelated.best_correlation < 0.5


def test_pearson_and_mouth_opening():
    a = np.arange(10.0)
    assert pearson(a, 2 * a + 1) == pytest.approx(1.0)
    assert math.isnan(pearson(a, np.ones(10)))
    face = np.zeros((478, 3))
    face[33, :2], face[263, :2] = (0, 0), (60, 0)        # eye corners 60 px apart
    face[13, :2], face[14, :2] = (30, 50), (30, 65)      # lips 15 px apart
    assert mouth_opening(face) == pytest.approx(0.25)


def test_speech_envelope_follows_loudness():
    rate = 16000
    t = np.arange(2 * rate) / rate
    loud = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)      # 250 ms bursts, 4 per second... 2 Hz square
    pcm = (0.3 * np.sin(2 * np.pi * 200 * t) * loud * 32767).astype(np.int16)
    from talkavatar.audio.prosody import prosody_of

    envelope = speech_envelope(prosody_of(pcm).loudness_db)
    assert envelope.shape == (200,)
    on, off = envelope[loud[::160][:200] > 0], envelope[loud[::160][:200] == 0]
    assert on.mean() > 0.8 and off.mean() < 0.2
