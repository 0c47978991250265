"""Transcript alignment in any language (issue 25): why phones land early, and whether a duration prior helps.

Two measurements on a split's real checked lines (``benchmarks/lip_labels.py``) and eSpeak NG sentences, with the
transcript (``drive-audio --language CODE --transcript TEXT``):

``--misses``: per reference phone of the checked lines, whether the mouth's viseme class at its centre is right
(as ``benchmarks/drive_audio_languages.py`` scores it), whether the exact-label ceiling gets it, the aligned
segment of the same phone against the label, and the *spike lag* of its recogniser token: the first frame the CTC
Viterbi path gives the phone minus the label's start (hama's spikes come a median ~50 ms into a phone, and the
boundary rule of :mod:`talkavatar.audio.boundaries` assumes so). The summary splits the phones into hits, early
misses and late misses (aligned segment before / after the label; only those the ceiling gets right) with their
lag, own-token probability and how many the aligner took as unheard (:data:`talkavatar.audio.ctc_align.HEARD_P`).

``--priors MODE:WEIGHT,...``: the alignment with a duration prior in the Viterbi (:func:`duration_viterbi`, an
explicit-duration CTC path: token k's segment, from its first frame to the next token's, of ``d`` frames costs
``WEIGHT * max(0, ln(expected_k / d))**2``; shorter than expected is penalised, longer is free, so pauses cost
nothing) instead of :func:`talkavatar.audio.ctc_align.ctc_viterbi`. ``expected_k`` (frames) is the utterance's
rate (the plain path's first to last token frame, shared out) times a per-phone share: ``uniform`` (every phone
alike), ``weights`` (long vowels and diphthongs 2, other vowels 1.5, consonants 1) or ``espeak`` (eSpeak NG's own
duration of each phone when it reads the transcript, :func:`benchmarks.espeak.synthesize`, as TTS-based aligners
such as aeneas use it; benchmark only: the runtime reads eSpeak NG through its command line, which gives no
durations); ``minN`` is a minimum instead: N frames a phone whatever the rate (with a large WEIGHT, a phone's
segment cannot be shorter). A phone with several tokens shares its duration among them. ``WEIGHT`` 0 is main's
aligner (the same path: checked here on every clip). Reports phones right, bilabials closed, silences closed per
cell, and the mean absolute error of the aligned phone starts against the reference (real lines: labels; eSpeak: its
exact events, phones matched by name).

Usage:  python benchmarks/transcript_duration_prior.py --split dev --misses
        python benchmarks/transcript_duration_prior.py --split dev --sets checked,espeak \\
            --priors uniform:0,uniform:0.5,uniform:1,espeak:1
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.drive_audio_languages as languages  # noqa: E402
from talkavatar.audio import ctc_align  # noqa: E402
from talkavatar.audio.g2p import ipa_words  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.universal import blank_id  # noqa: E402

_VOWEL = set("aeiouyɑɐɒæɛɜəɪɔøœʊʌɯɤɵʉɨ")
_NEG = -1e30


def duration_viterbi(scores: np.ndarray, tokens: np.ndarray, blank: int, expected: np.ndarray,
                     weight: float) -> np.ndarray | None:
    """Best CTC path of ``tokens [L]`` through ``scores [F, V]`` with a duration prior: token k's segment (its run
    and the blanks after it, up to the next token's first frame) of ``d`` frames costs
    ``weight * max(0, ln(expected[k] / d))**2``. ``[F]`` token position per frame, ``-1`` blank; None when the
    audio has fewer frames than tokens. A repeated token needs no blank between (a segmentation, not a CTC
    decoding). Time: ``L * max(expected)`` vector steps over the frames; memory ``[L, F]`` int32."""
    f, n = len(scores), len(tokens)
    if f < n:
        return None
    free = int(np.ceil(expected.max())) + 1                 # segments this long or longer cost nothing
    at = np.arange(f + 1)
    cum_blank = np.concatenate([[0.0], np.cumsum(scores[:, blank], dtype=np.float64)])
    entry = np.concatenate([cum_blank[:f], [_NEG]])         # best score of frames < a, token k entering at a
    back = np.zeros((n, f + 1), np.int32)                   # token k's entry frame -> token k - 1's
    for k in range(n):
        cum_token = np.concatenate([[0.0], np.cumsum(scores[:, tokens[k]], dtype=np.float64)])
        gain = cum_token - cum_blank                        # a run of token k ending at frame j: gain[j] - gain[a]
        base = entry - cum_token
        if k == n - 1:
            break
        best, source = np.full(f + 1, _NEG), np.zeros(f + 1, np.int64)
        run = np.full(f + 1, _NEG)                          # run[a]: max gain[a + 1 .. a + d]
        for d in range(1, free):
            run[:f + 1 - d] = np.maximum(run[:f + 1 - d], gain[d:])
            cand = np.full(f + 1, _NEG)
            cand[d:] = base[:f + 1 - d] + run[:f + 1 - d] + cum_blank[d:] - weight * np.log(expected[k] / d) ** 2 \
                * (d < expected[k])
            better = cand > best
            best[better], source[better] = cand[better], (at - d)[better]
        # d >= free: entries a <= b - free, the run ending anywhere in (a, b]
        lead = np.maximum.accumulate(base)
        lead_at = np.maximum.accumulate(np.where(base >= lead, at, 0))
        ends_at_b = lead[:f + 1 - free] + gain[free:]
        starts_at_a = base[:f + 1 - free] + run[:f + 1 - free]
        tail = np.full(f + 1, _NEG)
        tail_from = np.zeros(f + 1, np.int64)
        tail[free:] = np.maximum(ends_at_b, starts_at_a)
        tail_from[free:] = np.where(ends_at_b >= starts_at_a, lead_at[:f + 1 - free], at[:f + 1 - free])
        held = np.maximum.accumulate(tail)
        held_at = np.maximum.accumulate(np.where(tail >= held, at, 0))
        long_ = held + cum_blank
        better = long_ > best
        best[better], source[better] = long_[better], tail_from[held_at][better]
        best[f] = _NEG
        back[k + 1] = source
        entry = best
    rest = np.maximum.accumulate(gain[::-1])[::-1]          # rest[j]: max gain[j ..]
    short = np.maximum(expected[-1] / np.maximum(f - at[:f], 1), 1.0)
    final = base[:f] + rest[1:] + cum_blank[f] - weight * np.log(short) ** 2
    starts = [int(final.argmax())]
    for k in range(n - 1, 0, -1):
        starts.append(int(back[k][starts[-1]]))
    starts = starts[::-1] + [f]
    position = np.full(f, -1, np.int64)
    for k in range(n):
        a, b = starts[k], starts[k + 1]             # token k's run: the best split of its segment
        run_gain = np.cumsum(scores[a:b, tokens[k]] - scores[a:b, blank], dtype=np.float64)
        position[a:a + int(run_gain.argmax()) + 1] = k
    return position


def _espeak_durations(text: str, language: str, phones: list[str]) -> np.ndarray:
    """``[len(phones)]`` seconds eSpeak NG gives each transcript phone when it reads ``text`` (phones matched by
    name; unmatched ones the median)."""
    from benchmarks.espeak import synthesize

    spoken = [(n, s, e) for n, s, e in synthesize(text, language, ipa=True)[2] if base_phone(n)]
    match = difflib.SequenceMatcher(a=[base_phone(p) for p in phones], b=[base_phone(n) for n, _, _ in spoken],
                                    autojunk=False)
    out = np.full(len(phones), np.nan)
    for i, j, size in match.get_matching_blocks():
        out[i:i + size] = [e - s for _, s, e in spoken[j:j + size]]
    return np.where(np.isnan(out), np.nanmedian(out), out)


def _share(mode: str, phones: list[str], text: str, language: str) -> np.ndarray:
    """``[len(phones)]`` each phone's relative duration under ``mode``."""
    if mode == "uniform":
        return np.ones(len(phones))
    if mode == "espeak":
        return _espeak_durations(text, language, phones)
    vowel = np.array([bool(_VOWEL & set(base_phone(p))) for p in phones])
    long_ = np.array([len(base_phone(p)) > 1 or "ː" in p for p in phones])
    return np.where(vowel & long_, 2.0, np.where(vowel, 1.5, 1.0))


class PriorAligner:
    """While active (``with``), :func:`talkavatar.audio.ctc_align.ctc_viterbi` is :func:`duration_viterbi` with
    the ``mode`` / ``weight`` prior for the clip named by :meth:`clip`; weight 0 also checks that the plain
    path comes back."""

    def __init__(self, mode: str, weight: float):
        self.mode, self.weight, self.text, self.language = mode, weight, "", ""
        self.plain = ctc_align.ctc_viterbi

    def clip(self, text: str, language: str) -> None:
        self.text, self.language = text, language

    def viterbi(self, scores: np.ndarray, tokens: np.ndarray, blank: int) -> np.ndarray | None:
        plain = self.plain(scores, tokens, blank)
        if plain is None:
            return None
        phones, spelled, owner = ctc_align.transcript_tokens(ipa_words(self.text, self.language), self.language)
        if not np.array_equal(spelled, tokens):
            raise RuntimeError(f"tokens of {self.text!r} do not match the aligner's")
        voiced = np.flatnonzero(plain >= 0)
        span = voiced[-1] + 1 - voiced[0]
        if self.mode.startswith("min"):                      # a minimum: N frames a phone, whatever the rate
            per_phone = np.full(len(phones), float(self.mode[3:]))
        else:
            share = _share(self.mode, phones, self.text, self.language)
            per_phone = span * share / share.sum()
        expected = per_phone[owner] / np.bincount(owner, minlength=len(phones))[owner]
        position = duration_viterbi(scores, tokens, blank, expected, self.weight)
        if self.weight == 0 and ctc_align.path_log_likelihood(scores, tokens, position, blank) < \
                ctc_align.path_log_likelihood(scores, tokens, plain, blank) - 1e-3:
            raise RuntimeError("weight 0 did not find the plain path's score")
        return position

    def __enter__(self):
        ctc_align.ctc_viterbi = self.viterbi
        return self

    def __exit__(self, *exc):
        ctc_align.ctc_viterbi = self.plain


def _starts_error(result, reference: list) -> list[float]:
    """Aligned phone starts minus the reference's, phones matched by name."""
    got = [s for s in result.phones if s.phone != "SIL"]
    ref = [r for r in reference if r[0] and base_phone(r[0])]
    match = difflib.SequenceMatcher(a=[base_phone(s.phone) for s in got], b=[base_phone(r[0]) for r in ref],
                                    autojunk=False)
    return [got[i + q].start - ref[j + q][1] for i, j, n in match.get_matching_blocks() for q in range(n)]


def run_priors(split: str, sets: list[str], priors: list[tuple[str, float]]) -> None:
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS
    from talkavatar.audio.drive import drive_audio

    clips = []
    if "checked" in sets:
        clips += [(f"checked:{c['language']}", c["language"], ROOT / "sound" / c["path"], c["text"],
                   [tuple(p) for p in c["phones"]]) for c in json.loads(LABELS[split].read_text())["clips"]]
    print("| prior | cell | phones right | bilabials closed | silences closed | start error, mean abs |")
    print("|---|---|---|---|---|---|")
    for mode, weight in priors:
        tallies, errors = {}, {}
        with PriorAligner(mode, weight) as aligner:
            espeak = (("espeak:pooled", lang, wav, text, ref)
                      for lang, wav, text, ref in languages.espeak_clips(split) if lang != "en-us") \
                if "espeak" in sets else ()
            for cell, language, wav, text, reference in itertools.chain(clips, espeak):   # wavs: one at a time
                aligner.clip(text, language)
                result = drive_audio(wav, transcript=text, language=language, fps=languages.FPS, seed=0)
                tallies.setdefault(cell, languages.Tally()).add(result, reference)
                errors.setdefault(cell, []).extend(_starts_error(result, reference))
        for cell, tally in tallies.items():
            r = tally.row()
            print(f"| {mode} {weight:g} | {cell} | {round(r['phone_accuracy'] * r['phones'])} / {r['phones']} | "
                  f"{100 * r['bilabials_closed']:.1f} % | {100 * r['silences_closed']:.1f} % | "
                  f"{1000 * np.abs(errors[cell]).mean():.1f} ms ({len(errors[cell])}) |", flush=True)


def run_misses(split: str) -> None:
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS
    from talkavatar.audio.drive import drive_audio
    from talkavatar.audio.load import load_pcm
    from talkavatar.audio.universal import log_probs
    from talkavatar.audio.visemes import classify_mouth, phone_class

    rows = {}
    for clip in json.loads(LABELS[split].read_text())["clips"]:
        language, wav = clip["language"], ROOT / "sound" / clip["path"]
        labels = [p for p in clip["phones"] if p[0] and base_phone(p[0])]
        result = drive_audio(wav, transcript=clip["text"], language=language, fps=languages.FPS, seed=0)
        exact = languages.reference_mouth(wav, [tuple(p) for p in clip["phones"]], gaps=True)
        got, ceiling = classify_mouth(result.motion.arkit_weights), classify_mouth(exact.motion.arkit_weights)
        aligned = [s for s in result.phones if s.phone != "SIL"]
        phones, tokens, owner = ctc_align.transcript_tokens(ipa_words(clip["text"], language), language)
        scores = ctc_align.alternative_scores(log_probs(load_pcm(wav)), language)
        position = ctc_align.ctc_viterbi(scores, tokens, blank_id())
        heard = ctc_align.heard_phones(scores, tokens, owner, position, len(phones))
        if not (len(labels) == len(aligned) == len(phones)):
            print(f"skipped (phone counts differ): {clip['text']}", file=sys.stderr)
            continue
        for k, (name, start, end) in enumerate(labels):
            want = phone_class(name)
            if want == "silence":
                continue
            frame = min(int(round((start + end) / 2 * languages.FPS)), len(got) - 1)
            mine = np.flatnonzero(np.isin(position, np.flatnonzero(owner == k)))
            seg = aligned[k]
            kind = "hit" if got[frame] == want else "miss, ceiling misses too" if ceiling[frame] != want else \
                "early miss" if seg.start + seg.end < start + end else "late miss"
            rows.setdefault((language, kind), []).append(
                (mine[0] * 0.02 - start, float(np.exp(scores[mine, tokens[position[mine]]]).max()), heard[k]))
    print("| language | phones | count | spike lag median (IQR) | own-token p median | unheard |")
    print("|---|---|---|---|---|---|")
    for (language, kind), r in sorted(rows.items()):
        lag, p, heard = (np.array(x) for x in zip(*r))
        q1, q2, q3 = 1000 * np.percentile(lag, [25, 50, 75])
        print(f"| {language} | {kind} | {len(r)} | {q2:+.0f} ms ({q1:+.0f} .. {q3:+.0f}) | {np.median(p):.3f} | "
              f"{int((~heard).sum())} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--sets", default="checked,espeak")
    parser.add_argument("--priors", help="MODE:WEIGHT,... (MODE uniform, weights, espeak or minN)")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    if args.misses:
        run_misses(args.split)
    if args.priors:
        priors = [(m, float(w)) for m, w in (p.split(":") for p in args.priors.split(","))]
        run_priors(args.split, args.sets.split(","), priors)


if __name__ == "__main__":
    main()
