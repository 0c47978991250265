"""Resampling of feature curves between frame rates with an exact box (frame-averaging) filter."""

from __future__ import annotations

import numpy as np


def box_resample(values: np.ndarray, rate_in: float, times_out: np.ndarray, width_s: float) -> np.ndarray:
    """Mean of ``values [F, C]`` (sample k covers ``[k, k+1) / rate_in``) over ``times_out ± width_s / 2``.

    Returns ``[len(times_out), C]``; windows are clipped to the input's extent.
    """
    values = np.asarray(values, dtype=np.float64)
    frames = values.shape[0]
    if frames == 0:
        return np.zeros((len(times_out),) + values.shape[1:])
    edges = np.arange(frames + 1) / rate_in
    integral = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0) / rate_in])
    lo = np.clip(times_out - 0.5 * width_s, 0.0, edges[-1])
    hi = np.clip(times_out + 0.5 * width_s, 0.0, edges[-1])
    hi = np.maximum(hi, lo + 1e-9)

    def at(t):
        k = np.clip(np.floor(t * rate_in).astype(int), 0, frames - 1)
        return integral[k] + (t - edges[k])[:, None] * values[k]

    return (at(hi) - at(lo)) / (hi - lo)[:, None]
