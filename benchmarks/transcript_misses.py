"""Where drive-audio's misses with a transcript come from on the checked real lines (issue 25): the transcript's
phones (G2P), the alignment, or the mouth model.

Per checked line of the split and language:
- G2P: eSpeak NG's phones for the line (:func:`talkavatar.audio.g2p.ipa_words`, what the aligner aligns) against the
  stored label phones (``benchmarks/lip_labels.py``); a line whose sequences differ is listed;
- per reference phone scored by the headline (``drive_audio_languages.py``: the 30 fps frame nearest its centre),
  a miss with the transcript falls in one cause: **exact misses too** (the reference phones themselves through the
  mouth model miss it: the mouth model or a phone too short for the frame), **right phone, wrong mouth** (the
  aligned segment of this phone covers the scored frame, yet the mouth shows another class), **same-class
  neighbour there** (another aligned phone of the wanted class covers the frame), **another phone there, early**
  (the aligned phone covering the frame comes after this one in the transcript: the alignment runs early) or
  **late**; aligned and label phones are matched by position (same sequence, as the G2P check shows);
- misses by phone group: schwa, r, diphthongs (two vowel symbols), and the other phones by lip class.

Usage:  python benchmarks/transcript_misses.py --split dev --language nl [--list]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drive_audio_languages import FPS, reference_mouth  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.visemes import classify_mouth, phone_class  # noqa: E402

VOWELS = set("aɑæɐäɶeɛəʌɜɘɤiɪyʏɨɯuʊʉoɔɒøœɵɞ")


def group(phone: str) -> str:
    base = base_phone(phone)
    if base == "ə":
        return "schwa"
    if base == "r":
        return "r"
    if len(base) > 1 and base[0] in VOWELS and base[1] in VOWELS:
        return "diphthong"
    return phone_class(phone)


def cause(k: int, frame_s: float, want: str, exact: str, aligned: list) -> str:
    """The cause of a miss of label phone ``k`` (class ``want``; ``exact``: the class the exact phones give) scored
    at ``frame_s``, from the ``aligned`` phone segments (no pauses)."""
    if exact != want:
        return "exact misses too"
    there = next((j for j, s in enumerate(aligned) if s.start <= frame_s < s.end), None)
    if there == k:
        return "right phone, wrong mouth"
    if there is not None and phone_class(aligned[there].phone) == want:
        return "same-class neighbour there"
    return "another phone there, " + ("early" if there is not None and there > k else "late")


def main() -> None:
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS
    from talkavatar.audio.drive import drive_audio
    from talkavatar.audio.g2p import ipa_words

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    parser.add_argument("--language", default="nl")
    parser.add_argument("--list", action="store_true", help="one line per miss")
    args = parser.parse_args()
    causes, misses, phones, g2p_differs, lines = Counter(), Counter(), Counter(), [], 0
    for clip in json.loads(LABELS[args.split].read_text())["clips"]:
        if clip["language"] != args.language:
            continue
        lines += 1
        labelled = [(p, s, e) for p, s, e in clip["phones"] if p]
        if [p for w in ipa_words(clip["text"], args.language) for p in w] != [p for p, _, _ in labelled]:
            g2p_differs.append(clip["text"])
        wav = ROOT / "sound" / clip["path"]
        result = drive_audio(wav, transcript=clip["text"], language=args.language, fps=FPS, seed=0)
        got = classify_mouth(result.motion.arkit_weights)
        exact = classify_mouth(reference_mouth(wav, [tuple(p) for p in clip["phones"]], True).motion.arkit_weights)
        aligned = [s for s in result.phones if s.phone != "SIL"]
        if len(aligned) != len(labelled):
            print(f"skipped (aligned {len(aligned)} phones, labels {len(labelled)}): {clip['text']}")
            continue
        for k, (phone, start, end) in enumerate(labelled):
            want = phone_class(phone)
            if want == "silence":
                continue
            f = min(int(round((start + end) / 2 * FPS)), len(got) - 1)
            phones[group(phone)] += 1
            if got[f] == want:
                continue
            why = cause(k, f / FPS, want, exact[f], aligned)
            causes[why] += 1
            misses[group(phone)] += 1
            if args.list:
                print(f"{clip['text'][:30]:30s} {phone:5s} {start:.3f}-{end:.3f} want {want:11s} got {got[f]:11s} "
                      f"exact {exact[f]:11s} {why}")
    print(f"\n{args.split} {args.language}: {lines} lines, G2P phones = label phones on {lines - len(g2p_differs)}")
    for text in g2p_differs:
        print(f"  G2P differs: {text}")
    print(f"misses with a transcript: {sum(causes.values())} of {sum(phones.values())} phones\n")
    print("| cause | misses |\n|---|---|")
    for why, n in causes.most_common():
        print(f"| {why} | {n} |")
    print("\n| phone group | missed / scored |\n|---|---|")
    for name, n in phones.most_common():
        print(f"| {name} | {misses[name]} / {n} |")


if __name__ == "__main__":
    main()
