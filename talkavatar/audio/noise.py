"""Smooth, seeded random curves (the slow wander of a living head and body)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def smooth_noise(rng: np.random.Generator, frames: int, fps: float, timescale_s: float, amplitude: float,
                 channels: int = 1) -> np.ndarray:
    """Gaussian-filtered white noise ``[frames, channels]`` with std ``amplitude`` and correlation ``timescale_s``."""
    if frames == 0:
        return np.zeros((0, channels))
    sigma = max(timescale_s * fps, 1.0)
    pad = int(3 * sigma)
    white = rng.standard_normal((frames + 2 * pad, channels))
    smooth = gaussian_filter1d(white, sigma, axis=0, mode="wrap")[pad:pad + frames]
    return smooth * (amplitude / (np.sqrt(1.0 / (2.0 * np.sqrt(np.pi) * sigma))))
