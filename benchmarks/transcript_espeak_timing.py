"""Transcript alignment in any language (issue 25): does eSpeak NG's own timing of the transcript place the aligned
phones' boundaries better?

For a transcript, eSpeak NG synthesises the same phones with its own durations (:func:`espeak_durations`, from the
phoneme events :func:`benchmarks.espeak.synthesize` reads; a transcript phone the aligner drops, having no recogniser
token, counts to the phone before it). Each variant takes the aligner's segments
(:func:`talkavatar.audio.ctc_align.align_ipa`, main's: the spike rule, the spectral snap, the mean of three timings)
and moves the boundaries inside each *stretch* (phones with no silence between them) using eSpeak's durations scaled
to the stretch (``ê_k = e_k * stretch length / sum of e``), then feeds them to the same mouth model
(:func:`talkavatar.audio.visemes.mouth_weights`, ``aligned=True``) and scores them as
``benchmarks/drive_audio_languages.py`` does (viseme class at each reference phone's centre):

- ``shift:A``: each boundary inside a stretch moves later by ``A * ê_k`` of the phone it starts (hama's spikes fire
  at a phone's start on the early Dutch misses, so the boundary lands early by a share of the phone);
- ``shiftprev:A``: later by ``A * ê_(k-1)`` of the phone it ends;
- ``blend:B``: each boundary moves to ``(1 - B) * aligned + B * eSpeak``, eSpeak's boundary being the stretch's
  start plus the scaled durations of the phones before it;
- ``local:N:B``: each boundary moves to ``(1 - B) * aligned + B * local``, ``local`` splitting the span of the N
  aligned phones on each side by their eSpeak durations (no stretch-wide drift);
- ``anchor:P:B``: as ``blend`` between anchors instead of the stretch's edges: the starts of the phones hama hears
  with a probability of at least P (:func:`heard_strength`; on the real dev lines their aligned starts err less:
  nl 14.7 ms mean absolute at p >= 0.5 against 24-28 ms below) and the stretch's edges;
- ``dp:S:L``: a dynamic programme per stretch over boundaries on a 5 ms grid within ``WINDOW_S`` of the aligned
  ones: cost ``sum ((b_k - a_k) / S)**2`` (the alignment's evidence, S seconds) ``+ L * sum ln(d_k / ê_k)**2``
  (each phone's duration against eSpeak's, scaled), every phone at least ``KEEP_S`` long.

A clip whose aligned phones are not the transcript's in order keeps main's segments (counted in the output). On the
eSpeak sentences eSpeak's durations are the audio's own (a near-oracle: its boundaries err 12 ms there against the
aligner's 14.6 ms, the stretch edges being the aligner's), so the real lines decide. (Twenty-second session, dev: no
variant moves real cs / nl beyond noise; the explicit-duration Viterbi of
``benchmarks/transcript_duration_prior.py`` is the same prior inside the CTC path, nineteenth session.)

The aligned segments of a split are computed once and kept in ``--cache`` (a pickle in /tmp, not committed).

``--predicts SPAN,...``: whether eSpeak's timing says where the aligner errs at all (:func:`predicts`).

Usage:  python benchmarks/transcript_espeak_timing.py --split dev --predicts 0,1,2 --variants none
        python benchmarks/transcript_espeak_timing.py --split dev --sets checked,espeak \\
            --variants none,shift:0.1,blend:0.05,local:1:0.2,anchor:0.5:0.3,dp:0.02:0.3
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import pickle
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.drive_audio_languages as languages  # noqa: E402
from talkavatar.audio.ctc_align import (align_ipa, alternative_scores, ctc_viterbi,  # noqa: E402
                                        transcript_tokens)
from talkavatar.audio.universal import blank_id, log_probs  # noqa: E402
from talkavatar.audio.g2p import ipa_words  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.load import load_pcm  # noqa: E402
from talkavatar.audio.phones import PhoneSegment  # noqa: E402
from talkavatar.audio.prosody import prosody_of  # noqa: E402
from talkavatar.audio.visemes import mouth_weights  # noqa: E402

KEEP_S = 0.01           # what a moved boundary leaves each phone
WINDOW_S = 0.08         # dp: how far a boundary may move
GRID_S = 0.005          # dp: boundary grid


def collect(split: str, sets: list[str]) -> list[dict]:
    """Per clip: cell, language, reference, prosody, seconds, main's aligned segments, eSpeak's durations of the
    transcript phones."""
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS

    clips = []
    if "checked" in sets:
        clips += [(f"checked:{c['language']}", c["language"], ROOT / "sound" / c["path"], c["text"],
                   [tuple(p) for p in c["phones"]]) for c in json.loads(LABELS[split].read_text())["clips"]]
    out = []

    def add(cell, language, wav, text, reference):
        pcm = load_pcm(wav)
        words = ipa_words(text, language)
        phones = [p for w in words for p in w]
        out.append({"cell": cell, "language": language, "text": text, "reference": reference,
                    "prosody": prosody_of(pcm), "seconds": len(pcm) / 16000.0,
                    "segments": align_ipa(pcm, words, None, language), "phones": phones,
                    "espeak": espeak_durations(text, language, phones),
                    "strength": heard_strength(pcm, words, language)})
        print(f"{cell} {len(out)}", file=sys.stderr, flush=True)

    for clip in clips:
        add(*clip)
    if "espeak" in sets:
        with contextlib.redirect_stderr(io.StringIO()):
            for language, wav, text, reference in languages.espeak_clips(split):
                if language != "en-us":
                    add("espeak:pooled", language, wav, text, reference)
    return out


def espeak_durations(text: str, language: str, phones: list[str]) -> np.ndarray:
    """``[len(phones)]`` seconds eSpeak NG gives each transcript phone when it reads ``text``: from its phoneme
    event to the next transcript phone's or to a word gap (events matched by base phone; eSpeak's separate ``ʲ``
    events count to the phone before them); phones without an event get the median."""
    from benchmarks.espeak import synthesize

    events = synthesize(text, language, ipa=True)[2]
    spoken = [k for k, (n, _, _) in enumerate(events) if base_phone(n)]
    match = difflib.SequenceMatcher(a=[base_phone(p) for p in phones], b=[base_phone(events[k][0]) for k in spoken],
                                    autojunk=False)
    event_of = np.full(len(phones), -1)
    for i, j, size in match.get_matching_blocks():
        event_of[i:i + size] = spoken[j:j + size]
    ends = {k for k, (n, _, _) in enumerate(events) if not n} | set(event_of[event_of >= 0].tolist())
    out = np.full(len(phones), np.nan)
    for i, k in enumerate(event_of):
        if k >= 0:
            after = [j for j in ends if j > k]
            out[i] = (events[min(after)][1] if after else events[-1][2]) - events[k][1]
    return np.where(np.isnan(out), np.nanmedian(out) if (event_of >= 0).any() else 0.1, out)


def heard_strength(pcm: np.ndarray, words: list[list[str]], language: str) -> np.ndarray:
    """``[phones]`` the highest probability hama gives one of each transcript phone's tokens at the frames the
    aligner's Viterbi path (on the audio alone) gives it; 0 for a phone without tokens or a path."""
    phones, tokens, owner = transcript_tokens(words, language)
    out = np.zeros(len(phones))
    if not len(tokens):
        return out
    scores = alternative_scores(log_probs(pcm), language)
    position = ctc_viterbi(scores, tokens, blank_id())
    if position is None:
        return out
    frames = np.flatnonzero(position >= 0)
    np.maximum.at(out, owner[position[frames]], np.exp(scores[frames, tokens[position[frames]]]))
    return out


def stretches(segments: list[PhoneSegment]) -> list[list[int]]:
    """Indices of ``segments``' phones grouped into runs that touch (no silence between)."""
    out: list[list[int]] = []
    for k, s in enumerate(segments):
        if s.phone == "SIL":
            continue
        if out and out[-1][-1] == k - 1 and abs(segments[k - 1].end - s.start) < 1e-9:
            out[-1].append(k)
        else:
            out.append([k])
    return out


def dp_boundaries(edges: np.ndarray, expected: np.ndarray, sigma: float, weight: float) -> np.ndarray:
    """Inner boundaries of one stretch whose phone edges are ``edges [n + 1]`` (s; first and last fixed) with
    expected durations ``expected [n]``: the grid points within :data:`WINDOW_S` of each aligned boundary that
    minimise ``sum ((b - a) / sigma)**2 + weight * sum ln(d / expected)**2``; ``[n + 1]``."""
    n = len(expected)
    if n < 2:
        return edges
    offsets = np.arange(-WINDOW_S, WINDOW_S + 1e-9, GRID_S)
    cands = [np.array([edges[0]])] + [edges[k] + offsets for k in range(1, n)] + [np.array([edges[n]])]
    cost = np.zeros(1)
    back = []
    for k in range(1, n + 1):
        here, prev = cands[k], cands[k - 1]
        d = here[:, None] - prev[None, :]                                    # [here, prev]
        dur = np.where(d >= KEEP_S, weight * np.log(np.maximum(d, 1e-6) / expected[k - 1]) ** 2, np.inf)
        total = cost[None, :] + dur
        back.append(total.argmin(axis=1))
        cost = total.min(axis=1) + (((here - edges[k]) / sigma) ** 2 if k < n else 0.0)
    out = np.empty(n + 1)
    j = int(cost.argmin())
    if not np.isfinite(cost[j]):
        return edges
    for k in range(n, 0, -1):
        out[k] = cands[k][j]
        j = int(back[k - 1][j])
    out[0] = edges[0]
    return out


def moved(segments: list[PhoneSegment], espeak: np.ndarray, strength: np.ndarray,
          variant: str) -> list[PhoneSegment]:
    """``segments`` with each stretch's inner boundaries moved by ``variant`` (module docstring); ``espeak
    [phones]`` eSpeak's durations of the segments' phones (in order), ``strength [phones]`` how strongly hama heard
    each (:func:`heard_strength`)."""
    if variant == "none":
        return segments
    kind, *values = variant.split(":")
    a = [float(v) for v in values]
    phone_of = {k: j for j, k in enumerate(k for k, s in enumerate(segments) if s.phone != "SIL")}
    if len(phone_of) != len(espeak):
        raise ValueError("segments and eSpeak durations differ in phone count")
    out = list(segments)
    for run in stretches(segments):
        edges = np.array([segments[k].start for k in run] + [segments[run[-1]].end])
        e = np.array([espeak[phone_of[k]] for k in run])
        expected = e * (edges[-1] - edges[0]) / e.sum()
        new = edges.copy()
        if kind == "shift":
            new[1:-1] += a[0] * expected[1:]
        elif kind == "shiftprev":
            new[1:-1] += a[0] * expected[:-1]
        elif kind == "blend":
            new[1:-1] = (1 - a[0]) * edges[1:-1] + a[0] * (edges[0] + np.cumsum(expected)[:-1])
        elif kind == "local":
            span, share = int(a[0]), a[1]
            for i in range(1, len(run)):
                lo, hi = max(0, i - span), min(len(run), i + span)
                at = edges[lo] + (edges[hi] - edges[lo]) * e[lo:i].sum() / e[lo:hi].sum()
                new[i] = (1 - share) * edges[i] + share * at
        elif kind == "anchor":
            strong = [0] + [i for i in range(1, len(run)) if strength[phone_of[run[i]]] >= a[0]] + [len(run)]
            for lo, hi in zip(strong, strong[1:]):
                at = edges[lo] + (edges[hi] - edges[lo]) * np.cumsum(e[lo:hi])[:-1] / e[lo:hi].sum()
                new[lo + 1:hi] = (1 - a[1]) * edges[lo + 1:hi] + a[1] * at
        elif kind == "dp":
            new = dp_boundaries(edges, expected, a[0], a[1])
        else:
            raise SystemExit(f"unknown variant {variant!r}")
        for i in range(1, len(new) - 1):                                    # keep order and KEEP_S
            new[i] = min(max(new[i], new[i - 1] + KEEP_S), edges[-1] - KEEP_S * (len(new) - 1 - i))
        for i, k in enumerate(run):
            out[k] = PhoneSegment(segments[k].phone, float(new[i]), float(new[i + 1]))
    return out


def _matched(clip: dict) -> np.ndarray | None:
    """Indices of the transcript phones the aligned phones are, in order (phones the aligner dropped, having no
    recogniser token, left out), or None where the aligned phones are not the transcript's."""
    aligned = [s.phone for s in clip["segments"] if s.phone != "SIL"]
    keep, j = [], 0
    for k, phone in enumerate(clip["phones"]):
        if j < len(aligned) and aligned[j] == phone:
            keep.append(k)
            j += 1
    return np.array(keep, np.int64) if j == len(aligned) else None


def score(clips: list[dict], variant: str) -> tuple[dict, int]:
    """Tallies per cell for ``variant``, and how many clips kept main's segments (phone counts differ)."""
    tallies: dict = {}
    kept = 0
    for clip in clips:
        segments, keep = clip["segments"], _matched(clip)
        if keep is not None:
            segments = moved(segments, np.add.reduceat(clip["espeak"], keep), clip["strength"][keep], variant)
        else:
            kept += 1
        _, weights = mouth_weights(segments, clip["prosody"], clip["seconds"], languages.FPS, aligned=True)
        result = SimpleNamespace(motion=SimpleNamespace(arkit_weights=weights), seconds=clip["seconds"],
                                 language=clip["language"])
        tallies.setdefault(clip["cell"], languages.Tally()).add(result, clip["reference"])
    return tallies, kept


def predicts(clips: list[dict], spans: list[int]) -> None:
    """Whether eSpeak's durations say where the aligned boundaries err: per inner boundary of a stretch whose
    aligned phones match the reference's one to one, the aligner's error (aligned start minus reference start) and
    eSpeak's correction (its boundary, splitting the span of ``span`` aligned phones on each side by their eSpeak
    durations, 0 = the whole stretch, minus the aligned boundary); eSpeak's own error (its boundary minus the
    reference) and how it goes with the aligner's; the correction's correlation with the needed one (minus the
    error) and the least-squares share of the correction that would cancel the error."""
    print("| cell | span | boundaries | aligned error, mean abs | eSpeak's error, mean abs | errors' correlation | "
          "eSpeak correction, mean abs | its correlation with the needed one | share |")
    print("|---|---|---|---|---|---|---|---|---|")
    for span in spans:
        _predicts(clips, span)


def _predicts(clips: list[dict], span: int) -> None:
    """:func:`predicts`' rows for one ``span``."""
    rows: dict = {}
    for clip in clips:
        keep = _matched(clip)
        espeak = None if keep is None else np.add.reduceat(clip["espeak"], keep)
        segments = clip["segments"]
        reference = [r for r in clip["reference"] if r[0] and base_phone(r[0])]
        index = {k: j for j, k in enumerate(k for k, s in enumerate(segments) if s.phone != "SIL")}
        if espeak is None or len(reference) != len(index):
            continue
        for run in stretches(segments):
            edges = np.array([segments[k].start for k in run] + [segments[run[-1]].end])
            e = np.array([espeak[index[k]] for k in run])
            for i in range(1, len(run)):
                lo, hi = (0, len(run)) if span == 0 else (max(0, i - span), min(len(run), i + span))
                at = edges[lo] + (edges[hi] - edges[lo]) * e[lo:i].sum() / e[lo:hi].sum()
                rows.setdefault(clip["cell"], []).append((edges[i] - reference[index[run[i]]][1], at - edges[i]))
    for cell, r in sorted(rows.items()):
        err, fix = np.array(r).T
        own = err + fix                                                     # eSpeak's boundary minus the reference
        print(f"| {cell} | {span or 'stretch'} | {len(r)} | {1000 * np.abs(err).mean():.1f} ms | "
              f"{1000 * np.abs(own).mean():.1f} ms | {np.corrcoef(err, own)[0, 1]:.2f} | "
              f"{1000 * np.abs(fix).mean():.1f} ms | {np.corrcoef(-err, fix)[0, 1]:.3f} | "
              f"{np.dot(-err, fix) / np.dot(fix, fix):.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--sets", default="checked,espeak")
    parser.add_argument("--variants", default="none")
    parser.add_argument("--predicts", help="SPAN,... (0 = the whole stretch): the correlation table")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lang22"))
    args = parser.parse_args()
    sets = args.sets.split(",")
    path = args.cache / f"{args.split}-{'+'.join(sets)}.pkl"
    if path.exists():
        clips = pickle.loads(path.read_bytes())
    else:
        clips = collect(args.split, sets)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(clips))
    if args.predicts:
        predicts(clips, [int(s) for s in args.predicts.split(",")])
    print("| variant | cell | phones right | bilabials closed | silences closed | clips kept as main |")
    print("|---|---|---|---|---|---|")
    for variant in args.variants.split(","):
        tallies, kept = score(clips, variant)
        for cell, tally in sorted(tallies.items()):
            r = tally.row()
            print(f"| {variant} | {cell} | {round(r['phone_accuracy'] * r['phones'])} / {r['phones']} | "
                  f"{100 * r['bilabials_closed']:.1f} % | {100 * r['silences_closed']:.1f} % | {kept} |", flush=True)


if __name__ == "__main__":
    main()
