"""Phone boundaries for a CTC recogniser's output: placed from its spikes, then moved to where the sound changes.

A CTC model (hama, :mod:`talkavatar.audio.universal`) marks each phone with a short run of frames (a spike) that
comes late: on the eSpeak NG dev sentences (11 languages, exact phone times) a spike starts a median 54 ms after
its phone does (IQR 41-70 ms), and the posteriors between spikes say nothing about where one phone ends. The audio
does: a phone boundary is where the spectrum changes. So, per boundary,

1. a prior from the spikes: between two phones whose runs start at frames ``s_k`` and ``s_k+1`` (20 ms frames),
   :data:`SPIKE_WEIGHTS` ``. (s_k, s_k+1) +`` :data:`SPIKE_OFFSET_S` (least squares on the dev sentences: mean
   error 18 ms); after a pause a phone starts :data:`START_LAG_S` before its run, before a pause it ends
   :data:`END_LAG_S` after its run;
2. the 10 ms frame within :data:`SEARCH_S` of the prior where the log-mel spectrum changes most
   (:func:`spectral_change`), weighted by a Gaussian of width :data:`PRIOR_S` around the prior (mean error 16 ms
   on the dev sentences). Without audio (``change=None``) the prior stands.

Blank runs of at least :data:`PAUSE_S` are pauses (silence); shorter gaps go to the phones around them. When a
transcript is aligned, a long blank is a pause only where the audio goes quiet inside it (issue 25, fourteenth
session: on the longer real dev lines slow speakers read a comma without a break, and a long vowel followed by a
long fricative put their spikes 200+ ms apart; four drafted 20 ms pauses there had no quiet frame). A phone
next to a pause reaches the edge of the speech around its run (:func:`speech_frames`: 10 ms frames at most
:data:`SPEECH_BELOW_DB` under the speech level), where that lies beyond the spike rule: slow voices hold a final
vowel for 200-300 ms after its spike (real Dutch and Czech, Fish Fillets NG), which the spike rule cut off as
silence (issue 25, tenth session: on the TTS+DTW real lines, the development set for real speech, classes at phones
without / with a transcript 37.8 -> 40.7 % / 49.8 -> 51.9 %; 15 / 25 / 30 dB gave 39.1 / 42.3 / 43.6 % without one,
at the cost of more silence frames open there: closed 95.3 -> 94.9 / 94.1 / 93.4 / 93.0 % for 15 / 20 / 25 / 30 dB;
eSpeak dev +0.3 / +0.5 points; the loudness of a pre-emphasised signal, to count an s's noise in, gave 39.9 %
without a transcript). A phone after a pause starts at that edge found :data:`ONSET_BELOW_DB` under the speech
level instead: a line's first sound (a stop's burst, an h, a voiced fricative, a vowel's onset) rises from silence
below the 20 dB mark, and the lips are in place before the sound is loud (issue 25, seventeenth session, chosen on
the relabelled real dev lines and eSpeak dev, with and without a transcript: 25, 30 and 35 dB each put one more
Czech phone right, a 25 ms utterance-initial t, and changed nothing else, silences and bilabials closed included;
25 dB at a stretch's end as well cost 3-6 of 140-349 closed silence frames per language and 1-2 bilabials without a
transcript; once on test: real Dutch with a transcript 78.3 -> 80.7 %, its two utterance-initial misses). Finally
every boundary moves :data:`LEAD_S` earlier: lips lead the sound they make, and the coarticulated mouth of
:mod:`talkavatar.audio.visemes` reaches a phone's target later than the loudness rises. With exact boundaries the
mouth opening peaks ~15 ms after the speech envelope (a lip-check proxy: correlation of the motion's opening with
the eval's envelope on the 13 lip-check clips, 0.605 at lag 0, 0.620 at +20 ms); 10 ms earlier brings it back to
0.632 (the spike rule it replaced) while the viseme classes at eSpeak's phone centres (dev) stay above that rule's
(transcript 86.7 % vs 84.2 %; without 70.3 % vs 69.1 %; 89.3 % and 72.5 % with no lead). The rendered lip
check (MediaPipe lip gap vs envelope, ``benchmarks/lip_check_languages.py``, CPU render) against the spike rule's
motions: mean r over 12 non-English clips 0.466 vs 0.456, the same 6 of 13 clips at >= 0.45. The mouth model's
per-articulator dominance (issue 25, fourth pass) moved the balance: with it, a lead of 0 / 5 / 10 / 20 ms gives
dev classes with a transcript of 92.3 / 91.8 / 89.8 / 81.2 % (lip targets), without one 77.3 / 77.3 / 76.2 / 71.6 %,
and the proxy (jawOpen vs envelope at 20 fps on the 13 clips) 0.752 / 0.764 / 0.772; 5 ms is the compromise.

In transcript alignment the Viterbi path must give every transcript phone a frame, heard or not; one the
recogniser does not hear there gets the frame where its token is least unlikely, mostly glued to a neighbour's
spike. Such phones are first spread evenly between the heard phones around them (:func:`spread_unheard`; issue 25,
eighteenth session: dev phones right with a transcript, real cs 206 -> 207 of 222, real nl 152 -> 156 of 205, eSpeak
1211 -> 1215 of 1305; eSpeak dev starts 16.0 -> 15.3 ms mean error, real cs 14.6 -> 15.2, nl 22.1 -> 22.9).

Used by recognition (:func:`talkavatar.audio.universal.greedy_phones`) and by transcript alignment
(:func:`talkavatar.audio.ctc_align.align_ipa`).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from talkavatar.audio.load import SAMPLE_RATE
from talkavatar.audio.phones import PhoneSegment

UNIT_S = 0.02                       # one recogniser frame
CHANGE_RATE = 100.0                 # spectral change frames per second
PAUSE_S = 0.2                       # blank runs this long are silence
SPIKE_WEIGHTS, SPIKE_OFFSET_S = (0.364, 0.639), -0.033
START_LAG_S, END_LAG_S = 0.054, 0.04
SEARCH_S, PRIOR_S = 0.06, 0.015     # chosen on the dev sentences (lags 40-70 ms, widths 10-25 ms tried)
LEAD_S = 0.005                      # 0, 5, 10 and 20 ms tried (module docstring)
SPEECH_BELOW_DB = 20.0              # speech_frames' loudness threshold under the speech level
ONSET_BELOW_DB = 25.0               # the same where a speech stretch starts (module docstring)
MIN_PHONE_S = 0.02
KEEP_S = 0.01                       # mean_boundaries: what a moved boundary leaves each phone
MEL_BANDS, WINDOW, FFT = 40, 400, 512
CHANGE_SPAN = 2                     # frames averaged on each side of a boundary
FEATURE_BLOCK = 256                 # frames per FFT batch


def _mel_edges() -> np.ndarray:
    """``[MEL_BANDS + 2]`` Hz: the mel bands' edges, equally spaced in mel from 100 to 7600 Hz (band ``k`` rises
    from edge ``k``, peaks at ``k + 1`` and falls to ``k + 2``)."""
    hz = np.linspace(0, SAMPLE_RATE / 2, FFT // 2 + 1)
    mel = 2595.0 * np.log10(1.0 + hz / 700.0)
    lowest, highest = (2595.0 * np.log10(1.0 + f / 700.0) for f in (100.0, 7600.0))
    return np.interp(np.linspace(lowest, highest, MEL_BANDS + 2), mel, hz)


def mel_centres() -> np.ndarray:
    """``[MEL_BANDS]`` Hz: the peak of each band of :func:`log_mel`."""
    return _mel_edges()[1:-1]


def _mel_filters() -> np.ndarray:
    """``[MEL_BANDS, FFT // 2 + 1]`` triangular filters, 100-7600 Hz."""
    hz = np.linspace(0, SAMPLE_RATE / 2, FFT // 2 + 1)
    edges = _mel_edges()
    lo, centre, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((hz - lo) / (centre - lo), (hi - hz) / (hi - centre)), 0.0, None)


def log_mel(pcm: np.ndarray) -> np.ndarray:
    """``[len(pcm) // 160, MEL_BANDS]`` log-mel spectra of int16 ``pcm`` (16 kHz) every 10 ms (window centred on
    the mark), computed :data:`FEATURE_BLOCK` frames at a time so that temporaries stay small for long audio."""
    hop = int(SAMPLE_RATE / CHANGE_RATE)
    n = len(pcm) // hop
    x = np.pad(pcm.astype(np.float32) / 32768.0, (WINDOW // 2, WINDOW // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(x, WINDOW)[::hop][:n]
    window, filters = np.hanning(WINDOW).astype(np.float32), _mel_filters().T.astype(np.float32)
    out = np.empty((n, MEL_BANDS), np.float32)
    for lo in range(0, n, FEATURE_BLOCK):
        spec = sfft.rfft(frames[lo:lo + FEATURE_BLOCK] * window, n=FFT, axis=1)
        out[lo:lo + FEATURE_BLOCK] = np.log((spec.real ** 2 + spec.imag ** 2) @ filters + 1e-8)
    return out


def spectral_change(mel: np.ndarray) -> np.ndarray:
    """``[n]`` how much the log-mel spectrum ``mel [n, MEL_BANDS]`` (:func:`log_mel`) changes at each 10 ms mark:
    the distance between the mean spectra of the :data:`CHANGE_SPAN` frames after and before it."""
    n = len(mel)
    if n <= 2 * CHANGE_SPAN:
        return np.zeros(n, np.float32)
    total = np.concatenate([np.zeros((1, MEL_BANDS)), np.cumsum(mel, axis=0, dtype=np.float64)])
    k = CHANGE_SPAN
    out = np.zeros(n, np.float32)
    t = np.arange(k, n - k)
    out[t] = np.linalg.norm((total[t + k] - total[t]) - (total[t] - total[t - k]), axis=1) / k
    return out


def speech_frames(pcm: np.ndarray, below_db: float = SPEECH_BELOW_DB) -> np.ndarray:
    """``[n // 160]`` bool: the 10 ms frames of int16 ``pcm [n]`` at most ``below_db`` under the speech level (the
    loudest 5 % of frames)."""
    hop = int(SAMPLE_RATE / CHANGE_RATE)
    n = len(pcm) // hop
    if n == 0:
        return np.zeros(0, bool)
    db = 10.0 * np.log10((pcm[:n * hop].astype(np.float32).reshape(n, hop) ** 2).mean(axis=1) + 1.0)
    return db > np.percentile(db, 95) - below_db


def _speech_edge(speech: np.ndarray | None, t: float, limit: float) -> float:
    """The edge, towards ``limit`` (s; later or earlier than ``t``), of the run of ``speech [F10]`` frames holding
    ``t``: where a phone next to a pause really ends or starts. ``t`` itself where it is not speech or no audio."""
    k = int(t * CHANGE_RATE)
    if speech is None or not 0 <= k < len(speech) or not speech[k]:
        return t
    if limit > t:
        quiet = np.flatnonzero(~speech[k:])
        return min((k + quiet[0] if len(quiet) else len(speech)) / CHANGE_RATE, limit)
    quiet = np.flatnonzero(~speech[:k])
    return max((quiet[-1] + 1 if len(quiet) else 0) / CHANGE_RATE, limit)


def _move(prior: float, change: np.ndarray | None, lo: float, hi: float) -> float:
    """The most changing 10 ms mark in ``(lo, hi)`` near ``prior`` (seconds), or ``prior`` clipped."""
    prior = min(max(prior, lo), hi)
    if change is None:
        return prior
    marks = np.arange(int(np.ceil((prior - SEARCH_S) * CHANGE_RATE)), int((prior + SEARCH_S) * CHANGE_RATE) + 1)
    marks = marks[(marks / CHANGE_RATE > lo) & (marks / CHANGE_RATE < hi) & (marks >= 0) & (marks < len(change))]
    if len(marks) == 0:
        return prior
    weight = change[marks] * np.exp(-0.5 * ((marks / CHANGE_RATE - prior) / PRIOR_S) ** 2)
    return float(marks[weight.argmax()] / CHANGE_RATE)


def _most_change(change: np.ndarray | None, lo: float, hi: float, prior: float) -> float:
    """The most changing 10 ms mark strictly inside ``(lo, hi)`` (seconds), with no prior; ``prior`` without audio
    or room."""
    if change is None:
        return min(max(prior, lo), hi)
    marks = np.arange(int(np.floor(lo * CHANGE_RATE)) + 1, min(int(np.ceil(hi * CHANGE_RATE)), len(change)))
    return float(marks[change[marks].argmax()] / CHANGE_RATE) if len(marks) else min(max(prior, lo), hi)


def unit_runs(units: np.ndarray) -> list[tuple[int, int, int]]:
    """``(first frame, end frame, unit)`` of each run of one unit in ``units [F]`` (``-1`` = blank, skipped)."""
    changes = np.flatnonzero(np.diff(units, prepend=-2) != 0)
    ends = np.append(changes[1:], len(units))
    return [(int(a), int(b), int(units[a])) for a, b in zip(changes, ends) if units[a] >= 0]


def phone_runs(units: np.ndarray) -> list[tuple[int, int, int, int]]:
    """``(first frame, last run's first frame, end frame, unit)`` per phone of ``units [F]``: the runs of one unit
    joined across the blanks between them (a transcript phone that the recogniser spells with two tokens, as a
    diphthong ``a`` + ``ɪ``, is one phone, not two)."""
    out: list[tuple[int, int, int, int]] = []
    for a, b, u in unit_runs(units):
        if out and out[-1][3] == u:
            out[-1] = (out[-1][0], a, b, u)
        else:
            out.append((a, a, b, u))
    return out


def spread_unheard(runs: list[tuple[float, float, float, int]], heard: np.ndarray
                   ) -> list[tuple[float, float, float, int]]:
    """:func:`phone_runs` ``runs`` with each stretch of phones not heard (``heard [len(names)]`` False for their
    unit) between two heard ones moved to even steps between the heard phones' first frames, a half frame each; a
    stretch holding a blank run of :data:`PAUSE_S` or more, or before the first / after the last heard phone, stays.

    Forced alignment gives a phone the recogniser does not hear the frame where its token is least unlikely, which
    is mostly right next to a heard neighbour's spike (Viterbi glue). Evenly spread, the phone's boundaries come
    from the spike rule as a heard one's would."""
    out = list(runs)
    anchors = [k for k, run in enumerate(runs) if heard[run[3]]]
    for i, j in zip(anchors, anchors[1:]):
        if j - i < 2 or any((runs[k][0] - runs[k - 1][2]) * UNIT_S >= PAUSE_S for k in range(i + 1, j + 1)):
            continue
        for k in range(i + 1, j):
            at = runs[i][0] + (runs[j][0] - runs[i][0]) * (k - i) / (j - i)
            out[k] = (at, at, at + 0.5, runs[k][3])
    return out


def place_segments(units: np.ndarray, names: list[str], change: np.ndarray | None = None,
                   offset_s: float = 0.0, speech: np.ndarray | None = None,
                   pause_needs_quiet: bool = False, onset: np.ndarray | None = None,
                   heard: np.ndarray | None = None) -> list[PhoneSegment]:
    """Timed segments covering ``units [F]`` (20 ms frames; ``-1`` blank, else an index into ``names``; a new run
    of the same index is not a new phone) of audio whose :func:`spectral_change` is ``change [F10]`` and whose
    :func:`speech_frames` are ``speech [F10]`` (either None: not used); ``onset [F10]``: its speech frames at
    :data:`ONSET_BELOW_DB`, where a phone after a pause starts (None: ``speech``).

    ``pause_needs_quiet`` (transcript alignment, where the phones are known to follow each other): a blank of at
    least :data:`PAUSE_S` between two phones is a pause only where ``speech`` goes quiet inside it; otherwise the
    speaker went on (a comma read without a break, a long vowel and a long fricative whose spikes lie far apart)
    and the boundary is the most changing mark between the two runs. ``heard [len(names)]`` (transcript
    alignment): whether the recogniser heard each phone at its frames; those it did not are spread between the
    heard ones (:func:`spread_unheard`) before their boundaries are placed."""
    runs = phone_runs(units) if heard is None else spread_unheard(phone_runs(units), heard)
    total = len(units) * UNIT_S

    def pause(k: int) -> bool:
        """Whether the blank between phone ``k - 1`` and phone ``k`` is a pause."""
        a, b = runs[k - 1][2], runs[k][0]
        if (b - a) * UNIT_S < PAUSE_S:
            return False
        if not pause_needs_quiet or speech is None:
            return True
        return not speech[int(a * UNIT_S * CHANGE_RATE):int(b * UNIT_S * CHANGE_RATE)].all()

    starts, ends = [0.0] * len(runs), [0.0] * len(runs)
    for k, (a, last, b, _) in enumerate(runs):
        if k == 0 or pause(k):
            lo = ends[k - 1] + MIN_PHONE_S if k else 0.0
            starts[k] = min(_move(a * UNIT_S - START_LAG_S, change, lo, a * UNIT_S),
                            _speech_edge(speech if onset is None else onset, a * UNIT_S, lo))
        if k + 1 < len(runs) and not pause(k + 1):
            nxt = runs[k + 1][0] * UNIT_S
            prior = SPIKE_WEIGHTS[0] * last * UNIT_S + SPIKE_WEIGHTS[1] * nxt + SPIKE_OFFSET_S
            lo = starts[k] + MIN_PHONE_S
            if (runs[k + 1][0] - b) * UNIT_S >= PAUSE_S:
                ends[k] = starts[k + 1] = _most_change(change, max(lo, b * UNIT_S), nxt, prior)
            else:
                ends[k] = starts[k + 1] = _move(prior, change, lo, nxt)
        else:
            hi = runs[k + 1][0] * UNIT_S - START_LAG_S if k + 1 < len(runs) else total
            hi = max(hi, last * UNIT_S + MIN_PHONE_S)
            ends[k] = max(_move(b * UNIT_S + END_LAG_S, change, last * UNIT_S, hi),
                          _speech_edge(speech, b * UNIT_S, hi))
    out: list[PhoneSegment] = []
    edge = 0.0
    for (_, _, _, u), start, end in zip(runs, starts, ends):
        start, end = max(start - LEAD_S, edge), min(max(end - LEAD_S, start - LEAD_S + MIN_PHONE_S), total)
        if end <= start:
            continue
        if start > edge:
            out.append(PhoneSegment("SIL", offset_s + edge, offset_s + start))
        out.append(PhoneSegment(names[u], offset_s + start, offset_s + end))
        edge = end
    if edge < total:
        out.append(PhoneSegment("SIL", offset_s + edge, offset_s + total))
    return out


def mean_boundaries(segments: list[PhoneSegment], others: list[list[PhoneSegment]]) -> list[PhoneSegment]:
    """``segments`` (phones and ``SIL``, in order) with each boundary between two adjacent phones moved to the mean
    of its own start and the starts of the same phone in ``others`` (other timings of the same phones; one whose
    phone count differs is left out), kept :data:`KEEP_S` inside the phones around it; pauses stay as they are."""
    phones = [k for k, s in enumerate(segments) if s.phone != "SIL"]
    starts = [[segments[k].start] for k in phones]
    for other in others:
        timed = [s for s in other if s.phone != "SIL"]
        if len(timed) == len(phones):
            for k, s in enumerate(timed):
                starts[k].append(s.start)
    out = list(segments)
    for j in range(1, len(phones)):
        k = phones[j]
        before, here = out[k - 1], out[k]
        if before.phone == "SIL" or abs(before.end - here.start) > 1e-9:
            continue
        at = float(np.mean(starts[j]))
        if before.start + KEEP_S < at < here.end - KEEP_S:
            out[k - 1], out[k] = PhoneSegment(before.phone, before.start, at), PhoneSegment(here.phone, at, here.end)
    return out
