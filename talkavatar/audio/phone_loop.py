"""Vectorised phone recognition with pocketsphinx's en-us acoustic model and phone bigram (no pocketsphinx search).

Audio is processed in blocks of about ``BLOCK_SECONDS`` cut at quiet frames (batch cepstral mean over a block);
each block is cut again into segments of about ``SEGMENT_SECONDS`` at quiet frames, and all segments of a block
go through the frame-recursive steps (noise suppression, Viterbi) side by side, so the Python loops run over the
frames of one segment, not of the file. Per frame, the 40 phones' 3-state HMMs (CI senones: tied Gaussian mixtures
scored as matrix products) are decoded with a phone loop weighted by the bundled phone LM's bigrams:
``score = acoustic + LM_WEIGHT * ln P(phone | previous) + ln(INSERTION_PROBABILITY)`` at every phone entry.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Callable

import numpy as np
import pocketsphinx
from threadpoolctl import ThreadpoolController

from talkavatar.audio.phones import PhoneSegment
from talkavatar.audio.sphinx_features import (FRAME_SHIFT, SAMPLE_RATE, cepstra, dynamic_features, frame_count,
                                              mel_power, suppress_noise)
from talkavatar.audio.sphinx_model import PhoneModel, STREAMS, load_phone_model, model_dir
from talkavatar.core.threads import worker_threads

FRAME_RATE = SAMPLE_RATE // FRAME_SHIFT
BLOCK_SECONDS = 30.0              # cepstral-mean block (the last one may be up to twice as long)
SEGMENT_SECONDS = 4.0             # decoding segments, cut at the quietest frame within +-25 %
DENSITIES = 64                    # Gaussians kept per codebook and stream (those with the largest weights)
LM_WEIGHT = 2.0                   # pocketsphinx all-phone settings the old recogniser used (-lw 2, -pip 0.3)
INSERTION_PROBABILITY = 0.3
LOOP_PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
               "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "SIL", "T", "TH", "UH", "UW", "V", "W",
               "Y", "Z", "ZH")


class ScoringTables:
    """The model's CI senones of the loop phones, rearranged for batched scoring.

    Per stream s: ``quadratic[s] [26, P*D]`` and ``constant[s] [P*D]`` so that the Gaussian log densities of
    features ``x [F, 13]`` are ``[x*x, x] @ quadratic + constant``; ``weights[s] [P, D, 3]`` mixture weights.
    """

    def __init__(self, model: PhoneModel, phones: tuple[str, ...], densities: int):
        idx = np.array([model.index(p) for p in phones])
        self.phones = phones
        self.n_phones = len(idx)
        self.n_densities = densities
        self.quadratic, self.constant, self.weights = [], [], []
        for s in range(len(STREAMS)):
            log_w = model.log_weights[s, idx]                               # [P, 3, D]
            keep = np.sort(np.argsort(-log_w.max(axis=1), axis=1)[:, :densities], axis=1)   # [P, K]
            mu = np.take_along_axis(model.means[s, idx], keep[:, :, None], axis=1)        # [P, K, 13]
            prec = np.take_along_axis(model.precisions[s, idx], keep[:, :, None], axis=1)
            norm = np.take_along_axis(model.log_norm[s, idx], keep, axis=1)               # [P, K]
            quad = np.concatenate([-0.5 * prec, prec * mu], axis=2).reshape(-1, 26).T       # [26, P*K]
            const = (norm - 0.5 * (prec * mu * mu).sum(-1)).reshape(-1)                   # [P*K]
            self.quadratic.append(np.ascontiguousarray(quad, np.float32))
            self.constant.append(const.astype(np.float32))
            weights = np.exp(np.take_along_axis(log_w, keep[:, None, :], axis=2))          # [P, 3, K]
            self.weights.append(np.ascontiguousarray(weights.transpose(0, 2, 1), np.float32))   # [P, K, 3]
        lt = model.log_transitions[idx]                                     # [P, 3, 4]
        self.log_stay = lt[:, [0, 1, 2], [0, 1, 2]].astype(np.float32)     # [P, 3]
        self.log_advance = lt[:, [0, 1, 2], [1, 2, 3]].astype(np.float32)  # [P, 3]; column 2 = exit


@lru_cache(maxsize=1)
def scoring_tables() -> ScoringTables:
    return ScoringTables(load_phone_model(), LOOP_PHONES, DENSITIES)


@lru_cache(maxsize=1)
def phone_bigram() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(start [P], bigram [P_prev, P], end [P])`` natural-log probabilities from the bundled phone LM."""
    lm = pocketsphinx.NGramModel.readfile(str(model_dir() / "en-us-phone.lm.bin"))
    to_nat = np.log(1.0001)                       # the LM reports log base 1.0001
    # prob([w, h]) is ln P(w | h) in those units: the predicted word first, then its history.
    start = np.array([lm.prob([p, "<s>"]) for p in LOOP_PHONES]) * to_nat
    bigram = np.array([[lm.prob([p, q]) for p in LOOP_PHONES] for q in LOOP_PHONES]) * to_nat
    end = np.array([lm.prob(["</s>", q]) for q in LOOP_PHONES]) * to_nat
    return start.astype(np.float32), bigram.astype(np.float32), end.astype(np.float32)


def senone_log_likelihoods(features: np.ndarray, tables: ScoringTables, block: int = 128,
                           threads: int | None = None) -> np.ndarray:
    """Log-likelihoods ``[F, P, 3]`` of every loop phone's 3 states for features ``[F, 39]``.

    Works on ``block`` frames at a time so that the ``[block, P * D]`` densities stay in cache. Mixtures are
    summed relative to the frame's best density; a phone state more than ~80 nats below it is floored there.
    The blocks are shared out, whole, among ``threads`` threads (default:
    :func:`talkavatar.core.threads.worker_threads`); numpy releases the GIL in the products and ``exp``, and each
    block is computed as on one thread, so the scores do not depend on the count. 60 s of English on 2 cores:
    0.131 s on one thread, 0.070 s on two.
    """
    f = len(features)
    out = np.zeros((f, tables.n_phones, 3), np.float32)
    starts = list(range(0, f, block))
    workers = min(len(starts), threads or worker_threads())
    if workers <= 1:
        _score_blocks(features, tables, starts, block, out)
        return out
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda share: _score_blocks(features, tables, share, block, out),
                      [starts[k::workers] for k in range(workers)]))
    return out


def _score_blocks(features: np.ndarray, tables: ScoringTables, starts: list[int], block: int,
                  out: np.ndarray) -> None:
    """Write :func:`senone_log_likelihoods` of the ``block`` frames from each of ``starts`` into ``out [F, P, 3]``."""
    f = len(features)
    for lo in starts:
        hi = min(lo + block, f)
        n = hi - lo
        for s, (a, b) in enumerate(STREAMS):
            x = features[lo:hi, a:b]
            dens = np.concatenate([x * x, x], axis=1) @ tables.quadratic[s]
            dens += tables.constant[s]
            top = dens.max(axis=1, keepdims=True)
            dens -= top
            np.exp(dens, out=dens)
            mix = np.matmul(dens.reshape(n, tables.n_phones, -1).transpose(1, 0, 2), tables.weights[s])  # [P, n, 3]
            out[lo:hi] += np.log(np.maximum(mix, 1e-35)).transpose(1, 0, 2) + top[:, :, None]


def viterbi(scores: np.ndarray, lengths: np.ndarray, tables: ScoringTables, lm_weight: float = LM_WEIGHT,
            insertion: float = INSERTION_PROBABILITY) -> np.ndarray:
    """Best phone-loop paths of ``B`` padded segments at once.

    ``scores [B, F, P, 3]`` state log-likelihoods, ``lengths [B]`` valid frames. Returns ``[B, F]`` int: the phone
    of each frame, with ``-1 - phone`` marking frames where a phone is entered (so repeats stay separate) and
    ``P`` padding beyond each length. Only whether a phone was entered is kept per frame; which phone it was
    entered from is recomputed during the backtrace from the kept exit scores.
    """
    b, f, p, _ = scores.shape
    start, bigram, end = phone_bigram()
    entry_cost = (lm_weight * bigram + np.log(insertion)).astype(np.float32)          # [P_prev, P]
    stay, advance = tables.log_stay, tables.log_advance
    neg = np.float32(-1e30)
    delta = np.full((b, p, 3), neg, np.float32)
    delta[:, :, 0] = lm_weight * start + np.log(insertion) + scores[:, 0, :, 0]
    exits = np.empty((f, b, p), np.float32)               # best score of leaving each phone after frame t
    entered = np.zeros((f, b, p), bool)                   # state 0 was entered (not stayed in) at frame t
    from_prev_state = np.zeros((f, b, p, 2), bool)        # states 1, 2 came from the state before
    final = np.full((b, p), neg, np.float32)
    cand = np.empty((b, p, p), np.float32)
    for t in range(f):
        np.add(delta[:, :, 2], advance[:, 2], out=exits[t])
        last = lengths - 1 == t
        if last.any():
            final[last] = exits[t][last] + lm_weight * end
        if t == f - 1:
            break
        np.add(exits[t][:, :, None], entry_cost, out=cand)                             # [B, P_prev, P]
        enter = cand.max(axis=1)
        stay0 = delta[:, :, 0] + stay[:, 0]
        np.greater(enter, stay0, out=entered[t + 1])
        new = np.empty_like(delta)
        new[:, :, 0] = np.maximum(enter, stay0)
        moved = delta[:, :, :2] + advance[:, :2]
        kept = delta[:, :, 1:] + stay[:, 1:]
        np.greater(moved, kept, out=from_prev_state[t + 1])
        new[:, :, 1:] = np.maximum(moved, kept)
        new += scores[:, t + 1]
        delta = new
    # Backtrace all segments together, each from its own last frame.
    path = np.full((b, f), p, np.int32)
    phone = final.argmax(axis=1)
    state = np.full(b, 2)
    rows = np.arange(b)
    for t in range(f - 1, -1, -1):
        live = t < lengths
        path[live, t] = phone[live]
        if t == 0:
            path[live, 0] = -1 - phone[live]
            break
        went_back = np.zeros(b, bool)
        s12 = state > 0
        went_back[s12] = from_prev_state[t, rows[s12], phone[s12], state[s12] - 1]
        entry = live & (state == 0) & entered[t, rows, phone]
        if entry.any():
            came = (exits[t - 1][entry] + entry_cost[:, phone[entry]].T).argmax(axis=1)
            path[entry, t] = -1 - phone[entry]
            phone = phone.copy()
            phone[entry] = came
        state = np.where(live & went_back, state - 1, state)
        state = np.where(entry, 2, state)
    return path


def quiet_cuts(energy: np.ndarray, target: int) -> list[int]:
    """Frame indices splitting ``energy [F]`` into pieces of about ``target`` frames, at the quietest frames."""
    cuts, at, f = [0], 0, len(energy)
    while f - at > target * 1.25:
        lo, hi = at + int(target * 0.75), at + int(target * 1.25)
        at = lo + int(np.argmin(energy[lo:hi]))
        cuts.append(at)
    return cuts + [f]


@lru_cache(maxsize=1)
def _blas_controller():
    return ThreadpoolController()


def decode_block(pcm: np.ndarray, offset_s: float, tables: ScoringTables | None = None) -> list[PhoneSegment]:
    """Phone segments of one block of int16 ``pcm [n]`` at 16 kHz (times offset by ``offset_s``).

    The matrix products are small ([128, 26] x [26, P*D]): BLAS runs them on one thread, since splitting them
    costs more than it gains, and far more on a busy machine, where a waiting BLAS thread stalls every product.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _decode_block(pcm, offset_s, tables or scoring_tables())


def _decode_block(pcm: np.ndarray, offset_s: float, tables: ScoringTables) -> list[PhoneSegment]:
    frames = frame_count(len(pcm))
    if frames == 0:
        return [PhoneSegment("SIL", offset_s, offset_s + len(pcm) / SAMPLE_RATE)] if len(pcm) else []
    power = mel_power(pcm)
    loudness = np.log(power.sum(axis=1) + 1e-3)
    cuts = quiet_cuts(loudness, int(SEGMENT_SECONDS * FRAME_RATE))
    lengths = np.diff(cuts)
    padded = np.zeros((len(lengths), lengths.max(), power.shape[1]), np.float32)
    for k, (a, n) in enumerate(zip(cuts[:-1], lengths)):
        padded[k, :n] = power[a:a + n]
        padded[k, n:] = power[a + n - 1]
    clean = suppress_noise(padded)
    cep = np.concatenate([cepstra(clean[k, :n]) for k, n in enumerate(lengths)])
    cep -= cep.mean(axis=0)
    feats = dynamic_features(cep)
    scores = senone_log_likelihoods(feats, tables)
    batch = np.zeros((len(lengths), lengths.max()) + scores.shape[1:], np.float32)
    for k, (a, n) in enumerate(zip(cuts[:-1], lengths)):
        batch[k, :n] = scores[a:a + n]
    path = viterbi(batch, lengths, tables)
    out: list[PhoneSegment] = []
    for k, (a, n) in enumerate(zip(cuts[:-1], lengths)):
        row = path[k, :n]
        starts = np.flatnonzero(row < 0)
        ends = np.append(starts[1:], n)
        for s, e in zip(starts, ends):
            name = tables.phones[-1 - row[s]]
            out.append(PhoneSegment(name, offset_s + (a + s) / FRAME_RATE, offset_s + (a + e) / FRAME_RATE))
    # The last frame's window reaches FRAME_LENGTH samples past its start: the tail belongs to the last phone.
    tail_end = offset_s + len(pcm) / SAMPLE_RATE
    if out and out[-1].end < tail_end:
        out[-1] = PhoneSegment(out[-1].phone, out[-1].start, tail_end)
    return out


class PhoneRecognizer:
    """Streaming phone recognition: ``feed`` int16 blocks, then ``finish`` for the segments.

    Audio is decoded in blocks of ``block_seconds`` to ``2 * block_seconds`` cut at quiet frames, so memory is
    bounded by the block, and the result does not depend on how the input was fed. ``decode(pcm, offset_s)``
    recognises one block: this module's English phone loop by default, or
    :func:`talkavatar.audio.universal.decode_block` (IPA, any language).
    """

    def __init__(self, block_seconds: float = BLOCK_SECONDS,
                 decode: Callable[[np.ndarray, float], list[PhoneSegment]] = decode_block):
        self.decode = decode
        self.block_samples = int(block_seconds * SAMPLE_RATE)
        self.buffer = np.zeros(0, np.int16)
        self.offset_samples = 0
        self.segments: list[PhoneSegment] = []

    def _decode(self, pcm: np.ndarray) -> None:
        self.segments.extend(self.decode(pcm, self.offset_samples / SAMPLE_RATE))
        self.offset_samples += len(pcm)

    def feed(self, pcm: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, pcm])
        while len(self.buffer) >= 2 * self.block_samples:
            cut = quietest_sample(self.buffer, self.block_samples, int(1.25 * self.block_samples))
            self._decode(self.buffer[:cut])
            self.buffer = self.buffer[cut:]

    def finish(self) -> list[PhoneSegment]:
        self._decode(self.buffer)
        self.buffer = np.zeros(0, np.int16)
        out, self.segments = self.segments, []
        return out


def quietest_sample(pcm: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi)`` at the start of the quietest 10 ms frame (a cut between words)."""
    frames = pcm[lo:hi][: (hi - lo) // FRAME_SHIFT * FRAME_SHIFT].astype(np.float32).reshape(-1, FRAME_SHIFT)
    return lo + int(np.argmin((frames ** 2).sum(axis=1))) * FRAME_SHIFT


def recognize_phones(pcm: np.ndarray) -> list[PhoneSegment]:
    """Phone recognition of mono int16 ``pcm [n]`` at 16 kHz."""
    rec = PhoneRecognizer()
    rec.feed(pcm)
    return rec.finish()
