"""Speech-like test audio generated in code: voiced 'syllables' (glottal pulses through vowel formants) with
noise bursts for consonants and pauses between phrases. Deterministic; no downloads, no TTS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

VOWEL_FORMANTS = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (570, 840))


def _resonator(x: np.ndarray, freq: float, bandwidth: float, rate: int) -> np.ndarray:
    r = np.exp(-np.pi * bandwidth / rate)
    theta = 2 * np.pi * freq / rate
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)


def speech_like(seconds: float, rate: int = 16000, seed: int = 0, f0: float = 120.0) -> np.ndarray:
    """Mono float32 in -1..1, ``[seconds * rate]``: phrases of syllables at ~4/s with 0.4-0.8 s pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    t = 0.3
    while t < seconds - 0.5:
        phrase_end = min(t + rng.uniform(1.5, 3.0), seconds - 0.3)
        while t < phrase_end:
            dur = rng.uniform(0.15, 0.3)
            a, b = int(t * rate), min(int((t + dur) * rate), n)
            k = np.arange(b - a)
            pitch = f0 * (1 + 0.15 * np.sin(2 * np.pi * 0.7 * (t + k / rate))) * rng.uniform(0.9, 1.15)
            phase = np.cumsum(pitch / rate)
            pulses = np.diff(np.floor(phase), prepend=0.0)
            f1, f2 = VOWEL_FORMANTS[int(rng.integers(len(VOWEL_FORMANTS)))]
            voiced = _resonator(pulses, f1, 90, rate) + 0.6 * _resonator(pulses, f2, 120, rate)
            env = np.sin(np.pi * k / len(k)) ** 0.6 * rng.uniform(0.4, 1.0)
            out[a:b] += voiced * env
            burst = min(int(0.04 * rate), n - b)
            if burst > 0 and rng.uniform() < 0.6:
                out[b:b + burst] += 0.05 * rng.standard_normal(burst) * np.hanning(burst)
            t += dur + rng.uniform(0.03, 0.08)
        t += rng.uniform(0.4, 0.8)
    out += 1e-4 * rng.standard_normal(n)
    return (0.8 * out / max(np.abs(out).max(), 1e-9)).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, rate: int = 16000) -> Path:
    sf.write(path, audio, rate, subtype="PCM_16")
    return path


def ffmpeg_convert(src: Path, dst: Path, *args: str) -> Path:
    """Re-encode ``src`` to ``dst`` (format from the suffix) with the bundled ffmpeg."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), *args,
                    str(dst)], check=True)
    return dst
