"""Prosody: loudness, pitch and voicing per 10 ms, streaming equals one-shot, accents on emphasised syllables."""

from __future__ import annotations

import numpy as np

from talkavatar.audio.prosody import ProsodyStream, accents, prosody_of, speech_activity

RATE = 16000


def _harmonic(f0: float, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(amp / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 8))


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 32767, -32768, 32767).astype(np.int16)


def test_pitch_of_a_harmonic_tone():
    for f0 in (90.0, 150.0, 260.0):
        p = prosody_of(_pcm(_harmonic(f0, 1.0)))
        assert p.frames == 100
        voiced = p.pitch_hz[5:-5]
        assert (voiced > 0).all()
        assert abs(np.median(voiced) / f0 - 1) < 0.02


def test_noise_is_unvoiced_and_silence_is_quiet():
    rng = np.random.default_rng(0)
    p = prosody_of(_pcm(np.concatenate([0.2 * rng.standard_normal(RATE), np.zeros(RATE)])))
    assert (p.pitch_hz[10:90] > 0).mean() < 0.1
    assert p.loudness_db[150:].max() < -80 < p.loudness_db[10:90].min()


def test_streaming_matches_one_shot_for_any_block_size():
    x = _pcm(_harmonic(120.0, 2.3) * np.linspace(0.2, 1, int(2.3 * RATE)))
    whole = prosody_of(x)
    for block in (1000, 4801, 16000):
        s = ProsodyStream()
        for lo in range(0, len(x), block):
            s.feed(x[lo:lo + block])
        part = s.finish()
        assert part.frames == whole.frames == 230
        assert np.allclose(part.loudness_db, whole.loudness_db, atol=1e-4)
        assert np.allclose(part.pitch_hz, whole.pitch_hz, atol=1e-3)


def test_accents_land_on_the_loud_high_syllables():
    syllables, loud_ones = [], [3, 8]
    for k in range(12):
        loud = k in loud_ones
        s = _harmonic(180.0 if loud else 120.0, 0.18, 0.45 if loud else 0.12) * np.hanning(int(0.18 * RATE))
        syllables += [s, np.zeros(int(0.12 * RATE))]
    x = np.concatenate([np.zeros(int(0.3 * RATE)), *syllables, np.zeros(int(0.3 * RATE))])
    p = prosody_of(_pcm(x))
    found = accents(p)
    centres = [0.3 + 0.3 * k + 0.09 for k in range(12)]
    strong = [a for a in found if a.strength > 0.8]
    assert strong and all(min(abs(a.time - centres[k]) for k in loud_ones) < 0.06 for a in strong)
    assert speech_activity(p)[:20].max() < 0.5 < speech_activity(p)[int(centres[3] * 100)]


def test_silence_has_no_accents():
    p = prosody_of(np.zeros(2 * RATE, np.int16))
    assert accents(p) == [] and not speech_activity(p).any()
