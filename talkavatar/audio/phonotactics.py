"""A language's phonotactics as a prior on the language-independent recogniser's tokens (issue 25).

:func:`prior_phones` decodes hama's token log-probabilities (:mod:`talkavatar.audio.universal`) by a Viterbi
search over its phone tokens in the CTC topology (each token, and a blank after it), where entering token ``v``
after ``u`` costs ``LM_WEIGHT * ln P(v | u) + ln INSERTION`` under the language's phone-token bigram
(:func:`bigram`), as :mod:`talkavatar.audio.phone_loop` weighs pocketsphinx's English phone loop.

The bigrams are counted offline (``benchmarks/phone_bigrams.py``) from eSpeak NG's IPA reading of text in the
language, spelled in hama's tokens, and shipped as counts in ``phone_bigrams.json`` next to this module; they are
smoothed here (Witten-Bell, down to a unigram with add-one over every phone token), so a token the language never
writes stays possible.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from talkavatar.audio.boundaries import place_segments
from talkavatar.audio.phones import PhoneSegment

TABLES = Path(__file__).with_name("phone_bigrams.json")
LM_WEIGHT = 1.0
INSERTION = 0.5
CLASS_LEVEL = False
PMI = False


@lru_cache(maxsize=1)
def _tables() -> dict:
    return json.loads(TABLES.read_text(encoding="utf-8")) if TABLES.exists() else {}


def languages() -> tuple[str, ...]:
    """eSpeak NG codes that have a shipped bigram."""
    return tuple(code for code in _tables() if code != "provenance")


@lru_cache(maxsize=16)
def bigram(language: str, vocabulary: tuple[str, ...], phone: tuple[bool, ...],
           token_class: tuple[int, ...] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tokens [S], start [S], log_p [S, S])`` for ``language``: the phone token ids ``S`` of ``vocabulary`` (those
    ``phone`` marks), ``ln P(v | <s>)`` and ``ln P(v | u)`` (rows ``u``), Witten-Bell smoothed."""
    tokens = np.flatnonzero(phone)
    names = {vocabulary[t]: k for k, t in enumerate(tokens)}
    s = len(tokens)
    counts = np.zeros((s + 1, s), np.float64)            # last row: <s>
    for pair, n in _tables()[language]["counts"].items():
        a, b = pair.split(" ")
        if b in names and (a in names or a == "<s>"):
            counts[names[a] if a != "<s>" else s, names[b]] += n
    if token_class is not None:                          # a lip-class bigram: ln P(class(v) | class(u))
        cls = np.asarray(token_class)[tokens]
        n_cls = cls.max() + 1
        cc = np.zeros((n_cls + 1, n_cls))
        np.add.at(cc, (np.append(cls, n_cls)[:, None].repeat(s, 1), cls[None].repeat(s + 1, 0)), counts)
        pc = (cc + 1.0) / (cc + 1.0).sum(axis=1, keepdims=True)
        if PMI:                                          # the sequence only: P(c | c') / P(c)
            uni = (cc[:n_cls].sum(axis=0) + 1.0) / (cc[:n_cls].sum() + n_cls)
            pc = pc / uni[None]
        log_p = np.log(pc[np.append(cls, n_cls)][:, cls]).astype(np.float32)
        return tokens, log_p[s], log_p[:s]
    unigram = counts.sum(axis=0) + 1.0
    unigram /= unigram.sum()
    seen, types = counts.sum(axis=1, keepdims=True), (counts > 0).sum(axis=1, keepdims=True)
    lam = np.where(seen > 0, seen / np.maximum(seen + types, 1e-9), 0.0)
    p = lam * counts / np.maximum(seen, 1e-9) + (1.0 - lam) * unigram
    if PMI:
        p = p / unigram[None]
    log_p = np.log(p).astype(np.float32)
    return tokens, log_p[s], log_p[:s]


def prior_phones(scores: np.ndarray, language: str, blank: int, vocabulary: list[str], phone: np.ndarray,
                 bilabial: np.ndarray, heard_as: dict[str, str], blank_bias: float, offset_s: float = 0.0,
                 boost: np.ndarray | None = None, change: np.ndarray | None = None,
                 speech: np.ndarray | None = None, onset: np.ndarray | None = None,
                 token_class: np.ndarray | None = None) -> list[PhoneSegment]:
    """Recognised phones from log-probabilities ``scores [F, V]`` under ``language``'s bigram.

    ``phone [V]`` bool marks the phone tokens, ``bilabial [V]`` bool those of the bilabial class, which gain
    ``boost [F]`` (log-odds; the closure and dark-spectrum evidence of :func:`~talkavatar.audio.universal.
    greedy_phones`). A frame's blank scores the log-sum of blank and the non-phone tokens, plus ``blank_bias``.
    Segments are named by ``heard_as`` and placed as :func:`~talkavatar.audio.universal.greedy_phones` places them.
    """
    tokens, start, log_p = bigram(language, tuple(vocabulary), tuple(bool(p) for p in phone),
                                  tuple(token_class) if CLASS_LEVEL and token_class is not None else None)
    f, s = len(scores), len(tokens)
    if f == 0:
        return []
    emit = scores[:, tokens].astype(np.float32)                                          # [F, S]
    if CLASS_LEVEL and token_class is not None:          # every token scores its lip class's summed probability
        cls = token_class[tokens]
        for c in range(cls.max() + 1):
            emit[:, cls == c] = logsumexp(scores[:, tokens[cls == c]], axis=1)[:, None]
        emit += (scores[:, tokens] - emit) * 1e-3          # ties within a class: the token's own probability
    if boost is not None:
        emit[:, bilabial[tokens]] += boost[:f, None]
    rest = np.flatnonzero(~phone)
    emit_blank = (logsumexp(scores[:, rest], axis=1) + blank_bias).astype(np.float32)   # [F] (blank is in rest)
    ins = np.float32(np.log(INSERTION))
    cost = (LM_WEIGHT * log_p + ins).astype(np.float32)                                  # [S_prev, S]
    cost_tok = cost.copy()
    np.fill_diagonal(cost_tok, -np.inf)                    # a token's own repeat needs a blank between
    neg = np.float32(-1e30)
    tok = LM_WEIGHT * start + ins + emit[0]
    blk = np.full(s, neg, np.float32)
    lead = np.float32(emit_blank[0])                       # leading blank (before any phone)
    came = np.zeros((f, s), np.int32)                      # where token v was entered from (-1 stay, -2 lead, u, S + u)
    blk_from_tok = np.zeros((f, s), bool)
    came[0] = -2
    for t in range(1, f):
        a = tok[:, None] + cost_tok                        # [S_prev, S]
        b = blk[:, None] + cost
        ai, bi = a.argmax(axis=0), b.argmax(axis=0)
        av, bv = a[ai, np.arange(s)], b[bi, np.arange(s)]
        lv = lead + LM_WEIGHT * start + ins
        enter = np.maximum(np.maximum(av, bv), lv)
        src = np.where(av >= bv, ai, s + bi)
        src = np.where(lv > np.maximum(av, bv), -2, src)
        stay = tok >= enter
        came[t] = np.where(stay, -1, src)
        new_tok = np.where(stay, tok, enter) + emit[t]
        blk_from_tok[t] = tok >= blk
        blk = np.maximum(tok, blk) + emit_blank[t]
        tok = new_tok
        lead = lead + emit_blank[t]
    # Backtrace: state (kind, k): kind 0 token, 1 blank after token, 2 lead.
    kind, k = (0, int(tok.argmax())) if tok.max() >= blk.max() else (1, int(blk.argmax()))
    if max(tok.max(), blk.max()) < lead:
        kind = 2
    units = np.full(f, -1)
    entries: list[tuple[int, int]] = []                    # (frame, token index) of each entered token, reversed
    for t in range(f - 1, -1, -1):
        if kind == 2:
            break
        if kind == 1:
            if t > 0 and blk_from_tok[t, k]:
                kind = 0
            continue
        units[t] = k
        c = came[t]
        src = c[k]
        if src == -1:
            continue
        entries.append((t, k))
        if src == -2:
            kind = 2
        elif src >= s:
            kind, k = 1, int(src - s)
        else:
            kind, k = 0, int(src)
    labels: list[str] = []
    starts = sorted(entries)
    seg = np.full(f, -1)
    for n, (t0, k0) in enumerate(starts):
        t1 = starts[n + 1][0] if n + 1 < len(starts) else f
        run = np.arange(t0, t1)
        seg[run[units[run] == k0]] = n
        token = vocabulary[tokens[k0]]
        labels.append(heard_as.get(token, token))
    return place_segments(seg, labels, change, offset_s, speech, onset=onset)

