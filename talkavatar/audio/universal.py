"""Language-independent phones: hama's IPA phoneme recogniser (a CTC model shipped inside the ``hama`` wheel).

``hama`` (Apache-2.0, PyPI) bundles its weights (``hama/assets/asr_waveform.hama``, 4.7 MB) and a small native
engine; nothing is downloaded. It maps 16 kHz audio to log-probabilities over 189 IPA tokens plus blank at 50
frames per second (:data:`FRAME_SAMPLES` = 320 samples). Its attention makes cost grow faster than the length,
so audio goes through in pieces of about :data:`PIECE_SECONDS` cut at the quietest frame, on as many threads as
the process may use (the native engine releases the GIL).

Two uses: :func:`greedy_phones` (recognition: per frame the lip class with the most probability, summed over its
tokens, CTC-collapsed; the bilabial class helped where the audio shows a closure, :func:`closure_evidence`, or a
spectrum with only low frequencies left, :func:`dark_evidence`) and
:func:`talkavatar.audio.ctc_align.align_ipa` (forced alignment of a transcript's IPA phones). Both turn token
frames into timed segments with :func:`talkavatar.audio.boundaries.place_segments` (boundaries placed from the
spikes, then moved to where the spectrum changes).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.special import logsumexp

from talkavatar.audio.boundaries import (CHANGE_RATE, ONSET_BELOW_DB, UNIT_S, log_mel, mel_centres,
                                         place_segments, spectral_change, speech_frames)
from talkavatar.audio.ipa import base_phone, ipa_viseme
from talkavatar.audio.load import SAMPLE_RATE
from talkavatar.audio.phone_loop import quiet_cuts
from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.visemes import CLASSES, VISEME_CLASS
from talkavatar.core.threads import worker_threads
from talkavatar.errors import MissingDependency

FRAME_SAMPLES = 320             # one output frame: 20 ms
FRAME_RATE = SAMPLE_RATE / FRAME_SAMPLES
PIECE_SECONDS = 4.0             # cost per second is lowest for 2-6 s pieces (0.1 CPU s per s at 4 s, 0.17 at 32 s)
BLANK_BIAS = -1.0               # log-odds against blank (hama's own default -0.1): on speech other than its mostly
                                # English training speech it fires too few phones. Chosen on the dev sets without a
                                # transcript (issue 25, eighteenth session; real cs / nl of 222 / 205 phones, eSpeak
                                # of 1305): -0.1 158 / 101 / 969, -0.5 158 / 103 / 966, -0.75 160 / 105 / 966,
                                # -1.0 162 / 105 / 969, -1.5 161 / 101 / 953, -2.0 159 / 104 / 942
BILABIAL_BIAS = 1.5             # log-odds added to the bilabial class where the audio shows a closure (below)
CLOSURE_FRAMES = 5              # a closure counts for a phone when it lies in the 100 ms up to its frame ...
DIP_DB, DIP_SPAN_DB = 6.0, 10.0 # ... as a frame 6 dB (none) to 16 dB (full) below the loudest frame within 100 ms
DARK_BIAS = 3.0                 # log-odds added to the bilabial class where the spectrum goes dark (below) ...
DARK_LOW_HZ, DARK_HIGH_HZ = 400.0, (1200.0, 3000.0)  # ... comparing the bands under 400 Hz and at 1.2-3 kHz:
DARK_DB, DARK_SPAN_DB = 24.0, 10.0  # 1.2-3 kHz 24 dB (none) to 34 dB (full) further under the low band than in the
                                    # speech's median frame. Chosen on the eSpeak dev sentences (issue 25, twelfth
                                    # session: bias 2-4, 18-26 dB; bilabials closed 90.6 -> 92.5 %, phones 72.9 -> 73.0)

# Tokens hama uses for other languages' sounds with another lip shape, read as those sounds: it writes most
# trills and taps (Spanish, Czech, Russian, Hindi r) as English ɹ, which is lip-rounded, a long or close-mid e as
# eɪ (a spread diphthong in English), and an unstressed vowel next to an r as English's r-coloured ɝ/ɚ (rounded).
# Chosen on the eSpeak dev sentences (viseme classes without a transcript 72.7 -> 76.2 %); English speech goes to
# the English recogniser under ``--language auto``.
HEARD_AS = {"ɹ": "r", "ɻ": "r", "eɪ": "e", "ɝ": "ə", "ɚ": "ə"}


@lru_cache(maxsize=1)
def _hama():
    try:
        from hama import ASRModel
    except ImportError:
        raise MissingDependency("hama is not installed (the language-independent phone recogniser)",
                                tip="pip install hama==1.7.0, or use --language en") from None
    return ASRModel()


def vocabulary() -> list[str]:
    """hama's output tokens (index = column of the log-probabilities); ``<blank>`` and ``<wb>`` included."""
    return list(_hama().decoder_tokens)


def blank_id() -> int:
    return _hama().blank_id


@lru_cache(maxsize=1)
def phone_token_ids() -> np.ndarray:
    """``[V]`` bool: tokens that are phones (not blank, word boundary, punctuation, a bare diacritic/tone mark, or
    one of the few non-IPA tokens such as a space or a Han character)."""
    return np.array([not t.startswith("<") and bool(base_phone(t)) and ipa_viseme(t) != "sil" for t in vocabulary()])


@lru_cache(maxsize=1)
def class_tokens() -> tuple[np.ndarray, ...]:
    """Token ids of each lip class of :data:`~talkavatar.audio.visemes.CLASSES` but silence (same order)."""
    names, phone = vocabulary(), phone_token_ids()
    return tuple(np.flatnonzero([p and VISEME_CLASS[ipa_viseme(HEARD_AS.get(t, t))] == c for t, p in zip(names, phone)])
                 for c in CLASSES[1:])


_local = threading.local()


def _piece_log_probs(pcm: np.ndarray) -> np.ndarray:
    """``[len(pcm) // FRAME_SAMPLES, V]`` log-probabilities of one piece (a session per thread)."""
    model = _hama()
    if not hasattr(_local, "session"):
        from hama import _engine
        from hama.asr import _read_asr_hama_bytes

        _local.session = _engine.AsrSession(_read_asr_hama_bytes(None))
    wav = (pcm.astype(np.float32) / 32768.0)[None]
    log_probs, lengths = _local.session.run(["log_probs", "out_lengths"],
                                            {"waveform": wav, "waveform_lengths": np.array([wav.shape[1]], np.int64)})
    frames = len(pcm) // FRAME_SAMPLES
    out = np.asarray(log_probs[0, :min(int(lengths[0]), frames)], np.float32)
    if len(out) < frames:
        out = np.concatenate([out, np.repeat(out[-1:] if len(out) else _silent_row(model), frames - len(out), 0)])
    return out


def _silent_row(model) -> np.ndarray:
    row = np.full((1, len(model.decoder_tokens)), -30.0, np.float32)
    row[0, model.blank_id] = 0.0
    return row


def log_probs(pcm: np.ndarray) -> np.ndarray:
    """Token log-probabilities ``[F, V]`` of int16 ``pcm [n]`` at 16 kHz, ``F = n // FRAME_SAMPLES``."""
    frames = len(pcm) // FRAME_SAMPLES
    if frames == 0:
        return np.zeros((0, len(vocabulary())), np.float32)
    energy = (pcm[: frames * FRAME_SAMPLES].astype(np.float32).reshape(frames, -1) ** 2).sum(axis=1)
    cuts = quiet_cuts(np.log(energy + 1.0), int(PIECE_SECONDS * FRAME_RATE))
    pieces = [pcm[a * FRAME_SAMPLES:b * FRAME_SAMPLES] for a, b in zip(cuts[:-1], cuts[1:])]
    with ThreadPoolExecutor(min(worker_threads(), len(pieces))) as pool:
        return np.concatenate(list(pool.map(_piece_log_probs, pieces)))


def closure_evidence(pcm: np.ndarray) -> np.ndarray:
    """``[F]`` 0..1 per frame of int16 ``pcm``: how deep an energy dip (lips closed before a burst, or a nasal's
    quieter murmur) lies in the :data:`CLOSURE_FRAMES` frames up to it, against the loudest frame around the dip."""
    frames = len(pcm) // FRAME_SAMPLES
    energy = pcm[:frames * FRAME_SAMPLES].astype(np.float32).reshape(frames, -1)
    dip = _dip(10.0 * np.log10((energy ** 2).mean(axis=1) + 1.0), CLOSURE_FRAMES)
    return maximum_filter1d(dip, CLOSURE_FRAMES, origin=CLOSURE_FRAMES // 2)


def _dip(db: np.ndarray, reach: int) -> np.ndarray:
    """``[n]`` 0..1: how far each frame of loudness ``db [n]`` lies below the loudest frame within ``reach`` frames
    of it, from :data:`DIP_DB` (0) to :data:`DIP_DB` + :data:`DIP_SPAN_DB` (1)."""
    return np.clip((maximum_filter1d(db, 2 * reach + 1) - db - DIP_DB) / DIP_SPAN_DB, 0.0, 1.0)


def dark_evidence(mel: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """``[F]`` 0..1 per 20 ms frame (``F = n // 2``) of audio whose 10 ms log-mel spectra are ``mel [n, MEL_BANDS]``
    (:func:`~talkavatar.audio.boundaries.log_mel`) and speech frames ``speech [n]``
    (:func:`~talkavatar.audio.boundaries.speech_frames`): how far the 1.2-3 kHz band falls under the < 400 Hz band,
    against that balance in the speech's median frame, in a 10 ms frame that is also quieter than the speech around
    it (:func:`closure_evidence`'s dip, within 100 ms), in the :data:`CLOSURE_FRAMES` frames up to it.

    Lips closed over a voiced sound (an m's murmur, a b's voice bar) leave energy only at the lowest frequencies;
    a t, d, n, k or ŋ closes further back and a fricative keeps its noise, so on the eSpeak dev sentences the
    darkest 10 ms inside a reference phone (1.2-3 kHz minus < 400 Hz) tells p b m from t d k g n ŋ ɲ with an AUC
    of 0.74 and from vowels and the rest with 0.84, where the deepest loudness dip, which :func:`closure_evidence`
    reads, does no better than chance against stops and nasals (0.41: every closure dips). The balance is taken
    against the recording's own median over its speech frames (:func:`~talkavatar.audio.boundaries.speech_frames`):
    Fish Fillets' Dutch voices sit 16 dB darker than eSpeak's, and an absolute threshold cost them 7 points of
    phones (TTS+DTW real lines: 36.6 -> 29.8 %; against the median 36.3 %). A back vowel (u, o) is as dark at
    full loudness; the dip keeps the cue to closures (real lines: nl 36.3 -> 36.6 %, the eSpeak dev unchanged).
    """
    per_frame = round(FRAME_SAMPLES * CHANGE_RATE / SAMPLE_RATE)
    frames = len(mel) // per_frame
    if frames == 0:
        return np.zeros(0, np.float32)
    n = frames * per_frame                                              # the 10 ms frames of whole 20 ms frames
    power, centres, speech = np.exp(mel[:n]), mel_centres(), speech[:n]
    high = (centres >= DARK_HIGH_HZ[0]) & (centres < DARK_HIGH_HZ[1])
    balance = 10.0 / np.log(10.0) * (np.log(power[:, high].sum(axis=1)) -
                                     np.log(power[:, centres < DARK_LOW_HZ].sum(axis=1)))        # [n] dB
    balance -= np.median(balance[speech]) if speech.any() else np.median(balance)
    dip = _dip(10.0 / np.log(10.0) * np.log(power.sum(axis=1)), round(CLOSURE_FRAMES * UNIT_S * CHANGE_RATE))
    dark = (np.clip((-DARK_DB - balance) / DARK_SPAN_DB, 0.0, 1.0) * dip).reshape(frames, -1).max(axis=1)
    return maximum_filter1d(dark, CLOSURE_FRAMES, origin=CLOSURE_FRAMES // 2)


def greedy_phones(scores: np.ndarray, offset_s: float = 0.0, closure: np.ndarray | None = None,
                  change: np.ndarray | None = None, speech: np.ndarray | None = None,
                  dark: np.ndarray | None = None, onset: np.ndarray | None = None) -> list[PhoneSegment]:
    """Recognised phones from log-probabilities ``[F, V]``, decoded at the level the lips need.

    Per frame, each lip class (bilabial, labiodental, rounded, open, spread) scores the summed probability of its
    tokens (a sound split between u, o and w is still surely rounded); bilabials gain :data:`BILABIAL_BIAS` times
    ``closure [F]`` (:func:`closure_evidence`) and :data:`DARK_BIAS` times ``dark [F]`` (:func:`dark_evidence`), so
    a p, b or m the recogniser half-hears closes the lips where the audio shows a closure or only low frequencies,
    and nowhere else. A frame is blank unless the best class beats blank's log-probability plus
    :data:`BLANK_BIAS` (negative: blank handicapped). Runs of one class are CTC-collapsed into a phone named by that
    class's most probable token at the run's first frame. Boundaries:
    :func:`~talkavatar.audio.boundaries.place_segments` on the audio's spectral ``change [F10]``, ``speech [F10]``
    and ``onset [F10]`` frames (or from the spikes alone when None).
    """
    groups = class_tokens()
    mass = np.stack([logsumexp(scores[:, g], axis=1) for g in groups], axis=1)      # [F, classes]
    if closure is not None:
        mass[:, CLASSES.index("bilabial") - 1] += BILABIAL_BIAS * closure
    if dark is not None:
        mass[:, CLASSES.index("bilabial") - 1] += DARK_BIAS * dark
    best = mass.argmax(axis=1)
    runs = np.where(mass.max(axis=1) > scores[:, blank_id()] + BLANK_BIAS, best, -1)
    names = vocabulary()
    units = np.full(len(runs), -1)
    labels: list[str] = []
    for t in np.flatnonzero(runs >= 0):
        if t == 0 or runs[t] != runs[t - 1]:
            g = groups[runs[t]]
            token = names[g[scores[t, g].argmax()]]
            labels.append(HEARD_AS.get(token, token))
        units[t] = len(labels) - 1
    return place_segments(units, labels, change, offset_s, speech, onset=onset)


def decode_block(pcm: np.ndarray, offset_s: float) -> list[PhoneSegment]:
    """Recognised IPA phone segments of one int16 block (the ``decode`` of a streaming phone recogniser)."""
    mel, speech = log_mel(pcm), speech_frames(pcm)
    return greedy_phones(log_probs(pcm), offset_s, closure_evidence(pcm), spectral_change(mel), speech,
                         dark_evidence(mel, speech), speech_frames(pcm, ONSET_BELOW_DB))
