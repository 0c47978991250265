"""A second, independent phone recogniser beside hama (issue 25): does one that ships its weights in a PyPI package
help drive-audio's lips, without a transcript (fused with hama's posteriors or filling where hama hears nothing) or
with one (a second timing of the transcript's phones)?

The one found: ``snfa`` 0.3.0 (PyPI, ISC licence; numpy only), "a simple neural forced aligner", whose wheel holds
its weights, ``snfa/models/jp.npz`` (1.2 MB, float16; a 2-layer bidirectional GRU of 128 units a direction over 80
log-mel bands at 50 frames per second, trained on Japanese Common Voice 14.0; weights released into the public
domain). Its 38 outputs are a blank (``pad``), 36 Japanese phones and ``pau``; they are CTC-like (the blank holds
most frames between short phone spikes). Checked and not usable (``pip download --no-deps`` + ``unzip -l``):
``allosaurus`` 1.0.2 (GPL-3.0; fetches its model from GitHub releases at first use), ``allophant`` 1.0.0 (MIT;
only the PHOIBLE table in the wheel; weights on a model hub), ``bournemouth-forced-aligner`` 2.0.0 (GPL-3.0, ~1.2 GB
from a model hub), ``persephone`` 0.4.2 (a training toolkit, no weights), ``phonepiece`` 1.4.2 (tokenizer tables),
``letterwise-stt`` 0.6 (a word list), ``py-roller`` 0.10.3 (no weights); ``vosk``, ``sherpa-onnx`` and
``speechbrain`` download models; pocketsphinx's wheel holds only en-us.

Measures on the checked real lines of a split (``benchmarks/lip_labels.py``; dev unless told):
- ``--frames``: per reference phone, the lip class each model gives at the 20 ms frame of its centre (blank left
  out) and the confusion matrix; hama's classes as :func:`talkavatar.audio.universal.greedy_phones` sums them,
  snfa's Japanese phones mapped by :data:`JP_CLASS`;
- ``--fuse MODE:W[:B],...``: ``drive_audio_languages.py``'s table for ``--systems auto`` with snfa fused into
  recognition (``class``: W x snfa's class log-probability given speech added to hama's class scores; ``vowel``:
  the same among rounded / open / spread only; ``joint``: also hama's blank lowered by B x snfa's speech log-odds;
  ``fill``: frames hama leaves blank take snfa's class where snfa's speech log-odds exceed -B); ``none:0`` = main;
- ``--align``: start errors against the labels of hama's transcript alignment
  (:func:`talkavatar.audio.ctc_align.align_ipa`), of snfa's (the transcript's IPA mapped to its phones by
  :data:`JP_PHONE`, CTC Viterbi with its blank, a phone starting at its first frame), of pocketsphinx's en-us HMM
  (the model the English path already ships; the IPA mapped one to one to ARPAbet by :data:`ARPABET`, each word
  added to its dictionary under a made-up name, then its word + phone alignment) and of the means;
- ``--sphinx-mean N``: ``drive_audio_languages.py``'s ``transcript`` cells with pocketsphinx's timing counted N
  times among the timings :func:`~talkavatar.audio.boundaries.mean_boundaries` averages (0 = main).

Usage:  pip install snfa==0.3.0
        python benchmarks/second_recogniser.py --frames
        python benchmarks/second_recogniser.py --fuse none:0,class:0.5,class:1,vowel:0.5,joint:0.5:0.5,fill:1:0
        python benchmarks/second_recogniser.py --align
        python benchmarks/second_recogniser.py --sphinx-mean 0,1,2
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from talkavatar.audio import universal  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.visemes import CLASSES, phone_class  # noqa: E402

# snfa's Japanese phones -> lip classes (consonants not named here are spread); pad is blank, pau and cl silence.
# Japanese /u/ is unrounded [ɯ]: read as spread, the centre-frame classes rise (dev cs 135 -> 145, nl 90 -> 100 of
# 222 / 205) and the fused variants stay at main's level (benchmarks/RESULTS.md, twenty-first session).
JP_CLASS = {"a": "open", "e": "open", "i": "spread", "o": "rounded", "u": "rounded", "w": "rounded",
            **dict.fromkeys(("b", "by", "m", "my", "p", "py"), "bilabial"), "f": "labiodental", "v": "labiodental",
            "pau": "silence", "cl": "silence"}
# IPA base symbols -> the nearest snfa phone (affricates whole first, as talkavatar.audio.ipa does).
JP_PHONE = {**dict.fromkeys("aɑæɐäɶ", "a"), **dict.fromkeys("eɛəʌɜɘɤ", "e"), **dict.fromkeys("iɪyʏɨɯᵻ", "i"),
            **dict.fromkeys("uʊʉ", "u"), **dict.fromkeys("oɔɒøœɵɞ", "o"), **{c: c for c in "pbmfv"},
            "ɱ": "m", "ɸ": "f", "β": "b", "ʋ": "w", "w": "w", "ɥ": "w", "t": "t", "d": "d", "ʈ": "t", "ɖ": "d",
            "n": "n", "ɳ": "n", "ŋ": "n", "ɴ": "n", "ɲ": "ny", "k": "k", "ɡ": "g", "q": "k", "c": "ky", "ɟ": "gy",
            "x": "h", "χ": "h", "ɣ": "g", "h": "h", "ɦ": "h", "ħ": "h", "ç": "hy", "ʝ": "y", "ʔ": "cl", "s": "s",
            "z": "z", "θ": "s", "ð": "z", "ʃ": "sh", "ʒ": "j", "ɕ": "sh", "ʑ": "j", "ʂ": "sh", "ʐ": "j",
            **dict.fromkeys("rɾɹʁʀɽɻlɫɭ", "r"), "ʎ": "ry", "ɬ": "s", "j": "y", "ɰ": "w", "ɧ": "sh",
            "tʃ": "ch", "dʒ": "j", "tɕ": "ch", "dʑ": "j", "tʂ": "ch", "dʐ": "j", "ts": "ts", "dz": "z"}
# IPA base symbols -> the nearest ARPAbet phone of pocketsphinx's en-us model (one each, so positions match).
ARPABET = {**dict.fromkeys("aäɐɑɒɶ", "AA"), "æ": "AE", "e": "EY", "ɛ": "EH", **dict.fromkeys("əʌɜɘɤ", "AH"),
           **dict.fromkeys("iy", "IY"), **dict.fromkeys("ɪʏɨ", "IH"), **dict.fromkeys("uɯʉ", "UW"),
           **dict.fromkeys("ʊɵ", "UH"), "o": "OW", "ɔ": "AO", **dict.fromkeys("øœɞ", "ER"),
           **dict.fromkeys("pbmfvw", None), "ɱ": "M", "ɸ": "F", "β": "V", "ʋ": "V", "ɥ": "W",
           **dict.fromkeys("tʈʔ", "T"), **dict.fromkeys("dɖ", "D"), **dict.fromkeys("nɳɲ", "N"),
           **dict.fromkeys("ŋɴ", "NG"), **dict.fromkeys("kqc", "K"), **dict.fromkeys("ɡɟɣ", "G"),
           **dict.fromkeys("xχhɦħç", "HH"), "ʝ": "Y", "j": "Y", "s": "S", "z": "Z", "θ": "TH", "ð": "DH",
           **dict.fromkeys("ʃɕʂɧ", "SH"), **dict.fromkeys("ʒʑʐ", "ZH"), **dict.fromkeys("rɾɹʁʀɽɻ", "R"),
           **dict.fromkeys("lɫɭʎɬ", "L"), "ɰ": "W",
           **dict.fromkeys(("tʃ", "tɕ", "tʂ"), "CH"), **dict.fromkeys(("dʒ", "dʑ", "dʐ"), "JH"), "ts": "S",
           "dz": "Z", **dict.fromkeys(("aɪ", "aj"), "AY"), **dict.fromkeys(("aʊ", "aw", "ʌʊ"), "AW"),
           **dict.fromkeys(("ɔɪ", "ɔj", "œy"), "OY"), **dict.fromkeys(("eɪ", "ej", "ei", "ɛɪ", "ɛi"), "EY"),
           **dict.fromkeys(("oʊ", "əʊ", "ou"), "OW")}
FRAME_S = 0.02


class Snfa:
    """snfa's model on int16 16 kHz audio: ``log_probs(pcm) [F, 38]`` with frame ``i`` centred at ``i * 20 ms``."""

    def __init__(self):
        import snfa

        self.model = snfa.Aligner()
        self.phones = self.model.phone_set

    def log_probs(self, pcm: np.ndarray) -> np.ndarray:
        from snfa.stft import mel_spectrogram

        m = self.model
        half = m.win_size // 2                    # snfa's frames are uncentred windows: pad so frame i sits at i*hop
        wav = np.concatenate([np.zeros(half, np.float32), pcm.astype(np.float32) / 32768.0,
                              np.zeros(m.win_size, np.float32)])
        mel = mel_spectrogram(wav, sr=m.sr, n_fft=m.n_fft, hop_length=m.hop_size, n_mels=m.n_mels, p=2, log=True)
        logits = m.forward(mel.T)
        return (logits - logsumexp(logits, axis=1, keepdims=True)).astype(np.float32)

    def classes(self, log_probs: np.ndarray) -> np.ndarray:
        """``[F, 7]`` log-probabilities of blank, then each of :data:`CLASSES`."""
        names = ("blank",) + CLASSES
        out = np.full((len(log_probs), len(names)), -np.inf, np.float32)
        for j, phone in enumerate(self.phones):
            k = names.index("blank" if phone == "pad" else JP_CLASS.get(phone, "spread"))
            out[:, k] = np.logaddexp(out[:, k], log_probs[:, j])
        return out

    def starts(self, pcm: np.ndarray, phones: list[str]) -> list[float | None]:
        """Start time of each IPA phone of ``phones`` in snfa's CTC alignment (None: no snfa phone for it)."""
        from talkavatar.audio.ctc_align import ctc_viterbi

        mapped = [_jp_phone(p) for p in phones]
        keep = [k for k, m in enumerate(mapped) if m]
        tokens = np.array([self.phones.index(mapped[k]) for k in keep], np.int64)
        path = ctc_viterbi(self.log_probs(pcm), tokens, self.phones.index("pad"))
        out: list[float | None] = [None] * len(phones)
        if path is None:
            return out
        first: dict[int, int] = {}
        for t, j in enumerate(path):
            if j >= 0:
                first.setdefault(int(j), t)
        for j, k in enumerate(keep):
            out[k] = first[j] * FRAME_S - FRAME_S / 2 if j in first else None
        return out


def _jp_phone(phone: str) -> str | None:
    return _nearest(phone, JP_PHONE)


def _nearest(phone: str, table: dict[str, str | None]) -> str | None:
    """``phone``'s entry in ``table`` (two-symbol entries first, else its first symbol that has one; an entry None
    means the symbol itself, upper-cased for ARPAbet)."""
    base = base_phone(phone)
    key = base[:2] if len(base) > 1 and base[:2] in table else next((c for c in base if c in table), None)
    if key is None:
        return None
    return table[key] or (key.upper() if table is ARPABET else key)


def sphinx_align(pcm: np.ndarray, words: list[list[str]]):
    """Phone segments (IPA names, no pauses) of the IPA ``words`` in int16 ``pcm`` from pocketsphinx's en-us
    forced alignment, or None where it fails or loses a phone."""
    from talkavatar.audio.phones import PhoneAligner, PhoneSegment

    aligner, names, phones = PhoneAligner(), [], []
    for k, word in enumerate(words):
        pairs = [(p, _nearest(p, ARPABET)) for p in word]
        pairs = [(p, a) for p, a in pairs if a]
        if pairs:
            names.append(f"w{k}" + "".join(a.lower() for _, a in pairs))
            aligner.decoder.add_word(names[-1], " ".join(a for _, a in pairs), True)
            phones += [p for p, _ in pairs]
    segments = aligner.align(pcm, names)
    timed = [s for s in segments or [] if s.phone != "SIL" and not s.phone.startswith("+")]
    if len(timed) != len(phones):
        return None
    return [PhoneSegment(p, s.start, s.end) for p, s in zip(phones, timed)]


def checked_clips(split: str):
    """``(language, pcm, text, phones)`` of each checked real line of ``split``."""
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS
    from talkavatar.audio.load import load_pcm

    for clip in json.loads(LABELS[split].read_text())["clips"]:
        yield clip["language"], load_pcm(ROOT / "sound" / clip["path"]), clip["text"], clip["phones"]


def frames(split: str) -> None:
    snfa, hits, confusion = Snfa(), Counter(), Counter()
    for language, pcm, _, phones in checked_clips(split):
        hama = universal.log_probs(pcm)
        mass = np.stack([logsumexp(hama[:, g], axis=1) for g in universal.class_tokens()], axis=1)
        theirs = snfa.classes(snfa.log_probs(pcm))[:, 2:]
        for phone, start, end in phones:
            want = phone_class(phone) if phone else "silence"
            if want == "silence":
                continue
            t = int((start + end) / 2 / FRAME_S)
            for name, scores in (("hama", mass), ("snfa", theirs)):
                got = CLASSES[1 + int(scores[min(t, len(scores) - 1)].argmax())]
                hits[(language, name)] += got == want
                confusion[(name, want, got)] += 1
            hits[(language, "phones")] += 1
    for language in sorted({k[0] for k in hits}):
        n = hits[(language, "phones")]
        print(f"{language}: class at the centre frame, hama {hits[(language, 'hama')]} / {n}, "
              f"snfa {hits[(language, 'snfa')]} / {n}")
    for name in ("hama", "snfa"):
        print(f"\n{name} (rows: reference class; columns: class given)")
        print("| | " + " | ".join(CLASSES[1:]) + " |\n|---|" + "---|" * (len(CLASSES) - 1))
        for want in CLASSES[1:]:
            print(f"| {want} | " + " | ".join(str(confusion[(name, want, got)]) for got in CLASSES[1:]) + " |")


def fused_decode(snfa: Snfa, mode: str, weight: float, blank_weight: float):
    """A ``decode_block`` for :class:`~talkavatar.audio.phone_loop.PhoneRecognizer`: hama's recognition
    (:func:`talkavatar.audio.universal.decode_block`) with snfa fused in as ``mode`` says (module docstring)."""
    from talkavatar.audio.boundaries import ONSET_BELOW_DB, log_mel, place_segments, spectral_change, speech_frames

    def decode(pcm: np.ndarray, offset_s: float):
        mel, speech = log_mel(pcm), speech_frames(pcm)
        scores = universal.log_probs(pcm)
        groups = universal.class_tokens()
        mass = np.stack([logsumexp(scores[:, g], axis=1) for g in groups], axis=1)          # [F, 5]
        theirs = snfa.classes(snfa.log_probs(pcm))
        theirs = theirs[np.minimum(np.arange(len(mass)), len(theirs) - 1)]                  # [F, 7]
        given = theirs[:, 2:] - logsumexp(theirs[:, 2:], axis=1, keepdims=True)           # class given speech
        odds = logsumexp(theirs[:, 2:], axis=1) - logsumexp(theirs[:, :2], axis=1)          # speech log-odds
        blank = scores[:, universal.blank_id()].copy()
        if mode in ("class", "joint"):
            mass += weight * given
        if mode == "vowel":
            mass += weight * np.concatenate([np.repeat(given[:, 2:].max(axis=1, keepdims=True), 2, 1),
                                             given[:, 2:]], axis=1)
        if mode == "joint":
            blank -= blank_weight * odds
        bilabial = CLASSES.index("bilabial") - 1
        mass[:, bilabial] += (universal.BILABIAL_BIAS * universal.closure_evidence(pcm) +
                              universal.DARK_BIAS * universal.dark_evidence(mel, speech))
        runs = np.where(mass.max(axis=1) > blank + universal.BLANK_BIAS, mass.argmax(axis=1), -1)
        if mode == "fill":
            runs = np.where((runs < 0) & (odds > -blank_weight), given.argmax(axis=1), runs)
        names, units, labels = universal.vocabulary(), np.full(len(runs), -1), []
        for t in np.flatnonzero(runs >= 0):
            if t == 0 or runs[t] != runs[t - 1]:
                g = groups[runs[t]]
                token = names[g[scores[t, g].argmax()]]
                labels.append(universal.HEARD_AS.get(token, token))
            units[t] = len(labels) - 1
        return place_segments(units, labels, spectral_change(mel), offset_s, speech,
                              onset=speech_frames(pcm, ONSET_BELOW_DB))

    return decode


def fuse(split: str, variants: list[str], sets: str) -> None:
    from benchmarks import drive_audio_languages as bench
    from talkavatar.audio import phone_source

    snfa, main_decode = Snfa(), phone_source.decode_block
    print("| variant | set | viseme classes at phones | bilabials closed | silences closed |\n|---|---|---|---|---|")
    for variant in variants:
        mode, weight, *rest = variant.split(":")
        phone_source.decode_block = (main_decode if mode == "none" else
                                     fused_decode(snfa, mode, float(weight), float(rest[0]) if rest else 0.0))
        tallies: dict = {}
        if "checked" in sets:
            bench.checked_set(tallies, split, ["auto"])
        if "espeak" in sets:
            bench.espeak_set(tallies, split, ["auto"])
        rows = {f"{lang} {system}": t.row() for (lang, system), t in tallies.items()}
        rows.update(bench.pooled(rows))
        for name, r in rows.items():
            if name.startswith(("checked", "espeak:pooled")):
                print(f"| {variant} | {name.split(' ')[0]} | {100 * r['phone_accuracy']:.1f} % "
                      f"({round(r['phone_accuracy'] * r['phones'])} / {r['phones']}) | "
                      f"{100 * r['bilabials_closed']:.1f} % | {100 * r['silences_closed']:.1f} % |", flush=True)
    phone_source.decode_block = main_decode


def align(split: str) -> None:
    from talkavatar.audio.ctc_align import align_ipa
    from talkavatar.audio.g2p import ipa_words

    snfa, errors, failed = Snfa(), {}, Counter()
    for language, pcm, text, phones in checked_clips(split):
        labelled = [(p, s) for p, s, _ in phones if p]
        words = ipa_words(text, language)
        hama = [s.start for s in align_ipa(pcm, words, None, language) if s.phone != "SIL"]
        theirs = snfa.starts(pcm, [p for p, _ in labelled])
        sphinx = sphinx_align(pcm, words)
        failed[language] += sphinx is None
        for k, ((_, start), h, q) in enumerate(zip(labelled, hama, theirs)):
            if q is not None:
                errors.setdefault((language, "snfa"), []).append((h - start, q - start))
            if sphinx is not None:
                errors.setdefault((language, "pocketsphinx"), []).append((h - start, sphinx[k].start - start))
    print(f"pocketsphinx failed on {dict(failed)} lines (left out of its rows)\n")
    print("| language | timing | phones | median error | mean abs error | off by > 30 ms | off by > 50 ms |")
    print("|---|---|---|---|---|---|---|")
    for (language, other), pairs in errors.items():
        e = np.array(pairs)
        for name, x in (("hama", e[:, 0]), (other, e[:, 1]), (f"mean of hama and {other}", e.mean(axis=1))):
            print(f"| {language} | {name} | {len(x)} | {1000 * np.median(x):+.1f} ms | {1000 * np.abs(x).mean():.1f} ms"
                  f" | {100 * (np.abs(x) > 0.03).mean():.1f} % | {100 * (np.abs(x) > 0.05).mean():.1f} % |")


def sphinx_mean(split: str, counts: list[int]) -> None:
    from benchmarks import drive_audio_languages as bench
    from talkavatar.audio import ctc_align, phone_source

    main_align, main_mean = phone_source.align_ipa, ctc_align.mean_boundaries

    def with_sphinx(count: int):
        def align(pcm, words, scores=None, language=None):
            sphinx = sphinx_align(pcm, words) if count else None
            ctc_align.mean_boundaries = lambda segments, others: main_mean(segments, others + [sphinx] * count
                                                                           if sphinx else others)
            try:
                return main_align(pcm, words, scores, language)
            finally:
                ctc_align.mean_boundaries = main_mean
        return align

    print("| pocketsphinx timings in the mean | set | viseme classes at phones | bilabials closed |\n|---|---|---|---|")
    for count in counts:
        phone_source.align_ipa = with_sphinx(count)
        tallies: dict = {}
        bench.checked_set(tallies, split, ["transcript"])
        for (name, _), t in tallies.items():
            r = t.row()
            print(f"| {count} | {name} | {100 * r['phone_accuracy']:.1f} % ({round(r['phone_accuracy'] * r['phones'])}"
                  f" / {r['phones']}) | {100 * r['bilabials_closed']:.1f} % |", flush=True)
    phone_source.align_ipa = main_align


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--frames", action="store_true")
    parser.add_argument("--fuse", help="comma-separated MODE:W[:B] variants (module docstring)")
    parser.add_argument("--sets", default="checked", help="--fuse: checked and/or espeak")
    parser.add_argument("--align", action="store_true")
    parser.add_argument("--sphinx-mean", help="comma-separated counts of pocketsphinx's timing in the mean")
    args = parser.parse_args()
    if args.frames:
        frames(args.split)
    if args.fuse:
        fuse(args.split, args.fuse.split(","), args.sets)
    if args.align:
        align(args.split)
    if args.sphinx_mean:
        sphinx_mean(args.split, [int(n) for n in args.sphinx_mean.split(",")])


if __name__ == "__main__":
    main()
