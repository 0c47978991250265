"""Timelines of lip classes (issue 25): the reference phones' classes against the classes of drive-audio's mouth,
frame by frame, with and without the transcript, over the waveform and the jaw opening.

Speech: one eSpeak NG sentence of ``benchmarks/languages.py`` (exact phone timings; ``--language de --split test
--index 0``) or one checked real line of ``benchmarks/lip_labels.py``'s split (``--checked N [--split dev]``).
Rows, top to bottom: waveform; reference classes (one band per phone, named; silence blank); the output mouth's
class per 30 fps frame with the transcript and without it (``--language auto``); jawOpen of both. A dot under a
frame marks a reference phone centre the mouth gets wrong (the phones the benchmark's headline scores).

Usage:  python benchmarks/lip_timeline.py --language de --index 0 --out de0.png
        python benchmarks/lip_timeline.py --checked 8 --out nl8.png
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drive_audio_languages import FPS, phone_events  # noqa: E402
from benchmarks.lip_labels import LABELS as CHECKED  # noqa: E402
from talkavatar.audio.visemes import CLASSES, classify_mouth, phone_class  # noqa: E402
from talkavatar.motion.names import ARKIT_INDEX  # noqa: E402

COLOURS = {"silence": "#dddddd", "bilabial": "#d62728", "labiodental": "#ff7f0e", "rounded": "#1f77b4",
           "open": "#2ca02c", "spread": "#9467bd"}


def speech(args, tmp: Path) -> tuple[Path, str, str, list[tuple[str, float, float]], str]:
    """``(wav, transcript, language code, reference phones, title)`` of the chosen clip."""
    import soundfile as sf

    if args.checked is not None:
        from benchmarks.fillets import ROOT

        clip = json.loads(CHECKED[args.split].read_text())["clips"][args.checked]
        return (ROOT / "sound" / clip["path"], clip["text"], clip["language"], [tuple(p) for p in clip["phones"]],
                f"real {clip['language']}: {clip['text']}")
    from benchmarks.espeak import synthesize
    from benchmarks.languages import SENTENCES

    text = SENTENCES[args.language][args.split][args.index]
    audio, rate, phones = synthesize(text, args.language, ipa=True)
    pad = np.zeros(int(0.4 * rate), np.int16)
    wav = tmp / "speech.wav"
    sf.write(wav, np.concatenate([pad, audio, pad]), rate)
    return wav, text, args.language, [(p, s + 0.4, e + 0.4) for p, s, e in phones], f"eSpeak {args.language}: {text}"


def draw(out: Path, title: str, pcm: np.ndarray, reference: list, runs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds = len(pcm) / 16000
    fig, ax = plt.subplots(4, 1, figsize=(max(8.0, 4.0 * seconds), 6.5), sharex=True,
                           gridspec_kw={"height_ratios": [1, 2.2, 1, 1.4]})
    ax[0].plot(np.arange(len(pcm)) / 16000, pcm / 32768, lw=0.3, color="k")
    ax[0].set_title(title, fontsize=9)
    rows = [("reference", None)] + [(name, classes) for name, (classes, _, _) in runs.items()]
    targets = phone_events(reference, seconds)
    for y, (name, classes) in enumerate(rows):
        if classes is None:
            for seg in targets:
                c = phone_class(seg.phone)
                ax[1].axvspan(seg.start, seg.end, ymin=1 - (y + 1) / len(rows), ymax=1 - y / len(rows),
                              color=COLOURS[c], alpha=0.8)
                ax[1].text(seg.centre, len(rows) - y - 0.5, seg.phone, ha="center",
                           va="center", fontsize=6)
            continue
        for k, c in enumerate(classes):
            ax[1].axvspan(k / FPS - 0.5 / FPS, k / FPS + 0.5 / FPS, ymin=1 - (y + 1) / len(rows),
                          ymax=1 - y / len(rows), color=COLOURS[c], alpha=0.8)
        wrong = [s.centre for s in targets if classes[min(int(round(s.centre * FPS)), len(classes) - 1)]
                 != phone_class(s.phone)]
        ax[1].plot(wrong, [len(rows) - y - 0.92] * len(wrong), "k.", ms=3)
    ax[1].set_ylim(0, len(rows))
    ax[1].set_yticks([len(rows) - y - 0.5 for y in range(len(rows))], [r[0] for r in rows], fontsize=7)
    for name, (_, jaw, accuracy) in runs.items():
        ax[3].plot(np.arange(len(jaw)) / FPS, jaw, label=f"{name} ({100 * accuracy:.0f} % of phones)")
    ax[3].set_ylabel("jawOpen", fontsize=7)
    ax[3].legend(fontsize=7, loc="upper right")
    ax[2].legend(handles=[plt.Rectangle((0, 0), 1, 1, color=COLOURS[c]) for c in CLASSES], labels=list(CLASSES),
                 ncol=6, fontsize=7, loc="center")
    ax[2].axis("off")
    ax[3].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="de")
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--checked", type=int, help="a clip of the checked real labels instead of eSpeak")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from talkavatar.audio.drive import drive_audio
    from talkavatar.audio.load import load_pcm

    with tempfile.TemporaryDirectory() as tmp:
        wav, text, code, reference, title = speech(args, Path(tmp))
        runs = {}
        for name, kwargs in (("with transcript", {"transcript": text, "language": code}),
                             ("no transcript (auto)", {"language": "auto"})):
            result = drive_audio(wav, fps=FPS, seed=0, gestures=False, **kwargs)
            w = result.motion.arkit_weights
            classes = classify_mouth(w)
            targets = phone_events(reference, result.seconds)
            hits = [classes[min(int(round(s.centre * FPS)), len(w) - 1)] == phone_class(s.phone) for s in targets]
            runs[name] = (classes, w[:, ARKIT_INDEX["jawOpen"]], float(np.mean(hits)))
        draw(args.out, title, load_pcm(wav), reference, runs)
    print(args.out)


if __name__ == "__main__":
    main()
