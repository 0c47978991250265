"""The pocketsphinx en-us front end (its ``feat.params``), vectorised: MFCC -> CMN -> cepstra, deltas, double deltas.

Per 10 ms frame of 16 kHz int16 audio: pre-emphasis 0.97, a 410-sample (25.625 ms) Hamming window, 512-point power
spectrum, 25 triangular mel filters of unit area over 130-6800 Hz with edges rounded to FFT bins, pocketsphinx's
noise suppression on the mel powers (``-remove_noise yes``), natural log (+1e-4), orthonormal DCT-II to 13 cepstra,
sinusoidal lifter 22, batch cepstral mean normalisation, then ``1s_c_d_dd``: ``c[t]``, ``d = c[t+2] - c[t-2]``,
``dd = (c[t+3] - c[t-1]) - (c[t+1] - c[t-3])`` with edge frames repeated.

The noise suppression is a per-frame recursion (smoothed power, lower envelopes, temporal masking, smoothed gain);
it runs over many segments of a file at once (``[B, F, 25]``), so its Python loop is as long as the longest
segment, not the file.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from talkavatar.audio.load import SAMPLE_RATE

FRAME_SHIFT = 160
FRAME_LENGTH = 410                # round(0.025625 * 16000)
FFT_SIZE = 512
N_FILTERS = 25
N_CEPSTRA = 13
LOWER_HZ, UPPER_HZ = 130.0, 6800.0
PRE_EMPHASIS = 0.97
LIFTER = 22
LOG_FLOOR = 1e-4

# Noise suppression constants of pocketsphinx's fe_noise.c.
_SMOOTH_WINDOW = 4
_LAMBDA_POWER, _LAMBDA_A, _LAMBDA_B, _LAMBDA_T, _MU_T, _MAX_GAIN = 0.7, 0.995, 0.5, 0.85, 0.2, 20.0


def _mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, np.float64) / 700.0)


def _mel_inverse(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank() -> np.ndarray:
    """``[FFT_SIZE // 2 + 1, N_FILTERS]`` triangular filters of unit area, edges rounded to FFT bins."""
    step = SAMPLE_RATE / FFT_SIZE
    lo, hi = _mel(LOWER_HZ), _mel(UPPER_HZ)
    width = (hi - lo) / (N_FILTERS + 1)
    edges = np.floor(_mel_inverse(lo + np.arange(N_FILTERS + 2) * width) / step + 0.5) * step
    hz = np.arange(FFT_SIZE // 2 + 1) * step
    bank = np.zeros((len(hz), N_FILTERS))
    for i in range(N_FILTERS):
        left, centre, right = edges[i:i + 3]
        inside = (hz >= left) & (hz <= right) & (np.arange(len(hz)) < FFT_SIZE // 2)
        rise = (hz - left) / (centre - left)
        fall = (right - hz) / (right - centre)
        bank[inside, i] = (np.minimum(rise, fall) * 2.0 / (right - left))[inside]
    return bank


def dct_matrix() -> np.ndarray:
    """``[N_FILTERS, N_CEPSTRA]`` orthonormal DCT-II with the lifter folded in."""
    j = np.arange(N_FILTERS)[:, None]
    i = np.arange(N_CEPSTRA)[None, :]
    basis = np.cos(np.pi * i * (j + 0.5) / N_FILTERS) * np.sqrt(2.0 / N_FILTERS)
    basis[:, 0] = np.sqrt(1.0 / N_FILTERS)
    lifter = 1.0 + LIFTER / 2.0 * np.sin(np.arange(N_CEPSTRA) * np.pi / LIFTER)
    return basis * lifter[None, :]


_FILTERBANK = mel_filterbank().astype(np.float32)
_DCT = dct_matrix().astype(np.float32)
_WINDOW = np.hamming(FRAME_LENGTH).astype(np.float32)


def frame_count(samples: int) -> int:
    return 0 if samples < FRAME_LENGTH else 1 + (samples - FRAME_LENGTH) // FRAME_SHIFT


def mel_power(pcm: np.ndarray) -> np.ndarray:
    """Mel filter powers ``[F, 25]`` float32 of int16 ``pcm [n]`` (frame k starts at sample 160 k)."""
    frames = frame_count(len(pcm))
    if frames == 0:
        return np.zeros((0, N_FILTERS), np.float32)
    x = pcm.astype(np.float32)
    emphasised = np.empty_like(x)
    emphasised[0] = x[0]
    emphasised[1:] = x[1:] - PRE_EMPHASIS * x[:-1]
    out = np.empty((frames, N_FILTERS), np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(emphasised, FRAME_LENGTH)[::FRAME_SHIFT]   # a view
    block = 1024
    for lo in range(0, frames, block):              # bounded temporaries
        hi = min(lo + block, frames)
        spec = sfft.rfft(windows[lo:hi] * _WINDOW, n=FFT_SIZE, axis=1)
        out[lo:hi] = (spec.real ** 2 + spec.imag ** 2) @ _FILTERBANK
    return out


def suppress_noise(power: np.ndarray) -> np.ndarray:
    """pocketsphinx's noise suppression of mel powers ``power [B, F, 25]`` (B independent segments, each starting
    like a pocketsphinx utterance: noise and floor estimates at the first frame's power / 20).

    Per frame: smoothed power, its lower envelope (the noise), the lower envelope of what stands above the noise
    (a floor), temporal masking after peaks, then a gain (signal / power, within 1/20..20) smoothed over +-4
    filters multiplies the input. Returns the suppressed powers ``[B, F, 25]``.
    """
    b, f, n = power.shape
    out = np.empty_like(power)
    if f == 0:
        return out
    p = power.astype(np.float64)
    smoothed = p[:, 0].copy()
    noise = p[:, 0] / _MAX_GAIN
    floor = noise.copy()
    peak = np.zeros((b, n))
    # Gain smoothing over +-4 filters: a banded averaging matrix.
    k = np.arange(n)
    band = (np.abs(k[:, None] - k[None, :]) <= _SMOOTH_WINDOW).astype(np.float64)
    band /= band.sum(axis=0, keepdims=True)
    smoothed_all = np.empty((b, f, n))
    masked_all = np.empty((b, f, n))
    rise_a, rise_b = 1 - _LAMBDA_A, 1 - _LAMBDA_B
    for t in range(f):
        smoothed = _LAMBDA_POWER * smoothed + (1 - _LAMBDA_POWER) * p[:, t]
        gap = smoothed - noise                       # lower envelope: slow up (LAMBDA_A), fast down (LAMBDA_B)
        noise += np.where(gap >= 0, rise_a, rise_b) * gap
        signal = np.maximum(smoothed - noise, 1.0)
        gap = signal - floor
        floor += np.where(gap >= 0, rise_a, rise_b) * gap
        peak *= _LAMBDA_T
        masked = np.where(signal < _LAMBDA_T * peak, peak * _MU_T, signal)
        np.maximum(peak, signal, out=peak)
        smoothed_all[:, t] = smoothed
        masked_all[:, t] = np.maximum(masked, floor)
    gains = np.where(masked_all < _MAX_GAIN * smoothed_all, masked_all / np.maximum(smoothed_all, 1e-30), _MAX_GAIN)
    gains = np.maximum(gains, 1.0 / _MAX_GAIN)
    out[:] = p * (gains @ band)
    return out


def cepstra(power: np.ndarray) -> np.ndarray:
    """Liftered cepstra ``[..., 13]`` of mel powers ``[..., 25]``."""
    return np.log(power + LOG_FLOOR).astype(np.float32) @ _DCT


def dynamic_features(cep: np.ndarray) -> np.ndarray:
    """``1s_c_d_dd`` features ``[F, 39]`` of mean-normalised cepstra ``[F, 13]`` (edges repeated)."""
    f = len(cep)
    if f == 0:
        return np.zeros((0, 3 * N_CEPSTRA), np.float32)
    padded = np.concatenate([np.repeat(cep[:1], 3, axis=0), cep, np.repeat(cep[-1:], 3, axis=0)])

    def at(shift):
        return padded[3 + shift:3 + shift + f]

    delta = at(2) - at(-2)
    delta2 = (at(3) - at(-1)) - (at(1) - at(-3))
    return np.concatenate([cep, delta, delta2], axis=1).astype(np.float32)
