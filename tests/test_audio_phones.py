"""Phone recognition (our decoder on pocketsphinx's en-us model) and forced alignment (pocketsphinx)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkavatar.audio.load import load_pcm
from talkavatar.audio.phone_loop import (LOOP_PHONES, PhoneRecognizer, decode_block, quiet_cuts, quietest_sample,
                                         recognize_phones, scoring_tables, senone_log_likelihoods, viterbi)
from talkavatar.audio.phones import PhoneAligner, transcript_words
from talkavatar.audio.sphinx_features import (FFT_SIZE, SAMPLE_RATE, cepstra, dynamic_features, mel_filterbank,
                                              mel_power, suppress_noise)
from talkavatar.audio.sphinx_model import load_phone_model
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


def test_the_bundled_model_reads_as_ci_phone_hmms():
    model = load_phone_model()
    assert len(model.phones) == 42 and model.phones[model.index("SIL")] == "SIL"
    assert model.means.shape == (3, 42, 128, 13) and model.log_weights.shape == (3, 42, 3, 128)
    # Byte-quantised weights: each senone's mixture sums to ~1; transitions are left-to-right and normalised.
    sums = np.exp(model.log_weights).sum(-1)
    assert np.all((sums > 0.9) & (sums < 1.1))
    probs = np.exp(model.log_transitions)
    assert np.allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert np.all(probs[:, [1, 2], [0, 0]] == 0) and np.all(probs[:, 0, 2:] == 0)


def test_mel_filters_have_unit_area_in_hertz():
    bank = mel_filterbank()
    assert bank.shape == (FFT_SIZE // 2 + 1, 25)
    area = bank.sum(0) * SAMPLE_RATE / FFT_SIZE
    assert np.allclose(area, 1.0, atol=0.25)             # rounding edges to FFT bins moves the area a little
    assert np.all(np.diff(bank.argmax(0)) > 0)           # centres rise


def test_noise_suppression_follows_stationary_noise_and_keeps_bursts():
    rng = np.random.default_rng(0)
    power = np.full((1, 600, 25), 1e6) * rng.uniform(0.9, 1.1, (1, 600, 25))
    power[0, 400:420] *= 100.0                           # a loud burst after the noise estimate has settled
    out = suppress_noise(power)
    gain = out / power
    assert gain[0, 350:400].mean() < 0.3                 # stationary noise is pushed down
    assert gain[0, 405:420].mean() > 0.8                 # the burst passes


def test_viterbi_follows_clear_scores_and_marks_each_entry():
    tables = scoring_tables()
    p = len(LOOP_PHONES)
    a, b = LOOP_PHONES.index("AA"), LOOP_PHONES.index("S")
    scores = np.full((2, 30, p, 3), -50.0, np.float32)
    scores[0, :15, a] = 0.0
    scores[0, 15:, b] = 0.0
    scores[1, :12, b] = 0.0                              # a shorter second segment, padded
    path = viterbi(scores, np.array([30, 12]), tables)
    assert path[0, 0] == -1 - a and np.all(path[0, 1:15] == a)
    assert path[0, 15] == -1 - b and np.all(path[0, 16:] == b)
    assert path[1, 0] == -1 - b and np.all(path[1, 1:12] == b) and np.all(path[1, 12:] == p)


def test_quiet_cuts_land_in_pauses():
    pcm = (speech_like(4.0, seed=0) * 20000).astype(np.int16)
    pcm[32000:33600] = 0
    assert 32000 <= quietest_sample(pcm, 28000, 40000) < 33600
    energy = np.ones(1000)
    energy[[180, 420, 610, 800]] = 0.0
    assert quiet_cuts(energy, 200) == [0, 180, 420, 610, 800, 1000]


def test_segments_tile_the_audio_and_feeding_does_not_change_them():
    pcm = (speech_like(25.0, seed=1) * 20000).astype(np.int16)
    whole = PhoneRecognizer(block_seconds=8.0)
    whole.feed(pcm)
    one = whole.finish()
    pieces = PhoneRecognizer(block_seconds=8.0)
    for lo in range(0, len(pcm), 48000):
        pieces.feed(pcm[lo:lo + 48000])
    assert pieces.finish() == one
    assert one[0].start == 0.0 and abs(one[-1].end - 25.0) < 1e-6
    assert all(abs(a.end - b.start) < 1e-9 for a, b in zip(one, one[1:]))
    assert set(s.phone for s in one) <= set(LOOP_PHONES)
    assert decode_block(np.zeros(100, np.int16), 1.0) == [type(one[0])("SIL", 1.0, 1.0 + 100 / SAMPLE_RATE)]


def test_scoring_on_several_threads_gives_the_same_scores():
    cep = cepstra(mel_power((speech_like(3.3) * 20000).astype(np.int16)))
    feats = dynamic_features(cep - cep.mean(0))                    # [328, 39]: three blocks of 96 and a part
    one = senone_log_likelihoods(feats, scoring_tables(), block=96, threads=1)
    assert one.shape == (len(feats), len(LOOP_PHONES), 3) and np.isfinite(one).all()
    for threads in (2, 3, 8):
        assert np.array_equal(senone_log_likelihoods(feats, scoring_tables(), block=96, threads=threads), one)


def test_empty_transcript_does_not_align():
    assert PhoneAligner().align(np.zeros(16000, np.int16), []) is None


@needs_librivox
def test_acoustic_scores_favour_the_phones_pocketsphinx_aligns():
    """Our front end + GMM scoring against pocketsphinx's own forced alignment of the same clip."""
    pcm = load_pcm(CLIP)
    ref = PhoneAligner().align(pcm, transcript_words("he was not an ill disposed young man"))
    power = mel_power(pcm)
    cep = cepstra(suppress_noise(power[None])[0])
    scores = senone_log_likelihoods(dynamic_features(cep - cep.mean(0)), scoring_tables()).max(axis=2)  # [F, P]
    ranks = []
    for seg in ref:
        name = seg.phone if seg.phone in LOOP_PHONES else "SIL"
        frames = scores[int(seg.start * 100):int(seg.end * 100)].sum(axis=0)
        ranks.append(int((frames > frames[LOOP_PHONES.index(name)]).sum()))
    assert np.median(ranks) <= 1 and np.mean(np.array(ranks) < 5) > 0.8


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
