"""Where the transcript aligner puts phone boundaries (issue 25): aligned phone starts against reference starts.

drive-audio with ``--transcript`` in a language other than English aligns eSpeak NG's phones on hama's frames
(:func:`talkavatar.audio.ctc_align.align_ipa`). ``benchmarks/drive_audio_languages.py`` scores the mouth that
results; this scores the boundaries themselves, before any mouth model: each aligned phone is matched to the
reference phone of the same base symbol (the two phone sequences aligned by :class:`difflib.SequenceMatcher`; only
equal runs count) and the error is aligned start minus reference start.

Sets: ``espeak`` (eSpeak NG's exact phone events of ``benchmarks/languages.py``'s sentences, English left out: it
goes to the English aligner) and ``checked`` (the real Czech and Dutch lines of ``benchmarks/lip_labels.py``).
The checked labels were drafted by this aligner and moved where a picture showed a landmark; the share of starts
within 5 ms of the aligner's (``same``) shows how much of a split still is the aligner's own draft: such a split
cannot judge a change of the aligner.

Usage:  python benchmarks/align_boundaries.py [--split test|dev] [--sets espeak,checked] [--labels FILE] [--json]
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drive_audio_languages import espeak_clips  # noqa: E402
from talkavatar.audio.ctc_align import align_ipa  # noqa: E402
from talkavatar.audio.g2p import ipa_words  # noqa: E402
from talkavatar.audio.ipa import base_phone  # noqa: E402
from talkavatar.audio.load import load_pcm  # noqa: E402
from talkavatar.audio.visemes import phone_class  # noqa: E402

FAR_S, SAME_S = 0.04, 0.005


def start_errors(wav: Path, text: str, language: str, reference: list[tuple[str, float, float]]) -> list[float]:
    """Aligned minus reference start (s) of each aligned phone matched to a reference phone of ``wav``."""
    aligned = align_ipa(load_pcm(wav), ipa_words(text, language), language=language) or []
    ours = [s for s in aligned if phone_class(s.phone) != "silence"]
    theirs = [r for r in reference if r[0] and base_phone(r[0]) and phone_class(r[0]) != "silence"]
    match = difflib.SequenceMatcher(a=[base_phone(s.phone) for s in ours], b=[base_phone(r[0]) for r in theirs],
                                    autojunk=False)
    return [ours[i + k].start - theirs[j + k][1] for i, j, n in match.get_matching_blocks() for k in range(n)]


def row(errors: list[float]) -> dict:
    e = np.array(errors)
    return {"starts": len(e), "mean_abs_ms": 1000 * float(np.abs(e).mean()), "median_ms": 1000 * float(np.median(e)),
            "far": float((np.abs(e) > FAR_S).mean()), "same": float((np.abs(e) <= SAME_S).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--sets", default="espeak,checked")
    parser.add_argument("--labels", type=Path, help="checked labels file (default: the split's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    errors: dict[str, list[float]] = {}
    if "espeak" in args.sets.split(","):
        for language, wav, text, reference in espeak_clips(args.split):
            if language != "en-us":
                errors.setdefault("espeak (10 languages)", []).extend(start_errors(wav, text, language, reference))
    if "checked" in args.sets.split(","):
        from benchmarks.fillets import ROOT
        from benchmarks.lip_labels import LABELS

        for clip in json.loads((args.labels or LABELS[args.split]).read_text())["clips"]:
            errors.setdefault(f"checked {clip['language']}", []).extend(
                start_errors(ROOT / "sound" / clip["path"], clip["text"], clip["language"],
                             [tuple(p) for p in clip["phones"]]))
    rows = {name: row(e) for name, e in errors.items()}
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"| set ({args.split}) | starts | mean abs error | median error | > 40 ms off | within 5 ms (same) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['starts']} | {r['mean_abs_ms']:.1f} ms | {r['median_ms']:+.0f} ms | "
              f"{100 * r['far']:.1f} % | {100 * r['same']:.1f} % |")


if __name__ == "__main__":
    main()
