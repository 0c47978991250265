"""Resampling of feature curves between frame rates with an exact box (frame-averaging) filter."""

from __future__ import annotations

import numpy as np


def box_resample(values: np.ndarray, rate_in: float, times_out: np.ndarray, width_s: float,
                 block: int = 512) -> np.ndarray:
    """Mean of ``values [F, C]`` (sample k covers ``[k, k+1) / rate_in``) over ``times_out ± width_s / 2``.

    Returns float32 ``[len(times_out), C]``; windows are clipped to the input's extent. ``times_out`` must be
    sorted; work proceeds in blocks of ``block`` output frames so temporaries stay small.
    """
    values = np.asarray(values)
    frames = values.shape[0]
    out = np.zeros((len(times_out), values.shape[1]), np.float32)
    if frames == 0:
        return out
    end = frames / rate_in
    for lo in range(0, len(times_out), block):
        t = times_out[lo:lo + block]
        a = np.clip(t - 0.5 * width_s, 0.0, end)
        b = np.maximum(np.clip(t + 0.5 * width_s, 0.0, end), a + 1e-9)
        first = int(np.clip(np.floor(a[0] * rate_in), 0, frames - 1))
        last = int(np.clip(np.floor(b[-1] * rate_in), 0, frames - 1)) + 1
        local = values[first:last].astype(np.float64)
        integral = np.concatenate([np.zeros((1, local.shape[1])), np.cumsum(local, axis=0) / rate_in])

        def at(x):
            k = np.clip(np.floor(x * rate_in).astype(int), first, last - 1)
            return integral[k - first] + (x - k / rate_in)[:, None] * local[k - first]

        out[lo:lo + block] = (at(b) - at(a)) / (b - a)[:, None]
    return out
