"""Phone labels for real Czech and Dutch speech (Fish Fillets NG lines), made once and stored.

How: eSpeak NG reads the line's transcript in its language and reports where each of its phones lies in that
synthetic speech; the synthetic and the recorded speech are aligned by dynamic time warping (the method of
TTS-based aligners such as aeneas) on phone posteriors of pocketsphinx's English model (MFCCs were tried first:
across these voices their alignments were visibly wrong), and each phone's start and end are carried over to the
recording. The language-independent recogniser and its aligner take no part, so the labels are independent of
the system under test there (the English recogniser shares the acoustic model that makes the features). They
were NOT made by ear (no one listened); their spectrograms with the labels drawn on were inspected
(``--picture``): boundaries are often visibly off by tens of ms, and on some lines (slow, effect-laden fish
voices) by more, so the scores measured against these labels are a lower bound.

Usage:  python benchmarks/fillets_labels.py [--per-language 30] [--picture OUT.png]
Writes ``benchmarks/data/fillets_labels.json``: ``{"source", "licence", "method", "clips": [{"path", "language",
"text", "phones": [[ipa, start_s, end_s], ...]}]}`` (test-split levels only; see ``benchmarks/fillets.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.espeak import synthesize  # noqa: E402
from benchmarks.fillets import LANGUAGES, lines  # noqa: E402

OUT = Path(__file__).resolve().parent / "data" / "fillets_labels.json"
RATE, HOP = 16000, 160


def _features(audio: np.ndarray, rate: int) -> np.ndarray:
    """``[F, 40]`` phone posteriors (10 ms frames) under pocketsphinx's en-us model: speaker-independent enough
    to align two different voices, and unrelated to the language-independent recogniser under test."""
    import librosa

    from talkavatar.audio.phone_loop import scoring_tables, senone_log_likelihoods
    from talkavatar.audio.sphinx_features import cepstra, dynamic_features, mel_power, suppress_noise

    y = librosa.resample(audio.astype(np.float32), orig_sr=rate, target_sr=RATE) if rate != RATE else audio
    pcm = np.clip(y * 32768.0, -32768, 32767).astype(np.int16)
    cep = cepstra(suppress_noise(mel_power(pcm)[None])[0])
    scores = senone_log_likelihoods(dynamic_features(cep - cep.mean(axis=0)), scoring_tables()).max(axis=2)
    scores -= scores.max(axis=1, keepdims=True)
    post = np.exp(scores)
    return post / post.sum(axis=1, keepdims=True)


def dtw_labels(recorded: np.ndarray, text: str, language: str) -> list[list]:
    """``[[ipa, start_s, end_s], ...]`` of ``text`` on int16 ``recorded [n]`` (16 kHz), by TTS + DTW."""
    import librosa

    synth, rate, phones = synthesize(text, language, ipa=True)
    a = _features(synth.astype(np.float32) / 32768.0, rate)
    b = _features(recorded.astype(np.float32) / 32768.0, RATE)
    _, path = librosa.sequence.dtw(X=a.T, Y=b.T, metric="cosine")
    path = path[::-1]
    to_recorded = np.zeros(len(a))
    for i in range(len(a)):
        to_recorded[i] = path[path[:, 0] == i, 1].mean()
    frame_s = HOP / RATE

    def carry(t: float) -> float:
        return float(np.interp(t / frame_s, np.arange(len(a)), to_recorded) * frame_s)

    out = []
    for name, start, end in phones:
        s, e = carry(start), carry(end)
        if e > s:
            out.append([name, round(s, 3), round(e, 3)])
    return out


def make(per_language: int) -> dict:
    from talkavatar.audio.load import load_pcm

    clips = []
    for language in LANGUAGES:
        chosen = lines(language, "test")
        step = max(1, len(chosen) // per_language)
        for path, text in chosen[::step][:per_language]:
            pcm = load_pcm(path)
            clips.append({"path": str(path), "language": language, "text": text,
                          "seconds": round(len(pcm) / RATE, 3), "phones": dtw_labels(pcm, text, language)})
            print(f"{path.name}: {len(clips[-1]['phones'])} phones", file=sys.stderr)
    return {"source": "Debian fillets-ng-data-cs / fillets-ng-data-nl (Fish Fillets NG voice recordings) and "
                      "fillets-ng-data (dialogue texts)",
            "licence": "GPL-2 (Debian copyright file of fillets-ng-data-cs/-nl)",
            "method": "eSpeak NG 1.51 synthesis of the transcript with IPA phoneme events, DTW (librosa, cosine) "
                      "on pocketsphinx en-us phone posteriors to the recording; not made by ear",
            "clips": clips}


def picture(labels: dict, out: Path, count: int = 4) -> None:
    """Spectrograms of the first ``count`` clips of each language with the labels drawn on, for inspection."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from talkavatar.audio.load import load_pcm
    from talkavatar.audio.visemes import phone_class

    chosen = [c for lang in LANGUAGES for c in [c for c in labels["clips"] if c["language"] == lang][:count // 2]]
    fig, axes = plt.subplots(len(chosen), 1, figsize=(16, 3.2 * len(chosen)))
    for ax, clip in zip(np.atleast_1d(axes), chosen):
        pcm = load_pcm(Path(clip["path"])).astype(np.float32) / 32768.0
        spec = librosa.amplitude_to_db(np.abs(librosa.stft(pcm, n_fft=512, hop_length=HOP)), ref=np.max)
        ax.imshow(spec[:160], origin="lower", aspect="auto", cmap="magma", vmin=-70,
                  extent=[0, len(pcm) / RATE, 0, 5000])
        for name, s, e in clip["phones"]:
            ax.axvline(s, color="cyan", lw=0.6)
            colour = "lime" if phone_class(name) == "bilabial" else "white"
            ax.text(0.5 * (s + e), 4600, name or "_", color=colour, ha="center", fontsize=8)
        ax.set_title(f"{clip['language']}: {clip['text']}", fontsize=9)
        ax.set_ylabel("Hz")
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=30)
    parser.add_argument("--picture", type=Path, help="draw spectrograms with the stored labels instead")
    args = parser.parse_args()
    if args.picture:
        picture(json.loads(OUT.read_text()), args.picture)
        return
    labels = make(args.per_language)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(labels, ensure_ascii=False, indent=1))
    print(f"{OUT}: {len(labels['clips'])} clips")


if __name__ == "__main__":
    main()
