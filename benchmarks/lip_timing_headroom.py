"""Real speech in any language (issue 25): what better phone timing could buy, and three ways that did not.

Each measurement swaps one step of drive-audio's language-independent path for a variant while the benchmark of
``benchmarks/drive_audio_languages.py`` scores a split's real checked lines (``benchmarks/lip_labels.py``) and,
with ``--sets checked,espeak``, its eSpeak NG sentences (phones right: viseme class of the mouth at each reference
phone's centre, as that benchmark counts them).

``--scales SPEC,...``: with the transcript, the copies of the audio the aligner also aligns on
(:data:`talkavatar.audio.ctc_align.TIME_SCALES`) swapped: SPEC ``none`` (one alignment, as before the twentieth
session) or ``UP/DOWN+UP/DOWN...`` (e.g. ``17/20+23/20``, the chosen setting).

``--oracle WIN,...`` (a bound, not a candidate; checked lines only): with the transcript, each boundary between two
aligned phones that lies within WIN seconds of the label's start of the same phone is moved onto it (the label's
start less the aligner's 5 ms lead, :data:`talkavatar.audio.boundaries.LEAD_S`), one boundary after the other and
never past a neighbour's. What refining each aligned boundary locally, towards the acoustic landmarks the labels
sit at, could gain at best.

``--landmarks MODE:SIGMA:WIN:THRESHOLD,...``: with the transcript, each boundary between two aligned phones moved to
a band-level landmark (:func:`benchmarks.lip_labels.levels`' loudness and 0-400 / 400-1200 / 1200-3000 / 3000-8000 Hz
levels every 5 ms, their 30 ms change as :func:`benchmarks.lip_labels.landmarks` takes it) within WIN seconds,
weighted by a Gaussian of SIGMA seconds around the aligner's boundary: MODE ``any`` takes the landmarks
:func:`~benchmarks.lip_labels.landmarks` lists (any column, THRESHOLD dB) by their size; ``pair`` the signed change
the two phones' manners predict (:func:`pair_weights`: a closure's loudness fall before a stop, a nasal murmur's
400-3000 Hz fall, a vowel onset's rise, a fricative's noise rise), where it reaches THRESHOLD dB.

``--frames K0:K1:SWITCH,...``: without a transcript (``auto``), hama's frames decoded into lip classes directly
instead of spikes: per 20 ms frame each class's probability summed over its tokens and over frames t+K0 .. t+K1
(hama's spikes come after the sound), bilabials helped by the closure and dark-spectrum evidence as
:func:`talkavatar.audio.universal.greedy_phones` helps them, renormalised over the five classes; silence where the
audio is quiet (:func:`talkavatar.audio.boundaries.speech_frames`); a Viterbi over the six classes with a SWITCH
log-penalty per change; each run one segment named by its class's likeliest token.

The first rows are this checkout's own, unswapped. The twentieth session's figures for ``--oracle``,
``--landmarks`` and ``--frames`` were taken on the aligner before ``TIME_SCALES`` (main 4f55d6d; there ``--scales
none`` is the same aligner).

Usage:  python benchmarks/lip_timing_headroom.py --split dev --sets checked,espeak --scales none,9/10+11/10
        python benchmarks/lip_timing_headroom.py --split dev --oracle 0.02,0.04,0.06,0.1,0.3
        python benchmarks/lip_timing_headroom.py --split dev --sets checked,espeak --landmarks any:0.02:0.04:6
        python benchmarks/lip_timing_headroom.py --split dev --sets checked,espeak --frames 0:2:1,1:3:0
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.drive_audio_languages as languages  # noqa: E402
from benchmarks.lip_labels import landmarks, levels  # noqa: E402
from talkavatar.audio import ctc_align, phone_source, universal  # noqa: E402
from talkavatar.audio.boundaries import LEAD_S, UNIT_S  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.phones import PhoneSegment  # noqa: E402

_VOWEL = set("aeiouyɑɐɒæɛɜəɪɔøœʊʌɯɤɵʉɨɘɞɶ")


def manner(phone: str) -> str:
    """An IPA phone's manner: ``V`` vowel, ``N`` nasal, ``S`` stop, ``L`` liquid or glide, ``H`` h, ``F`` other."""
    base = base_phone(phone)
    if not base:
        return "?"
    first = base[0]
    return ("V" if first in _VOWEL else "N" if first in "mnɲŋɳ" else "S" if first in "pbtdkgcɟqʔ" else
            "L" if first in "lrɾɹʎjwʋɻɫʀʁ" else "H" if first == "h" else "F")


def pair_weights(before: str, after: str) -> np.ndarray | None:
    """``[5]`` weights on the 30 ms level changes (loudness, < 400, 400-1200, 1200-3000, 3000-8000 Hz) whose sum
    marks the boundary from a phone of manner ``before`` to one of ``after`` (:func:`manner`); None: no landmark."""
    sonorant = "VL"
    if before in sonorant + "N" and after == "S":
        return np.array([-1.0, 0, 0, 0, 0])                  # closure: loudness falls
    if before in sonorant and after == "F":
        return np.array([-0.5, 0, 0, 0, 0.5])                # loudness falls, noise rises
    if before in sonorant and after == "N":
        return np.array([0, 0, -0.5, -0.5, 0])               # murmur: 400-3000 Hz fall
    if before in "SFH" and after == "V":
        return np.array([1.0, 0, 0, 0, 0])                   # vowel onset
    if before == "N" and after == "V":
        return np.array([0, 0, 0.5, 0.5, 0])
    if before == "F" and after == "S":
        return np.array([0, 0, 0, 0, -1.0])
    if before == "S" and after == "F":
        return np.array([0, 0, 0, 0, 1.0])
    return None


def _moved(segments: list[PhoneSegment], k: int, at: float) -> None:
    """Move the boundary between ``segments[k - 1]`` and ``segments[k]`` to ``at`` (s), in place."""
    a, b = segments[k - 1], segments[k]
    segments[k - 1], segments[k] = PhoneSegment(a.phone, a.start, at), PhoneSegment(b.phone, at, b.end)


def _joins(segments: list[PhoneSegment]) -> list[int]:
    """Indices k whose segment starts where phone segment k - 1 ends (both phones, no silence between)."""
    return [k for k in range(1, len(segments)) if "SIL" not in (segments[k - 1].phone, segments[k].phone)
            and abs(segments[k - 1].end - segments[k].start) < 1e-9]


class Swap:
    """While active (``with``), ``module.name`` (and its other imports) is ``replacement``."""

    def __init__(self, replacement, name: str, *modules):
        self.replacement, self.name, self.modules = replacement, name, modules
        self.saved = [getattr(m, name) for m in modules]

    def __enter__(self):
        for m in self.modules:
            setattr(m, self.name, self.replacement)
        return self

    def __exit__(self, *exc):
        for m, saved in zip(self.modules, self.saved):
            setattr(m, self.name, saved)


def oracle_aligner(window: float, current: dict):
    """``align_ipa`` with boundaries within ``window`` s of ``current["labels"]``' starts moved onto them."""
    plain = ctc_align.align_ipa

    def align(pcm, words, scores=None, language=None):
        out = plain(pcm, words, scores, language)
        labels = current["labels"]
        phones = [k for k, s in enumerate(out or []) if s.phone != "SIL"]
        if out is None or len(phones) != len(labels):
            return out
        for j in range(1, len(phones)):
            k = phones[j]
            at = labels[j][1] - LEAD_S
            if k in _joins(out) and abs(at - out[k].start) <= window and \
                    out[k - 1].start + 0.01 < at < out[k].end - 0.01:
                _moved(out, k, at)
        return out
    return align


def landmark_aligner(mode: str, sigma: float, window: float, threshold: float):
    """``align_ipa`` with boundaries moved to band-level landmarks (module docstring)."""
    plain = ctc_align.align_ipa

    def align(pcm, words, scores=None, language=None):
        out = plain(pcm, words, scores, language)
        if out is None:
            return out
        times, db = levels(pcm)
        smooth = np.stack([np.convolve(db[:, c], np.ones(2) / 2, mode="same") for c in range(db.shape[1])], axis=1)
        change = np.zeros_like(smooth)
        change[3:-3] = smooth[6:] - smooth[:-6]
        listed = np.array([(t, abs(d)) for t, _, d in landmarks(pcm, threshold)]).reshape(-1, 2)
        for k in _joins(out):
            a, b = out[k - 1], out[k]
            t = b.start + LEAD_S
            lo, hi = max(a.start + LEAD_S + 0.015, t - window), min(b.end + LEAD_S - 0.015, t + window)
            if mode == "any":
                at, size = listed[:, 0], listed[:, 1]
            else:
                w = pair_weights(manner(a.phone), manner(b.phone))
                if w is None:
                    continue
                at, size = times, change @ w
                size = np.where(size >= threshold, size, 0.0)
            inside = (at > lo) & (at < hi)
            score = size[inside] * np.exp(-0.5 * ((at[inside] - t) / sigma) ** 2)
            if inside.any() and score.max() > 0:
                _moved(out, k, float(at[inside][score.argmax()]) - LEAD_S)
        return out
    return align


def frame_decoder(first: int, last: int, switch: float):
    """A ``greedy_phones`` replacement: lip classes decoded frame by frame (module docstring)."""
    def decode(scores, offset_s=0.0, closure=None, change=None, speech=None, dark=None, onset=None):
        groups = universal.class_tokens()
        p = np.exp(np.stack([logsumexp(scores[:, g], axis=1) for g in groups], axis=1))       # [F, 5]
        f = len(p)
        evidence = np.zeros_like(p)
        for d in range(first, last + 1):
            if d >= 0:
                evidence[:f - d] += p[d:]
            else:
                evidence[-d:] += p[:f + d]
        for cue, bias in ((closure, universal.BILABIAL_BIAS), (dark, universal.DARK_BIAS)):
            if cue is not None:
                evidence[:, 0] *= np.exp(bias * cue)
        evidence /= evidence.sum(axis=1, keepdims=True) + 1e-12
        loud = np.resize(speech, 2 * f).reshape(f, 2).any(axis=1) if speech is not None else np.ones(f, bool)
        emit = np.full((f, 6), -30.0)
        emit[loud, 1:] = np.log(evidence[loud] + 1e-3)
        emit[~loud, 0] = 0.0
        delta, back = emit[0].copy(), np.zeros((f, 6), np.int64)
        for t in range(1, f):
            jump = delta.max() - switch
            back[t] = np.where(delta >= jump, np.arange(6), delta.argmax())
            delta = np.maximum(delta, jump) + emit[t]
        state = np.empty(f, np.int64)
        state[-1] = delta.argmax()
        for t in range(f - 1, 0, -1):
            state[t - 1] = back[t, state[t]]
        names, out = universal.vocabulary(), []
        edges = np.flatnonzero(np.diff(state, prepend=-1, append=-1) != 0)
        for a, b in zip(edges[:-1], edges[1:]):
            if state[a] > 0:
                g = groups[state[a] - 1]
                token = names[g[scores[a:b][:, g].sum(axis=0).argmax()]]
                out.append(PhoneSegment(universal.HEARD_AS.get(token, token), offset_s + a * UNIT_S,
                                        offset_s + b * UNIT_S))
        return out
    return decode


def score(split: str, sets: list[str], system: str, current: dict) -> dict:
    """Phones right per cell (checked cs / nl, eSpeak pooled) for ``system`` under whatever is swapped in."""
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS

    tallies: dict = {}
    if "checked" in sets:
        for clip in json.loads(LABELS[split].read_text())["clips"]:
            current["labels"] = [p for p in clip["phones"] if p[0] and base_phone(p[0])]
            languages.run_clip(tallies, f"checked:{clip['language']}", clip["language"], ROOT / "sound" / clip["path"],
                               clip["text"], [tuple(p) for p in clip["phones"]], [system])
    if "espeak" in sets:
        with contextlib.redirect_stderr(io.StringIO()):
            languages.espeak_set(tallies, split, [system])
    rows = {f"{cell} {s}": t.row() for (cell, s), t in tallies.items()}
    rows.update(languages.pooled(rows))
    return {name.split(" ")[0]: r for name, r in rows.items()
            if name.startswith("checked:") or name.startswith("espeak:pooled")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--sets", default="checked")
    parser.add_argument("--scales", help="none or UP/DOWN+UP/DOWN..., ... (ctc_align.TIME_SCALES)")
    parser.add_argument("--oracle", help="WIN,... (s)")
    parser.add_argument("--landmarks", help="MODE:SIGMA:WIN:THRESHOLD,... (MODE any or pair)")
    parser.add_argument("--frames", help="K0:K1:SWITCH,...")
    args = parser.parse_args()
    sets, current = args.sets.split(","), {}
    runs = [("this checkout, transcript", "transcript", contextlib.nullcontext())]
    if args.frames:
        runs.append(("this checkout, auto", "auto", contextlib.nullcontext()))
    for spec in args.scales.split(",") if args.scales else []:
        scales = () if spec == "none" else tuple(tuple(map(int, f.split("/"))) for f in spec.split("+"))
        runs.append((f"scales {spec}", "transcript", Swap(scales, "TIME_SCALES", ctc_align)))
    for w in args.oracle.split(",") if args.oracle else []:
        runs.append((f"oracle {w}", "transcript", Swap(oracle_aligner(float(w), current), "align_ipa", ctc_align,
                                                      phone_source)))
    for spec in args.landmarks.split(",") if args.landmarks else []:
        mode, sigma, win, threshold = spec.split(":")
        runs.append((f"landmarks {spec}", "transcript",
                     Swap(landmark_aligner(mode, float(sigma), float(win), float(threshold)), "align_ipa",
                          ctc_align, phone_source)))
    for spec in args.frames.split(",") if args.frames else []:
        first, last, switch = spec.split(":")
        runs.append((f"frames {spec}", "auto", Swap(frame_decoder(int(first), int(last), float(switch)),
                                                    "greedy_phones", universal)))
    print("| variant | cell | phones right | bilabials closed | silences closed |")
    print("|---|---|---|---|---|")
    for name, system, swap in runs:
        with swap:
            rows = score(args.split, sets, system, current)
        for cell, r in rows.items():
            print(f"| {name} | {cell} | {round(r['phone_accuracy'] * r['phones'])} / {r['phones']} | "
                  f"{100 * r['bilabials_closed']:.1f} % | {100 * r['silences_closed']:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
