"""Phones -> visemes -> ARKit: classes, closure, anticipatory rounding, silence, smoothness, gain."""

from __future__ import annotations

import numpy as np
import pytest

from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.resample import box_resample
from talkavatar.audio.visemes import (CLASSES, GAIN_CEILING, REST_CLOSE, VISEME_SHAPES,
                                      apply_opening_gain, classify_mouth, fill_gaps, mouth_curves, opening_gain,
                                      phone_class, phone_viseme, rest_lips)
from talkavatar.motion.names import ARKIT_INDEX, ARKIT_NAMES

JAW, PUCKER, PRESS = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthPucker"], ARKIT_INDEX["mouthPressLeft"]


def _segments(spec: str, step: float = 0.1) -> list[PhoneSegment]:
    out, t = [], 0.0
    for phone in spec.split():
        out.append(PhoneSegment(phone, t, t + step))
        t += step
    return out


def test_phone_classes():
    assert {phone_class(p) for p in ("P", "B", "M")} == {"bilabial"}
    assert {phone_class(p) for p in ("F", "V")} == {"labiodental"}
    assert {phone_class(p) for p in ("UW", "OW", "W", "AO", "ER")} == {"rounded"}
    assert {phone_class(p) for p in ("AA", "AE", "AH1", "EH")} == {"open"}
    assert {phone_class(p) for p in ("IY", "S", "T", "K", "SH")} == {"spread"}
    assert {phone_class(p) for p in ("SIL", "+NSN+", "+SPN+")} == {"silence"}
    assert phone_viseme("AH0") == phone_viseme("AH")


def test_ipa_phones_map_to_the_same_classes_as_their_arpabet_twins():
    pairs = {"p": "P", "m": "M", "f": "F", "θ": "TH", "t": "T", "n": "N", "k": "K", "tʃ": "CH", "s": "S", "ɹ": "R",
             "u": "UW", "w": "W", "oʊ": "OW", "ɑ": "AA", "æ": "AE", "ɛ": "EH", "ʌ": "AH", "i": "IY", "ɪ": "IH",
             "eɪ": "EY", "j": "Y", "aɪ": "AY", "ʃ": "SH", "ð": "DH", "ŋ": "NG", "ɝ": "ER"}
    for ipa, arpabet in pairs.items():
        assert phone_viseme(ipa) == phone_viseme(arpabet), ipa


def test_ipa_marks_do_not_change_the_viseme():
    assert {phone_viseme(p) for p in ("p", "pʰ", "p͈", "ˈp", "pʲ")} == {"PP"}
    assert {phone_viseme(p) for p in ("a", "ˈaː", "a˥˩", "a5", "ã", "ä")} == {"aa"}
    assert phone_viseme("t͡ʃ") == phone_viseme("tʃ") == "CH"
    assert phone_viseme("t̪") == "DD" and phone_viseme("ɡ") == phone_viseme("g") == "kk"
    assert {phone_viseme(p) for p in ("", "ˈ", "˥", "SIL")} == {"sil"}
    assert {phone_class(p) for p in ("y", "ø", "ɔ", "ʉ")} == {"rounded"}
    assert phone_class("ɸ") == phone_class("v") == "labiodental"
    # eSpeak NG's Cantonese is spelt in Jyutping: ei as eɪ, eo/eoi/oe are rounded vowels.
    assert phone_viseme("ˈei2") == phone_viseme("eɪ") == "I"
    assert {phone_class(p) for p in ("ˈeoiɜ", "eo2", "oe1")} == {"rounded"}


def test_each_viseme_shape_classifies_as_itself():
    for name, shape in VISEME_SHAPES.items():
        got = classify_mouth(shape[None])[0]
        assert got in CLASSES
        assert got == classify_mouth(np.clip(shape * 1.0, 0, 1)[None])[0]


def test_bilabial_closes_between_open_vowels():
    segs = _segments("SIL AA M AA SIL")
    times = np.arange(0, 0.5, 0.01) + 0.005
    w = mouth_curves(segs, times)
    m_centre = np.argmin(np.abs(times - 0.25))
    a_centre = np.argmin(np.abs(times - 0.15))
    assert w[a_centre, JAW] > 0.5
    assert w[m_centre, JAW] < 0.1 and w[m_centre, PRESS] > 0.4
    assert classify_mouth(w[[a_centre, m_centre]]) == ["open", "bilabial"]


def test_rounding_is_anticipated_through_a_consonant():
    segs = _segments("SIL IY S T UW SIL", 0.08)
    times = np.arange(0, 0.48, 0.005)
    w = mouth_curves(segs, times)
    # During T (0.24..0.32) the lips already pucker for UW, more than mid-S.
    t_mid, s_mid = np.argmin(np.abs(times - 0.28)), np.argmin(np.abs(times - 0.20))
    assert w[t_mid, PUCKER] > 0.05 and w[t_mid, PUCKER] > 5 * w[s_mid, PUCKER]


def test_a_tongue_consonant_holds_the_jaw_but_not_the_lips():
    """Between open vowels a 60 ms t raises the jaw at its centre; before a u the lips still round through it."""
    times = np.arange(0, 0.3, 0.005)
    centre = np.argmin(np.abs(times - 0.15))
    open_t = mouth_curves(_segments("SIL AA T AA SIL", 0.06), times)
    assert open_t[centre, JAW] < 0.5 * VISEME_SHAPES["aa"][JAW]
    assert classify_mouth(open_t[centre][None])[0] == "spread"
    before_u = mouth_curves(_segments("SIL AA T UW SIL", 0.06), times)
    assert before_u[centre, PUCKER] > 0.1 > open_t[centre, PUCKER]
    assert abs(before_u[centre, JAW] - open_t[centre, JAW]) < 0.1


def test_silence_closes_the_mouth_and_gaps_are_silence():
    segs = fill_gaps([PhoneSegment("AA", 0.5, 0.7)], 2.0)
    assert [s.phone for s in segs] == ["SIL", "AA", "SIL"] and segs[-1].end == 2.0
    times = np.arange(0, 2.0, 0.01)
    w = mouth_curves(segs, times)
    quiet = (times < 0.4) | (times > 0.8)
    assert w[quiet, JAW].max() < 0.1


def test_curves_are_smooth_and_blocking_changes_nothing():
    rng = np.random.default_rng(0)
    phones = ["AA", "M", "IY", "F", "UW", "S", "T", "OW", "SIL", "EH", "B"]
    segs, t = [], 0.0
    for _ in range(300):
        d = rng.uniform(0.04, 0.15)
        segs.append(PhoneSegment(phones[int(rng.integers(len(phones)))], t, t + d))
        t += d
    times = np.arange(0, t, 0.01)
    a = mouth_curves(segs, times, block=4096)
    b = mouth_curves(segs, times, block=97)
    assert np.allclose(a, b)
    assert np.abs(np.diff(a[:, JAW])).max() < 0.35          # per 10 ms


def test_opening_gain_scales_with_loudness_and_activity():
    """Louder frames open wider and no speech closes the mouth; quiet recognised phones narrow the lips with the
    jaw, quiet aligned (known) phones lower only the jaw and keep the lips' own opening."""
    loud = np.array([-20.0] * 50 + [-40.0] * 50)
    act = np.array([1.0] * 90 + [0.0] * 10)
    gain = opening_gain(loud, act)
    assert gain[10] > gain[60] > 0 and np.all(gain <= GAIN_CEILING)
    mouth = np.tile(VISEME_SHAPES["aa"], (100, 1))
    lower = ARKIT_INDEX["mouthLowerDownLeft"]
    recognised, aligned = (apply_opening_gain(mouth, gain, act, a) for a in (False, True))
    for out in (recognised, aligned):
        assert np.all(out[90:, JAW] == 0) and np.all(out[90:, lower] == 0)
        assert np.all(out[:, ARKIT_INDEX["mouthClose"]] <= out[:, JAW] + 1e-7)
        assert np.allclose(out[:, JAW], recognised[:, JAW])
    assert np.isclose(recognised[60, lower] / mouth[60, lower], recognised[60, JAW] / mouth[60, JAW])
    assert recognised[60, lower] < aligned[60, lower] == mouth[60, lower]


def test_box_resample_is_a_frame_average():
    values = np.repeat(np.arange(10.0), 10)[:, None]          # 100 Hz, steps every 0.1 s
    got = box_resample(values, 100.0, np.array([0.05, 0.55]), 0.1)
    assert np.allclose(got[:, 0], [0.0, 5.0])


def test_lips_rest_together_where_there_is_no_speech():
    """No speech: the lips close at REST_CLOSE (jaw shut); full speech: the mouth is left alone; a bilabial keeps its
    own closure. A resting mouth still reads as silence, not as a bilabial."""
    close = ARKIT_INDEX["mouthClose"]
    mouth = np.zeros((3, len(ARKIT_NAMES)), np.float32)
    mouth[2] = VISEME_SHAPES["PP"]
    out = rest_lips(mouth, np.array([0.0, 1.0, 0.0], np.float32))
    assert out[0, close] == pytest.approx(REST_CLOSE) and out[0, JAW] == 0.0
    assert np.array_equal(out[1], mouth[1]) and out[2, PRESS] == pytest.approx(0.55)
    assert classify_mouth(out) == ["silence", "silence", "bilabial"]
