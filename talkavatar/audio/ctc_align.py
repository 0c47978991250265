"""Forced alignment of a transcript in any language: eSpeak NG's IPA phones, aligned by CTC Viterbi on the
language-independent recogniser's log-probabilities (:mod:`talkavatar.audio.universal`).

Each transcript phone becomes one or more recogniser tokens (longest match of its base symbols, so ``tʃ`` is the
token ``t͡ʃ`` and ``aɪ`` is ``aɪ``; symbols the recogniser lacks are left out). The Viterbi path runs through the
usual CTC states (blank, token, blank, token, ..., blank); a phone's frames are those of its tokens, and its
boundaries are placed from them on the audio (:func:`talkavatar.audio.boundaries.place_segments`), the phones
the recogniser did not hear spread between those it did (:data:`HEARD_P`). Where the recogniser writes a
language's phone otherwise, the phone is spelled with those tokens (:data:`WRITTEN_AS`) or its token scores as
either (:data:`ALSO_WRITTEN`). The boundaries are the mean of the alignments on the audio and on a faster and a
slower copy of it (:data:`TIME_SCALES`).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import resample_poly

from talkavatar.audio.g2p import dictionary_words, ipa_words
from talkavatar.audio.ipa import base_phone
from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.boundaries import (ONSET_BELOW_DB, log_mel, mean_boundaries, place_segments, spectral_change,
                                         speech_frames)
from talkavatar.audio.universal import blank_id, log_probs, vocabulary

_TIE = "\u0361"
# Per language, how the recogniser writes a transcript phone (issue 25, eighteenth session). Measured on the real
# Dutch dev lines of benchmarks/lip_labels.py (labelled independently of this aligner): inside a phone's span the
# median peak probability of Dutch ʋ is 0.00 (w 0.02, ð 0.06: a labiodental approximant heard as w or ð), of the
# diphthong ʌʊ (tokens ʌ + ʊ) 0.00 against oʊ 0.69 (hama's argmax at both). Chosen on real nl dev with a transcript
# (205 phones): main 147, ʋ | w 150, ʌʊ as oʊ 149, both 152; tried and not kept: alone e | eɪ, ɵ | ɪ 147, j | i,
# r | ɹ 148 (nothing on top of the two; r's starts further from the labels), ɑ | ɔ, ɛɪ as aɪ 146, x | k, ɣ | x k 145.
WRITTEN_AS: dict[str, dict[str, tuple[str, ...]]] = {"nl": {"ʌʊ": ("oʊ",)}}     # phone (base form) -> its tokens
ALSO_WRITTEN: dict[str, dict[str, tuple[str, ...]]] = {"nl": {"ʋ": ("w",)}}     # token -> alternative tokens
# A transcript phone counts as heard where one of its tokens has at least this probability at one of its frames;
# the others are spread between the heard ones (boundaries.spread_unheard). Chosen on the dev sets with a
# transcript (eighteenth session; phones right against no spreading, real cs of 222 / real nl of 205 / eSpeak of
# 1305): 0.0005 -1 / +1 / +7, 0.001 and 0.002 0 / +1 / +5, 0.003 +1 / +4 / +4, 0.005 0 / +1 / +3, 0.01 -2 / 0 / +5.
HEARD_P = 0.003
# Copies of the audio the transcript is also aligned on, as (up, down): resampled to up / down of its length, i.e.
# spoken 15 % faster and 15 % slower (pitch moving with it). hama's spikes fall a varying 0-100 ms into a phone
# (real Dutch: a median 50 ms for the phones the mouth gets right, 0 ms for those it gets early, nineteenth
# session) and its 20 ms frames quantise them; on a faster or slower voice those errors differ, and the mean of
# the timings averages them. Chosen on the dev sets with a transcript (issue 25, twentieth session; phones right,
# real cs of 222 / real nl of 205 / eSpeak of 1305, main 207 / 156 / 1215; the mean of three timings unless said):
# 0.95 + 1.05: 206 / 158 / 1229; 0.9 + 1.1: 209 / 164 / 1222 (median 206 / 160 / 1222); 0.85 + 1.15: 209 / 159 /
# 1234 (median 208 / 156 / 1224); 0.8 + 1.2: 210 / 160 / 1231; 0.8 + 0.9 + 1.1 + 1.2: 207 / 163 / 1232. The phone
# starts' errors hardly move (mean absolute, eSpeak 15.3 -> 14.9 ms, cs 15.2 -> 15.1, nl 22.9 -> 24.2; within 20 ms
# 72.9 -> 72.4, 64.9 -> 68.0, 54.6 -> 56.6 %) but the gross ones fall (over 50 ms: 3.6 -> 2.5, 2.3 -> 1.8, 13.7 ->
# 11.7 %). Costs hama on twice more audio (alignment only: ~2.9x its CPU).
TIME_SCALES = ((17, 20), (23, 20))


def _token_index() -> dict[str, int]:
    index: dict[str, int] = {}
    for k, token in enumerate(vocabulary()):
        if token.startswith("<") or not base_phone(token):
            continue
        index.setdefault(token, k)
        index.setdefault(token.replace(_TIE, ""), k)
    return index


def phone_tokens(phone: str, index: dict[str, int]) -> list[int]:
    """Token ids for one IPA phone: longest matches (3, 2, 1 symbols) of its base form, unknown symbols skipped."""
    base, out, i = base_phone(phone), [], 0
    while i < len(base):
        for n in (3, 2, 1):
            if base[i:i + n] in index:
                out.append(index[base[i:i + n]])
                i += n
                break
        else:
            i += 1
    return out


def ctc_viterbi(scores: np.ndarray, tokens: np.ndarray, blank: int) -> np.ndarray | None:
    """Best CTC path of ``tokens [L]`` through ``scores [F, V]``: ``[F]`` token position per frame, ``-1`` blank.

    None when the audio has too few frames for the tokens. Memory: one byte per frame and state (``2L + 1``).
    """
    f, n = len(scores), len(tokens)
    labels = np.full(2 * n + 1, blank)
    labels[1::2] = tokens
    s = len(labels)
    skip = np.zeros(s, bool)                     # state s may come from s - 2 (a token not repeating the last)
    skip[3::2] = tokens[1:] != tokens[:-1]
    if f < n + int((~skip[3::2]).sum()):
        return None
    neg = np.float32(-1e30)
    delta = np.full(s, neg, np.float32)
    delta[:2] = scores[0, labels[:2]]
    back = np.zeros((f, s), np.int8)             # 0 stay, 1 from s - 1, 2 from s - 2
    for t in range(1, f):
        one = np.concatenate([[neg], delta[:-1]])
        two = np.where(skip, np.concatenate([[neg, neg], delta[:-2]]), neg)
        cand = np.stack([delta, one, two])
        back[t] = cand.argmax(axis=0)
        delta = cand.max(axis=0) + scores[t, labels]
    state = s - 1 if delta[s - 1] >= delta[s - 2] else s - 2
    path = np.empty(f, np.int64)
    for t in range(f - 1, -1, -1):
        path[t] = state
        state -= back[t, state]
    return np.where(path % 2 == 1, path // 2, -1)


def transcript_tokens(words: list[list[str]], language: str | None = None
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The phones of IPA ``words``, their recogniser tokens ``[L]`` and each token's phone index ``[L]``;
    ``language`` (eSpeak NG code): its :data:`WRITTEN_AS` spellings."""
    index, spelled = _token_index(), WRITTEN_AS.get(language or "", {})
    phones = [p for word in words for p in word]
    tokens, owner = [], []
    for k, phone in enumerate(phones):
        base = base_phone(phone)
        ids = [index[t] for t in spelled[base]] if base in spelled else phone_tokens(phone, index)
        tokens += ids
        owner += [k] * len(ids)
    return phones, np.array(tokens, np.int64), np.array(owner, np.int64)


def path_log_likelihood(scores: np.ndarray, tokens: np.ndarray, position: np.ndarray, blank: int) -> float:
    """Log-likelihood of a CTC path (:func:`ctc_viterbi`'s ``position [F]``) of ``tokens [L]`` in ``scores [F, V]``."""
    labels = np.where(position >= 0, tokens[np.maximum(position, 0)], blank)
    return float(scores[np.arange(len(scores)), labels].sum())


def spoken_language(scores: np.ndarray, text: str, candidates: tuple[str, ...]) -> str | None:
    """Which of ``candidates`` (eSpeak NG codes) ``text`` is in: the language whose dictionary knows most of its
    words (:func:`~talkavatar.audio.g2p.dictionary_words`); among those that know equally many, the one whose
    eSpeak NG reading of the text has the likeliest CTC path through the audio's log-probabilities ``scores [F, V]``
    (the same frames for every candidate, so the sums compare), each reading spelled and scored as :func:`align_ipa`
    aligns it (:data:`WRITTEN_AS`, :data:`ALSO_WRITTEN`: on the real dev lines with ``--language auto`` and the
    transcript, Dutch phones right 149 -> 153 of 205, Czech and eSpeak unchanged). None if no reading fits the
    frames."""
    known = {language: dictionary_words(text, language) for language in candidates}
    best, chosen = -np.inf, None
    for language in (c for c in candidates if known[c] == max(known.values())):
        _, tokens, _ = transcript_tokens(ipa_words(text, language), language)
        heard = alternative_scores(scores, language)
        position = ctc_viterbi(heard, tokens, blank_id()) if len(tokens) else None
        if position is not None and (score := path_log_likelihood(heard, tokens, position, blank_id())) > best:
            best, chosen = score, language
    return chosen


def alternative_scores(scores: np.ndarray, language: str | None) -> np.ndarray:
    """``scores [F, V]`` (log-probabilities) with each token of ``ALSO_WRITTEN[language]`` scoring the log-sum of
    its own and its alternatives' probabilities; ``scores`` itself where the language has none."""
    rules = ALSO_WRITTEN.get(language or "", {})
    if not rules:
        return scores
    out, index = scores.copy(), _token_index()
    for token, alternatives in rules.items():
        ids = [index[token]] + [index[a] for a in alternatives]
        out[:, ids[0]] = np.logaddexp.reduce(scores[:, ids], axis=1)
    return out


def heard_phones(scores: np.ndarray, tokens: np.ndarray, owner: np.ndarray, position: np.ndarray, n: int
                 ) -> np.ndarray:
    """``[n]`` bool: whether the recogniser heard each transcript phone where the Viterbi ``position [F]`` put it,
    i.e. one of its ``tokens [L]`` (phone ``owner [L]``) has a probability of at least :data:`HEARD_P` in
    ``scores [F, V]`` at one of its frames."""
    frames = np.flatnonzero(position >= 0)
    heard = np.zeros(n, bool)
    heard[owner[position[frames]][scores[frames, tokens[position[frames]]] >= np.log(HEARD_P)]] = True
    return heard


def align_ipa(pcm: np.ndarray, words: list[list[str]], scores: np.ndarray | None = None,
              language: str | None = None) -> list[PhoneSegment] | None:
    """Phone segments of the IPA ``words`` spoken in int16 ``pcm`` at 16 kHz, or None when they do not fit;
    ``scores``: the recogniser's log-probabilities of ``pcm`` where already at hand (:func:`log_probs`);
    ``language``: the eSpeak NG code the words are in (:data:`ALSO_WRITTEN`, :data:`WRITTEN_AS`).

    The words are aligned on the audio and on copies of it resampled to each of :data:`TIME_SCALES` (a faster and
    a slower voice), and each boundary between two phones is the mean of those timings
    (:func:`~talkavatar.audio.boundaries.mean_boundaries`)."""
    segments = _align_once(pcm, words, scores, language)
    if segments is None:
        return None
    others = []
    for up, down in TIME_SCALES:
        copy = np.clip(resample_poly(pcm.astype(np.float32), up, down), -32768, 32767).astype(np.int16)
        other = _align_once(copy, words, None, language)
        if other is not None:
            others.append([PhoneSegment(s.phone, s.start * down / up, s.end * down / up) for s in other])
    return mean_boundaries(segments, others)


def _align_once(pcm: np.ndarray, words: list[list[str]], scores: np.ndarray | None,
                language: str | None) -> list[PhoneSegment] | None:
    """:func:`align_ipa` on ``pcm`` alone."""
    phones, tokens, owner = transcript_tokens(words, language)
    if not len(tokens):
        return None
    scores = alternative_scores(log_probs(pcm) if scores is None else scores, language)
    position = ctc_viterbi(scores, tokens, blank_id())
    if position is None:
        return None
    units = np.where(position >= 0, owner[np.maximum(position, 0)], -1)
    return place_segments(units, phones, spectral_change(log_mel(pcm)), speech=speech_frames(pcm),
                          pause_needs_quiet=True, onset=speech_frames(pcm, ONSET_BELOW_DB),
                          heard=heard_phones(scores, tokens, owner, position, len(phones)))
