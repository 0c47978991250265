"""Phone recognition and forced alignment with pocketsphinx's bundled en-us model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkavatar.audio.load import load_pcm
from talkavatar.audio.phones import PhoneAligner, PhoneRecognizer, quietest_cut, recognize_phones, transcript_words
from talkavatar.audio.visemes import fill_gaps, phone_class
from tests.audio_fixtures import speech_like

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIP = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
needs_librivox = pytest.mark.skipif(not CLIP.is_file(), reason="Debian pocketsphinx-testdata is not installed")


def test_transcript_words_and_dictionary_lookup():
    assert transcript_words("He was not an ill-disposed young man, Mr. O’Brien!") == \
        ["he", "was", "not", "an", "ill", "disposed", "young", "man", "mr", "o'brien"]
    known, missing = PhoneAligner().known_words(["hello", "world", "qzxv"])
    assert known == ["hello", "world"] and missing == ["qzxv"]


def test_quietest_cut_finds_the_pause():
    pcm = (speech_like(4.0, seed=0) * 20000).astype(np.int16)
    pcm[32000:33600] = 0
    cut = quietest_cut(pcm, 28000, 40000)
    assert 32000 <= cut < 33600


def test_segments_tile_the_audio_and_workers_do_not_change_them():
    pcm = (speech_like(35.0, seed=1) * 20000).astype(np.int16)
    one = recognize_phones(pcm, workers=1)
    rec = PhoneRecognizer(utterance_seconds=12.0, workers=2)
    for lo in range(0, len(pcm), 48000):
        rec.feed(pcm[lo:lo + 48000])
    two = rec.finish()
    assert one == two
    assert one[0].start == 0.0 and abs(one[-1].end - 35.0) < 0.05
    assert all(a.end <= b.start + 1e-9 for a, b in zip(one, one[1:]))


def test_empty_transcript_does_not_align():
    assert PhoneAligner().align(np.zeros(16000, np.int16), []) is None


@needs_librivox
def test_real_speech_alignment_and_recognition_agree_on_most_classes():
    pcm = load_pcm(CLIP)
    ref = PhoneAligner().align(pcm, transcript_words("he was not an ill disposed young man"))
    assert ref is not None
    assert [s.phone for s in ref if s.phone != "SIL"][:5] == ["HH", "IY", "W", "AH", "Z"]
    rec = fill_gaps(recognize_phones(pcm), len(pcm) / 16000)
    starts = np.array([s.start for s in rec])
    agree = [phone_class(rec[max(int(np.searchsorted(starts, s.centre, "right")) - 1, 0)].phone) == phone_class(s.phone)
             for s in ref]
    assert np.mean(agree) > 0.7
