"""Prosody at 100 frames/s: loudness, pitch, voicing, and accent (stress/peak) events.

Computed block by block (:class:`ProsodyStream`), so the cost and memory are per block, not per file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.signal import find_peaks

from talkavatar.audio.load import SAMPLE_RATE

HOP = SAMPLE_RATE // 100          # 10 ms
WINDOW = 640                      # 40 ms: two periods of 50 Hz... enough for 70 Hz voices
FFT = 1024
PITCH_MIN_HZ, PITCH_MAX_HZ = 70.0, 400.0
VOICING_THRESHOLD = 0.45
FEATURE_BLOCK = 200               # frames per FFT batch


_HANN = np.hanning(WINDOW).astype(np.float32)
# The window's own autocorrelation taper, undone so that long lags are not penalised.
_WINDOW_ACF = np.maximum(np.correlate(_HANN, _HANN, "full")[WINDOW - 1:2 * WINDOW - 1] / float(_HANN @ _HANN),
                         1e-3).astype(np.float32)


@dataclass
class Prosody:
    """Per 10 ms frame: ``loudness_db [F]`` (dBFS), ``pitch_hz [F]`` (0 where unvoiced), ``voicing [F]`` (0..1)."""

    loudness_db: np.ndarray
    pitch_hz: np.ndarray
    voicing: np.ndarray

    rate: float = 100.0

    @property
    def frames(self) -> int:
        return len(self.loudness_db)


def frame_features(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frames [F, WINDOW]`` float32 in -1..1 -> ``(loudness_db, pitch_hz, voicing)``, each ``[F]``.

    Pitch: the shortest-lag peak of the normalised autocorrelation (70..400 Hz) within 10 % of the highest,
    parabolically refined.
    """
    centred = frames - frames.mean(axis=1, keepdims=True)
    energy = (centred ** 2).mean(axis=1)
    loudness = 10.0 * np.log10(energy + 1e-10)
    spec = sfft.rfft(centred * _HANN, n=FFT, axis=1)                 # float32 in, complex64 out
    acf = sfft.irfft(spec.real ** 2 + spec.imag ** 2, n=FFT, axis=1)[:, : WINDOW]
    lag_lo, lag_hi = int(SAMPLE_RATE / PITCH_MAX_HZ), int(SAMPLE_RATE / PITCH_MIN_HZ)
    norm = acf / np.maximum(acf[:, :1], 1e-12) / _WINDOW_ACF
    band = norm[:, lag_lo:lag_hi]
    # The first local maximum within 10 % of the best one: a periodic signal also peaks at 2, 3... periods.
    local_max = np.zeros_like(band, dtype=bool)
    local_max[:, 1:-1] = (band[:, 1:-1] >= band[:, :-2]) & (band[:, 1:-1] >= band[:, 2:])
    candidate = local_max & (band >= 0.9 * band.max(axis=1, keepdims=True))
    k = np.where(candidate.any(axis=1), np.argmax(candidate, axis=1), np.argmax(band, axis=1))
    peak = band[np.arange(len(k)), k]
    left = band[np.arange(len(k)), np.maximum(k - 1, 0)]
    right = band[np.arange(len(k)), np.minimum(k + 1, band.shape[1] - 1)]
    denom = left - 2 * peak + right
    shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / np.where(np.abs(denom) > 1e-9, denom, 1.0), 0.0)
    lag = lag_lo + k + np.clip(shift, -1.0, 1.0)
    voicing = np.clip((peak - 0.3) / 0.5, 0.0, 1.0) * (loudness > -55.0)
    pitch = np.where(peak > VOICING_THRESHOLD, SAMPLE_RATE / lag, 0.0) * (loudness > -55.0)
    return loudness.astype(np.float32), pitch.astype(np.float32), voicing.astype(np.float32)


class ProsodyStream:
    """Feed int16 blocks; ``finish`` returns :class:`Prosody` with one frame per 10 ms of input."""

    def __init__(self):
        self.pending = np.zeros(WINDOW // 2, np.float32)   # centre the first window on t = 0
        self.samples = 0
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.emitted = 0

    def _emit(self, final: bool) -> None:
        needed = self.samples // HOP if final else None
        available = (len(self.pending) - WINDOW) // HOP + 1 if len(self.pending) >= WINDOW else 0
        count = available if needed is None else needed - self.emitted
        if final and count > available:
            pad = (count - 1) * HOP + WINDOW - len(self.pending)
            self.pending = np.concatenate([self.pending, np.zeros(max(pad, 0), np.float32)])
            available = count
        count = min(count, available)
        if count <= 0:
            return
        windows = np.lib.stride_tricks.sliding_window_view(self.pending, WINDOW)[::HOP]     # a view, no copy
        for lo in range(0, count, FEATURE_BLOCK):     # small blocks keep the FFT temporaries small
            self.parts.append(frame_features(windows[lo:min(lo + FEATURE_BLOCK, count)]))
        self.emitted += count
        self.pending = self.pending[count * HOP:]

    def feed(self, pcm: np.ndarray) -> None:
        self.samples += len(pcm)
        self.pending = np.concatenate([self.pending, pcm.astype(np.float32) / 32768.0])
        self._emit(final=False)

    def finish(self) -> Prosody:
        self._emit(final=True)
        if not self.parts:
            z = np.zeros(0, np.float32)
            return Prosody(z, z.copy(), z.copy())
        return Prosody(*(np.concatenate([p[i] for p in self.parts]) for i in range(3)))


def prosody_of(pcm: np.ndarray) -> Prosody:
    stream = ProsodyStream()
    stream.feed(pcm)
    return stream.finish()


def speech_activity(prosody: Prosody) -> np.ndarray:
    """0..1 per frame: how far loudness stands above the file's noise floor (smoothed, dilated 60 ms)."""
    if prosody.frames == 0:
        return np.zeros(0, np.float32)
    loud = prosody.loudness_db
    floor = max(float(np.percentile(loud, 10)), -75.0)
    speech_level = max(float(np.percentile(loud, 95)), floor + 1e-3)
    if speech_level - floor < 10.0 or speech_level < -50.0:   # no speech dynamics at all: a silent/constant file
        return np.zeros_like(loud)
    lo = floor + 0.25 * (speech_level - floor)
    hi = floor + 0.45 * (speech_level - floor)
    act = np.clip((loud - lo) / (hi - lo), 0.0, 1.0)
    act = maximum_filter1d(act, size=13)
    return gaussian_filter1d(act, 2.0).astype(np.float32)


@dataclass(frozen=True)
class Accent:
    time: float       # seconds
    strength: float   # 0..1 relative prominence
    pitch_rise: float  # semitones above the local median pitch (0 if unvoiced)


def accents(prosody: Prosody, min_gap_s: float = 0.22) -> list[Accent]:
    """Prominence peaks (stressed syllables): loudness peaks in voiced speech, boosted by local pitch rises."""
    if prosody.frames < 5:
        return []
    act = speech_activity(prosody)
    loud = gaussian_filter1d(prosody.loudness_db.astype(np.float64), 3.0)
    voiced = prosody.pitch_hz > 0
    semis = np.where(voiced, 12.0 * np.log2(np.maximum(prosody.pitch_hz, 1.0) / 100.0), np.nan)
    if voiced.sum() >= 5:
        median = float(np.nanmedian(semis))
        rise = np.nan_to_num(gaussian_filter1d(np.nan_to_num(semis - median), 3.0) * gaussian_filter1d(
            voiced.astype(np.float64), 3.0), nan=0.0)
    else:
        rise = np.zeros(prosody.frames)
    speech = act > 0.5
    if speech.sum() < 5:
        return []
    z_loud = (loud - loud[speech].mean()) / (loud[speech].std() + 1e-6)
    z_rise = (rise - rise[speech].mean()) / (rise[speech].std() + 1e-6)
    prominence = (z_loud + 0.5 * np.clip(z_rise, -2, 3)) * (act > 0.5)
    peaks, props = find_peaks(prominence, height=0.0, distance=max(1, int(min_gap_s * prosody.rate)),
                              prominence=0.4)
    if len(peaks) == 0:
        return []
    heights = props["peak_heights"]
    strength = np.clip(heights / max(float(np.percentile(heights, 90)), 1e-6), 0.0, 1.0)
    return [Accent(p / prosody.rate, float(s), float(rise[p])) for p, s in zip(peaks, strength)]
