"""Lip sync: how the mouth opening seen on rendered frames follows the loudness of the speech.

Mouth opening per frame: the gap between the inner lips (MediaPipe Face Mesh points 13 and 14) divided by the
distance between the outer eye corners (33 and 263), so it does not depend on image size or distance to camera.
Speech envelope: the amplitude envelope (RMS per 10 ms, from the loudness of :mod:`talkavatar.audio.prosody`),
mapped to 0..1 between the file's noise floor (10th percentile) and its 99th percentile, lightly smoothed (20 ms).
Linear amplitude, not dB: on the sample render (mouth driven by drive-audio's jawOpen) it correlates better with
the mouth (r 0.38 vs 0.28) and a log scale lifts the quiet consonants the mouth does not open for.
Score: the Pearson correlation of the two over the frames where a face was found, with the envelope shifted by each
lag in ``[-max_lag, +max_lag]`` in 10 ms steps; we report it at lag 0 and at the best lag. A positive lag means the
mouth moves after the sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

UPPER_INNER_LIP, LOWER_INNER_LIP = 13, 14
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
ENVELOPE_RATE = 100.0


def mouth_opening(face: np.ndarray) -> float:
    """Inner-lip gap / outer-eye-corner distance of one face's Face Mesh points ``face`` [478, >=2]."""
    gap = np.linalg.norm(face[LOWER_INNER_LIP, :2] - face[UPPER_INNER_LIP, :2])
    eyes = np.linalg.norm(face[LEFT_EYE_OUTER, :2] - face[RIGHT_EYE_OUTER, :2])
    return float(gap / eyes) if eyes > 0 else float("nan")


def speech_envelope(loudness_db: np.ndarray) -> np.ndarray:
    """0..1 amplitude envelope [F] at 100 frames/s of the speech whose loudness per 10 ms is ``loudness_db`` [F]
    (drive-audio's prosody: ``prosody_of(pcm).loudness_db``; see the module docstring)."""
    amplitude = 10.0 ** (np.asarray(loudness_db, np.float64) / 20.0)
    if amplitude.size == 0:
        return amplitude
    floor, peak = np.percentile(amplitude, 10), np.percentile(amplitude, 99)
    if peak - floor < 1e-9:
        return np.zeros_like(amplitude)
    return gaussian_filter1d(np.clip((amplitude - floor) / (peak - floor), 0.0, 1.0), 2.0)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length series (nan when either is constant or shorter than 3)."""
    if len(a) < 3:
        return float("nan")
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


@dataclass(frozen=True)
class LipSync:
    """``correlation``: at lag 0; ``best_correlation`` at ``best_lag_ms``; ``lags_ms`` [L] with ``curve`` [L]
    the correlation at each lag; ``frames_used``: frames with a face."""

    correlation: float
    best_correlation: float
    best_lag_ms: float
    lags_ms: np.ndarray
    curve: np.ndarray
    frames_used: int


def lip_sync(opening: np.ndarray, fps: float, envelope: np.ndarray, max_lag_ms: float = 300.0,
             envelope_rate: float = ENVELOPE_RATE) -> LipSync:
    """Correlate ``opening`` [T] (per video frame at ``fps``, nan where no face) with ``envelope`` [F] (at
    ``envelope_rate`` per second) over lags of ``±max_lag_ms`` (see the module docstring)."""
    times = np.arange(len(opening)) / fps
    envelope_times = np.arange(len(envelope)) / envelope_rate
    valid = np.isfinite(opening)
    lags = np.arange(-round(max_lag_ms / 10), round(max_lag_ms / 10) + 1) * 10.0
    curve = np.full(len(lags), np.nan)
    for k, lag in enumerate(lags):
        shifted = times - lag / 1000.0
        inside = valid & (shifted >= 0) & (shifted <= envelope_times[-1] if len(envelope) else False)
        if inside.sum() >= 3:
            curve[k] = pearson(opening[inside], np.interp(shifted[inside], envelope_times, envelope))
    zero = curve[len(lags) // 2]
    if np.isfinite(curve).any():
        best = int(np.nanargmax(curve))
        best_r, best_lag = float(curve[best]), float(lags[best])
    else:
        best_r, best_lag = float("nan"), float("nan")
    return LipSync(float(zero), best_r, best_lag, lags, curve, int(valid.sum()))
