"""drive-audio in any language: G2P, CTC alignment, the language-independent recogniser, --language."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkavatar.audio.ctc_align import (HEARD_P, align_ipa, alternative_scores, ctc_viterbi, heard_phones,
                                        path_log_likelihood, phone_tokens, spoken_language, transcript_tokens)
from talkavatar.audio.drive import drive_audio
from talkavatar.audio.g2p import check_language, dictionary_words, ipa_words
from talkavatar.audio.language import posterior_entropy, transcript_language
from talkavatar.audio.load import load_pcm
from talkavatar.audio.phone_source import PhoneSource
from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.boundaries import (LEAD_S, ONSET_BELOW_DB, SPIKE_OFFSET_S, SPIKE_WEIGHTS, START_LAG_S, UNIT_S,
                                         KEEP_S, log_mel, mean_boundaries, phone_runs, place_segments,
                                         spectral_change, speech_frames, spread_unheard)
from talkavatar.audio.universal import (FRAME_RATE, blank_id, closure_evidence, dark_evidence, greedy_phones, log_probs,
                                        phone_token_ids, vocabulary)
from talkavatar.audio.visemes import classify_mouth, phone_class
from talkavatar.cli import app
from talkavatar.motion.names import ARKIT_INDEX
from talkavatar.errors import UsageError

CZECH = "Moje máma bydlí v malém domě u řeky a peče buchty."


@pytest.fixture(scope="module")
def czech_wav(tmp_path_factory) -> Path:
    """eSpeak NG reading a Czech sentence (made by the test; eSpeak NG is a system program .ci/run installs)."""
    path = tmp_path_factory.mktemp("speech") / "cs.wav"
    subprocess.run(["espeak-ng", "-v", "cs", "-w", str(path), CZECH], check=True)
    return path


def _ctc_naive(scores: np.ndarray, tokens: list[int], blank: int) -> float:
    """Best CTC path score by enumerating every frame labelling (tiny inputs only)."""
    best = -np.inf
    f, v = scores.shape
    for labels in itertools.product(range(v), repeat=f):
        collapsed = [k for k, _ in itertools.groupby(labels)]
        if [k for k in collapsed if k != blank] == tokens:
            best = max(best, sum(scores[t, k] for t, k in enumerate(labels)))
    return best


def test_ctc_viterbi_finds_the_best_path_of_a_naive_search():
    rng = np.random.default_rng(0)
    for tokens in ([1, 2], [1, 1], [2, 1, 2]):
        scores = np.log(rng.dirichlet(np.ones(3), size=6)).astype(np.float32)
        position = ctc_viterbi(scores, np.array(tokens), blank=0)
        got = path_log_likelihood(scores, np.array(tokens), position, blank=0)
        assert got == pytest.approx(_ctc_naive(scores, tokens, 0), abs=1e-4)
        assert [k for k, _ in itertools.groupby(position) if k >= 0] == list(range(len(tokens)))


def test_ctc_viterbi_refuses_too_few_frames():
    scores = np.zeros((2, 3), np.float32)
    assert ctc_viterbi(scores, np.array([1, 1]), blank=0) is None      # 'a a' needs a blank between: 3 frames


def test_dutch_phones_the_recogniser_writes_otherwise_align_where_it_writes_them():
    """Dutch ʋ, which the recogniser writes w (ctc_align.ALSO_WRITTEN), and ʌʊ, which it writes oʊ (WRITTEN_AS).
    Frames of 'n ʌʊ ʋ ɑ': n spikes at frame 2, oʊ at 6, w at 10 (a weaker spike: blank 0.4), ɑ at 13; ʋ itself has
    a trace only right before ɑ. Read as German (no rule) ʌʊ needs two tokens of which the audio has neither and ʋ
    squeezes next to ɑ; read as Dutch, ʌʊ sits on oʊ's spike and ʋ on w's."""
    vocab = vocabulary()
    frames = np.full((16, len(vocab)), 1e-4)
    frames[:, blank_id()] = 1.0
    for token, frame, p in (("n", 2, 1.0), ("oʊ", 6, 1.0), ("w", 10, 0.6), ("ʋ", 12, 1e-3), ("ɑ", 13, 1.0)):
        frames[frame, vocab.index(token)] = p
        frames[frame, blank_id()] = 1.0 - p if p < 1.0 else 1e-4
    scores = np.log(frames / frames.sum(axis=1, keepdims=True)).astype(np.float32)
    words = [["n", "ˈʌʊ"], ["ʋ", "ɑ"]]
    assert alternative_scores(scores, "de") is scores
    german, dutch = transcript_tokens(words, "de"), transcript_tokens(words, "nl")
    assert [vocab[k] for k in german[1]] == ["n", "ʌ", "ʊ", "ʋ", "ɑ"]
    assert [vocab[k] for k in dutch[1]] == ["n", "oʊ", "ʋ", "ɑ"] and list(dutch[2]) == [0, 1, 2, 3]
    position = ctc_viterbi(alternative_scores(scores, "de"), german[1], blank_id())
    assert list(np.flatnonzero(position == 3)) == [12]
    position = ctc_viterbi(alternative_scores(scores, "nl"), dutch[1], blank_id())
    assert [list(np.flatnonzero(position == k)) for k in range(4)] == [[2], [6], [10], [13]]


def test_place_segments_from_spikes_keeps_pauses():
    """Without audio the boundaries are the spike priors (all LEAD_S early): a short gap is shared, a pause stays
    silence, a phone after a pause starts START_LAG_S before its run."""
    pause = int(0.5 / UNIT_S)
    units = np.array([-1] * 5 + [0] * 4 + [-1] * 2 + [1] * 3 + [-1] * pause + [2] * 2 + [-1] * 3)
    segs = place_segments(units, ["m", "a", "p"])
    assert [s.phone for s in segs] == ["SIL", "m", "a", "SIL", "p", "SIL"]
    assert segs[1].start == pytest.approx(5 * UNIT_S - START_LAG_S - LEAD_S)
    prior = SPIKE_WEIGHTS[0] * 5 * UNIT_S + SPIKE_WEIGHTS[1] * 11 * UNIT_S + SPIKE_OFFSET_S
    assert segs[1].end == segs[2].start == pytest.approx(prior - LEAD_S)
    assert segs[3].end - segs[3].start > 0.4                           # the pause stays a pause
    assert segs[4].start == pytest.approx((len(units) - 5) * UNIT_S - START_LAG_S - LEAD_S)
    assert segs[-1].end == pytest.approx(len(units) * UNIT_S)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(segs, segs[1:]))


def test_phones_next_to_a_pause_reach_the_edges_of_the_speech():
    """A slow voice: loud from 0.30 to 1.20 s, then a quiet tail (30 dB down) and silence. The CTC runs sit at
    0.40 and 0.60 s; the spike rules alone start the first phone START_LAG_S before its run and end the last 40 ms
    after its run. With the speech frames the first phone starts where the loudness rises and the last ends where it
    falls more than SPEECH_BELOW_DB, not in the tail."""
    t = np.arange(32000) / 16000
    level = np.where((t >= 0.30) & (t < 1.20), 8000.0, np.where((t >= 1.20) & (t < 1.50), 250.0, 0.0))
    pcm = (level * np.sin(2 * np.pi * 180 * t)).astype(np.int16)
    speech = speech_frames(pcm)
    assert speech.shape == (200,) and speech[30:120].all() and not speech[:30].any() and not speech[120:].any()
    units = np.full(100, -1)
    units[20:23], units[30:33] = 0, 1
    prior = place_segments(units, ["a", "o"])
    edges = place_segments(units, ["a", "o"], speech=speech)
    assert [s.phone for s in edges] == ["SIL", "a", "o", "SIL"]
    assert prior[1].start == pytest.approx(0.40 - START_LAG_S - LEAD_S)
    assert edges[1].start == pytest.approx(0.30 - LEAD_S)
    assert prior[2].end == pytest.approx(0.66 + 0.04 - LEAD_S)
    assert edges[2].end == pytest.approx(1.20 - LEAD_S)


def test_a_phone_after_a_pause_starts_where_the_quieter_onset_rises():
    """A line that starts with a burst or breathy onset: 22.5 dB under the speech level from 0.25 to 0.30 s, loud
    to 1.20 s, then as quiet a tail to 1.25 s. The first phone starts at the onset (within ONSET_BELOW_DB), the last
    still ends where the loudness falls more than SPEECH_BELOW_DB: the tail stays silence."""
    t = np.arange(32000) / 16000
    onset_or_tail = ((t >= 0.25) & (t < 0.30)) | ((t >= 1.20) & (t < 1.25))
    level = np.where((t >= 0.30) & (t < 1.20), 8000.0, np.where(onset_or_tail, 600.0, 0.0))
    pcm = (level * np.sin(2 * np.pi * 180 * t)).astype(np.int16)
    speech, onset = speech_frames(pcm), speech_frames(pcm, ONSET_BELOW_DB)
    assert speech[30:120].all() and not speech[25:30].any() and not speech[120:].any()
    assert onset[25:125].all() and not onset[:25].any() and not onset[125:].any()
    units = np.full(100, -1)
    units[20:23], units[30:33] = 0, 1
    loud_only = place_segments(units, ["a", "o"], speech=speech)
    segs = place_segments(units, ["a", "o"], speech=speech, onset=onset)
    assert loud_only[1].start == pytest.approx(0.30 - LEAD_S)
    assert segs[1].start == pytest.approx(0.25 - LEAD_S)
    assert segs[2].end == loud_only[2].end == pytest.approx(1.20 - LEAD_S)


def test_a_phone_spelled_with_two_tokens_is_one_segment():
    """A diphthong aligned as two recogniser tokens (two runs of one phone, a blank between) is one segment; the
    boundary to the next phone keeps the spike rule from its last run."""
    units = np.array([-1] * 5 + [0] * 2 + [-1] * 3 + [0] * 2 + [-1] * 2 + [1] * 2 + [-1] * 10)
    assert phone_runs(units) == [(5, 10, 12, 0), (14, 14, 16, 1)]
    segs = place_segments(units, ["aɪ", "t"])
    assert [s.phone for s in segs] == ["SIL", "aɪ", "t", "SIL"]
    prior = SPIKE_WEIGHTS[0] * 10 * UNIT_S + SPIKE_WEIGHTS[1] * 14 * UNIT_S + SPIKE_OFFSET_S
    assert segs[1].end == segs[2].start == pytest.approx(prior - LEAD_S)


def test_phones_the_recogniser_does_not_hear_are_spread_between_the_heard_ones():
    """Transcript 'a t ə k': the path glued the unheard t and ə to k's spike (frames 12, 13, k at 14; a at 2).
    heard_phones finds a and k heard (one of their frames at HEARD_P or more); spread_unheard moves t and ə to a
    third and two thirds of the way from a's first frame to k's, and the boundaries follow the spike rule from
    there. A stretch with a pause in it, and phones before the first or after the last heard one, stay."""
    vocab = vocabulary()
    _, tokens, owner = transcript_tokens([["a", "t"], ["ə", "k"]])
    position = np.full(20, -1)
    position[[2, 12, 13, 14]] = [0, 1, 2, 3]
    frames = np.full((20, len(vocab)), 1e-6)
    frames[:, blank_id()] = 1.0
    for k, (token, p) in enumerate(zip(tokens, (0.9, HEARD_P / 2, HEARD_P / 2, 0.5))):
        frames[[2, 12, 13, 14][k], token] = p
    heard = heard_phones(np.log(frames), tokens, owner, position, 4)
    assert list(heard) == [True, False, False, True]
    units = np.where(position >= 0, owner[np.maximum(position, 0)], -1)
    runs = spread_unheard(phone_runs(units), heard)
    assert runs == [(2, 2, 3, 0), (6.0, 6.0, 6.5, 1), (10.0, 10.0, 10.5, 2), (14, 14, 15, 3)]
    segs = place_segments(units, ["a", "t", "ə", "k"], heard=heard)
    prior = SPIKE_WEIGHTS[0] * 6.0 * UNIT_S + SPIKE_WEIGHTS[1] * 10.0 * UNIT_S + SPIKE_OFFSET_S
    assert [s.phone for s in segs] == ["a", "t", "ə", "k", "SIL"]
    assert segs[1].end == segs[2].start == pytest.approx(prior - LEAD_S)
    assert place_segments(units, ["a", "t", "ə", "k"], heard=np.ones(4, bool)) == place_segments(units,
                                                                                                ["a", "t", "ə", "k"])
    paused = [(2, 2, 3, 0), (20, 20, 21, 1), (22, 22, 23, 2)]
    assert spread_unheard(paused, np.array([True, False, True])) == paused
    assert spread_unheard(runs[1:], np.array([True, False, False, True])) == runs[1:]


def test_boundaries_between_phones_are_the_mean_of_the_timings():
    """'a t | pause | ə k' timed three ways: a-t's boundary is the mean of 0.20, 0.26 and 0.23 s; ə-k's mean, 0.94 s,
    would leave k (0.90-0.93 s) less than KEEP_S, so it stays; the pause's edges stay; a timing with a phone less is
    left out."""
    S = PhoneSegment
    own = [S("a", 0.0, 0.2), S("t", 0.2, 0.4), S("SIL", 0.4, 0.8), S("ə", 0.8, 0.9), S("k", 0.9, 0.93),
           S("SIL", 0.93, 1.2)]
    faster = [S("a", 0.0, 0.26), S("t", 0.26, 0.5), S("ə", 0.7, 1.0), S("k", 1.0, 1.2)]
    slower = [S("a", 0.0, 0.23), S("t", 0.23, 0.41), S("SIL", 0.41, 0.9), S("ə", 0.9, 0.92), S("k", 0.92, 1.2)]
    out = mean_boundaries(own, [faster, slower, faster[:3]])
    assert [s.phone for s in out] == ["a", "t", "SIL", "ə", "k", "SIL"]
    assert out[0].end == out[1].start == pytest.approx((0.2 + 0.26 + 0.23) / 3)
    assert out[1].end == 0.4 and out[2] == own[2] and out[3].start == 0.8
    assert (0.9 + 1.0 + 0.92) / 3 > out[4].end - KEEP_S and out[3].end == out[4].start == 0.9
    assert mean_boundaries(own, []) == own


def test_a_long_blank_in_continuous_speech_is_no_pause_when_aligning():
    """A transcript read without a break: a tone turns into hiss at 0.90 s, loud throughout, and the two phones'
    runs lie 0.4 s apart (0.40 and 1.20 s). Recognition keeps the long blank as a pause; alignment
    (``pause_needs_quiet``) finds no quiet frame in it and puts the boundary where the sound changes."""
    t = np.arange(32000) / 16000
    pcm = np.where(t < 0.90, 8000 * np.sin(2 * np.pi * 220 * t),
                   np.random.default_rng(0).normal(0, 3000, len(t))).astype(np.int16)
    pcm[t < 0.2] = 0
    pcm[t > 1.6] = 0
    change, speech = spectral_change(log_mel(pcm)), speech_frames(pcm)
    units = np.full(100, -1)
    units[20:22], units[60:62] = 0, 1
    heard = place_segments(units, ["a", "s"], change, speech=speech)
    aligned = place_segments(units, ["a", "s"], change, speech=speech, pause_needs_quiet=True)
    assert [s.phone for s in heard] == ["SIL", "a", "SIL", "s", "SIL"]
    assert [s.phone for s in aligned] == ["SIL", "a", "s", "SIL"]
    assert abs(aligned[1].end + LEAD_S - 0.90) <= 0.011
    assert aligned[1].start == pytest.approx(0.20 - LEAD_S) and aligned[2].end == pytest.approx(1.60 - LEAD_S)


def _spectral_change_naive(pcm: np.ndarray) -> np.ndarray:
    """Frame by frame: log-mel spectra, then the distance of the mean spectra after and before each mark."""
    from talkavatar.audio.boundaries import CHANGE_SPAN, FFT, WINDOW, _mel_filters

    x = np.pad(pcm.astype(np.float64) / 32768.0, (WINDOW // 2, WINDOW // 2 + 160))
    n = len(pcm) // 160
    mel = np.array([np.log(_mel_filters() @ (np.abs(np.fft.rfft(x[t * 160:t * 160 + WINDOW] * np.hanning(WINDOW),
                                                               FFT)) ** 2) + 1e-8) for t in range(n)])
    k, out = CHANGE_SPAN, np.zeros(n)
    for t in range(k, n - k):
        out[t] = np.linalg.norm(mel[t:t + k].mean(axis=0) - mel[t - k:t].mean(axis=0))
    return out


def test_boundary_moves_to_where_the_sound_changes():
    """A vowel-like tone turns into hiss at 0.52 s; the spike prior says 0.50 s: the boundary moves to the change.
    The fast spectral change equals a naive frame-by-frame one."""
    t = np.arange(16000) / 16000
    pcm = np.where(t < 0.52, 8000 * np.sin(2 * np.pi * 220 * t),
                   np.random.default_rng(0).normal(0, 3000, len(t))).astype(np.int16)
    change = spectral_change(log_mel(pcm))
    assert change.shape == (100,)
    np.testing.assert_allclose(change, _spectral_change_naive(pcm), rtol=1e-3, atol=1e-3)
    assert abs(int(change.argmax()) - 52) <= 1
    s0 = 20                                       # first run at 0.4 s; the second where the prior says 0.50 s
    s1 = int(round((0.50 - SPIKE_OFFSET_S - SPIKE_WEIGHTS[0] * s0 * UNIT_S) / SPIKE_WEIGHTS[1] / UNIT_S))
    units = np.full(50, -1)
    units[s0:s0 + 3], units[s1:s1 + 3] = 0, 1
    prior = place_segments(units, ["a", "s"])
    moved = place_segments(units, ["a", "s"], change)
    a_prior = next(s for s in prior if s.phone == "a")
    a_moved = next(s for s in moved if s.phone == "a")
    assert abs(a_prior.end + LEAD_S - 0.50) < 0.011 and abs(a_moved.end + LEAD_S - 0.52) <= 0.011


def test_greedy_phones_sum_a_class_over_its_tokens():
    """A sound split between u, o and w (each less likely than s) is still decoded as rounded; non-IPA tokens
    (a space, a Han character) are no phones."""
    names = vocabulary()
    ids = {t: names.index(t) for t in ("u", "o", "w", "s", "a", "m")}
    frames = 30
    probs = np.full((frames, len(names)), 1e-6)
    probs[:, blank_id()] = 1.0
    probs[10:13, [ids["u"], ids["o"], ids["w"]]] = 0.2
    probs[10:13, ids["s"]] = 0.3
    probs[10:13, blank_id()] = 0.1
    probs[20:23, ids["a"]] = 0.9
    probs[20:23, blank_id()] = 0.1
    scores = np.log(probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    phones = [s.phone for s in greedy_phones(scores) if s.phone != "SIL"]
    assert [phone_class(p) for p in phones] == ["rounded", "open"]
    phone = phone_token_ids()
    assert not phone[names.index(" ")] and not phone[names.index("一")] and phone[ids["m"]]


def test_greedy_phones_read_english_only_tokens_as_the_common_sound():
    """hama's ɹ (a tap or trill in most languages), eɪ (a close-mid e) and ɝ come out as r, e and ə."""
    names = vocabulary()
    frames = 40
    probs = np.full((frames, len(names)), 1e-6)
    probs[:, blank_id()] = 1.0
    for k, token in enumerate(("ɹ", "eɪ", "ɝ")):
        probs[10 + 10 * k:13 + 10 * k, names.index(token)] = 0.9
        probs[10 + 10 * k:13 + 10 * k, blank_id()] = 0.1
    scores = np.log(probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    phones = [s.phone for s in greedy_phones(scores) if s.phone != "SIL"]
    assert phones == ["r", "e", "ə"] and [phone_class(p) for p in phones] == ["spread", "open", "open"]


def _check_half_heard_m(t: int, p: float, rival: str, p_rival: float, **evidence: np.ndarray) -> None:
    """Recogniser scores, blank everywhere but frame ``t``, where an m (probability ``p``, blank as likely) stands
    beside a likelier ``rival`` token: decoded as the rival, and as an m with the bilabial ``evidence``."""
    frames = len(next(iter(evidence.values())))
    scores = np.full((frames, len(vocabulary())), -20.0, np.float32)
    scores[:, blank_id()] = 0.0
    scores[t, vocabulary().index("m")] = scores[t, blank_id()] = np.log(p)
    scores[t, vocabulary().index(rival)] = np.log(p_rival)
    assert [s.phone for s in greedy_phones(scores) if s.phone != "SIL"] == [rival]
    assert [s.phone for s in greedy_phones(scores, **evidence) if s.phone != "SIL"] == ["m"]


def test_closure_evidence_follows_an_energy_dip():
    """A 60 ms near-silent gap in loud noise (a stop's closure): evidence is full on the frames up to 80 ms after
    the gap's start, none in the steady loud stretches."""
    noise = (np.random.default_rng(0).normal(0, 3000, 16000)).astype(np.int16)
    noise[8000:8960] //= 100                                          # frames 25..27 (20 ms each)
    evidence = closure_evidence(noise)
    assert evidence.shape == (50,)
    assert evidence[25:31].min() == 1.0 and evidence[:15].max() == 0.0 and evidence[40:].max() == 0.0
    _check_half_heard_m(29, 0.3, "s", 0.4, closure=evidence)          # an m after the gap beside a likelier s


def test_dark_evidence_marks_a_quiet_murmur_not_noise_or_a_loud_dark_vowel():
    """Vowel-like harmonics (120 Hz voice, energy up to 3 kHz) with three 100 ms stretches: the same voice low-passed
    under 400 Hz and 20 dB quieter (an m's murmur), a noise burst as loud as the vowels (an s), and the low-passed
    voice as loud as the vowels (a dark back vowel such as u). Evidence is full from the murmur's second frame to
    80 ms after its end and none anywhere else; a half-heard m in the murmur becomes an m."""
    t = np.arange(32000) / 16000.0
    vowel = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 26))            # harmonics up to 3 kHz
    dark = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 4))               # 120-360 Hz
    dark *= vowel.std() / dark.std()
    x = vowel.copy()
    x[8000:9600] = 0.1 * dark[8000:9600]                                               # frames 25..29: murmur
    x[20000:21600] = np.random.default_rng(0).normal(0, vowel.std(), 1600)             # frames 62..66: noise
    x[25600:27200] = dark[25600:27200]                                                 # frames 80..84: loud, dark
    pcm = (x / np.abs(x).max() * 12000).astype(np.int16)
    evidence = dark_evidence(log_mel(pcm), speech_frames(pcm))
    assert evidence.shape == (100,)
    assert evidence[26:34].min() == 1.0 and evidence[:25].max() == 0.0 and evidence[34:].max() == 0.0
    _check_half_heard_m(28, 0.2, "n", 0.5, dark=evidence)             # an m in the murmur beside a likelier n


def test_g2p_reads_several_scripts():
    assert [p.strip("ˈˌ") for p in ipa_words("máma", "cs")[0]] == ["m", "aː", "m", "a"]
    russian = ipa_words("мама папа", "ru")
    assert len(russian) == 2 and {phone_class(p) for p in russian[1]} >= {"bilabial", "open"}
    with pytest.raises(UsageError):
        check_language("xx")


def test_every_transcript_phone_finds_recogniser_tokens():
    index = {t: k for k, t in enumerate(vocabulary())}
    index.update({t.replace("\u0361", ""): k for t, k in index.items()})
    for phone in ("tʃ", "ˈaː", "pʰ", "ɯᵝ", "dʒ", "ŋ"):
        assert phone_tokens(phone, index), phone


def test_transcript_language_from_letters():
    assert transcript_language("Привет, как дела?", 0.0) == "ru"
    assert transcript_language("Příliš žluťoučký kůň", 0.0) == "cs"
    assert transcript_language("これは日本語です", 0.0) == "ja"
    assert transcript_language("你好世界", 0.0) == "cmn"
    assert transcript_language("Hello there, how are you", 1.0) == "en"
    assert transcript_language("Hola amigo", 0.3) is None


def test_universal_recogniser_and_alignment_on_czech(czech_wav):
    pcm = load_pcm(czech_wav)
    scores = log_probs(pcm)
    assert scores.shape == (len(pcm) // 320, len(vocabulary()))
    assert np.allclose(np.exp(scores).sum(axis=1), 1.0, atol=1e-3)
    recognised = [s for s in greedy_phones(scores) if s.phone != "SIL"]
    assert len(recognised) >= 20
    words = ipa_words(CZECH, "cs")
    aligned = align_ipa(pcm, words)
    assert [s.phone for s in aligned if s.phone != "SIL"][:4] == [p for w in words for p in w][:4]
    assert all(a.end <= b.start + 1e-9 for a, b in zip(aligned, aligned[1:]))
    assert aligned[-1].end == pytest.approx(len(pcm) // 320 / FRAME_RATE)


def test_drive_audio_language_paths(czech_wav):
    aligned = drive_audio(czech_wav, transcript=CZECH, language="cs")
    assert (aligned.lip_sync, aligned.recogniser, aligned.language) == ("alignment", "hama-ipa", "cs")
    found = drive_audio(czech_wav, transcript=CZECH)                    # auto: the letters say Czech
    assert (found.lip_sync, found.language) == ("alignment", "cs")
    fast = drive_audio(czech_wav, language="en")
    assert (fast.lip_sync, fast.recogniser) == ("recognition", "pocketsphinx-en-us")
    assert aligned.motion.frames == fast.motion.frames
    # The mouth closes on the aligned bilabials (m, m, b, m, b) of the sentence.
    classes = classify_mouth(aligned.motion.arkit_weights)
    bilabials = [s for s in aligned.phones if phone_class(s.phone) == "bilabial"]
    closed = [any(classes[k] in ("bilabial", "silence") for k in range(int(s.start * 30), int(s.end * 30) + 2))
              for s in bilabials]
    assert len(bilabials) >= 4 and np.mean(closed) >= 0.75
    assert aligned.motion.arkit_weights[:, ARKIT_INDEX["jawOpen"]].max() > 0.3      # and opens on the vowels


def test_a_transcript_whose_letters_do_not_tell_is_aligned_in_the_language_it_is_written_in(tmp_path):
    """German without umlauts or ß: the letters point nowhere; German's dictionary knows most of its words, and
    where dictionaries know equally many (here: none of Spanish and Italian) the reading the audio fits best wins."""
    text = "Wir haben heute Brot und Butter gekauft."
    assert transcript_language(text, 0.3) is None
    assert dictionary_words(text, "de") > max(dictionary_words(text, "es"), dictionary_words(text, "it"))
    assert dictionary_words("Maak je maar niet boos.", "nl") > dictionary_words("Maak je maar niet boos.", "de")
    wav = tmp_path / "de.wav"
    subprocess.run(["espeak-ng", "-v", "de", "-w", str(wav), text], check=True)
    scores = log_probs(load_pcm(wav))
    fit = {}
    for language in ("es", "it"):                      # their dictionaries know none of it: the audio decides
        _, tokens, _ = transcript_tokens(ipa_words(text, language))
        fit[language] = path_log_likelihood(scores, tokens, ctc_viterbi(scores, tokens, blank_id()), blank_id())
    assert spoken_language(scores, text, ("es", "it")) == max(fit, key=fit.get)
    found = drive_audio(wav, transcript=text)
    assert (found.lip_sync, found.language) == ("alignment", "de")
    assert any("did not tell its language" in w for w in found.warnings)


def test_auto_without_transcript_tells_english_from_czech(czech_wav):
    source = PhoneSource("auto")
    source.feed(load_pcm(czech_wav))
    source.finish()
    assert source.language == "any" and source.recogniser == "hama-ipa"
    with pytest.raises(UsageError):
        PhoneSource("any", "some words")


def test_posterior_entropy_of_certain_and_uncertain_frames():
    certain = np.log(np.array([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01]], np.float32))
    uncertain = np.log(np.full((2, 3), 1 / 3, np.float32))
    uncertain[:, 0] -= 0.01                                             # blank not the best token
    assert posterior_entropy(certain, blank=0) < 0.2 < posterior_entropy(uncertain, blank=0)
    assert posterior_entropy(certain[:1], blank=0) == float("inf")     # only blank frames


def test_cli_language_option(czech_wav, tmp_path):
    out = tmp_path / "cs.motion.safetensors"
    run = CliRunner().invoke(app, ["drive-audio", str(czech_wav), "--language", "cs", "--transcript", CZECH,
                                   "-o", str(out), "--json"])
    assert run.exit_code == 0, run.output
    record = json.loads(run.stdout)
    assert (record["language"], record["recogniser"], record["lip_sync"]) == ("cs", "hama-ipa", "alignment")
    bad = CliRunner().invoke(app, ["drive-audio", str(czech_wav), "--language", "xx", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "no voice" in bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name, clips", [("lip_labels_checked.json", 31), ("lip_labels_dev.json", 16)])
def test_checked_speech_labels_are_well_formed(name, clips):
    """The stored real-speech labels (benchmarks/lip_labels.py, test and dev split): provenance, two languages,
    contiguous phones inside each clip, every phone a known lip class, and a record of the check on every clip."""
    data = json.loads((Path(__file__).resolve().parents[1] / "benchmarks/data" / name).read_text())
    assert data["licence"].startswith("GPL-2") and "spectrogram" in data["method"]
    assert {c["language"] for c in data["clips"]} == {"cs", "nl"} and len(data["clips"]) == clips
    for clip in data["clips"]:
        phones = clip["phones"]
        assert clip["checked"]["notes"] and phones[0][1] == 0.0 and phones[-1][2] == clip["seconds"]
        assert all(a[2] == b[1] and a[1] < a[2] for a, b in zip(phones, phones[1:]))
        assert sum(phone_class(p or "SIL") == "bilabial" for p, _, _ in phones) >= 1

