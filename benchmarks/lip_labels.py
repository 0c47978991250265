"""Checked phone labels for short real Czech and Dutch speech (Fish Fillets NG lines; issue 25).

How the labels in ``benchmarks/data/lip_labels_checked.json`` (test split) were made (nobody listened to the audio):
1. ``--draft``: eSpeak NG's phones of each line's transcript, forced-aligned on the recording by CTC Viterbi on
   hama's posteriors (``talkavatar.audio.ctc_align``), written as the starting point;
2. ``--picture N``: a waveform and a wide-band spectrogram of clip N (16 kHz, 5 ms hop, 10 ms grid) with the
   labels drawn on, in windows of one second;
3. a reviewer looked at each picture and moved boundaries to the acoustic landmarks (stop closures: the silent gap
   before the burst; fricatives: the edges of the high-frequency noise; vowels and sonorants: formant onsets and
   offsets and energy rises; silence: where the waveform goes flat) and wrote the new times into the JSON, with
   ``"checked"`` describing each clip's changes and what stayed uncertain. eSpeak's phone sequence was kept (no
   phone dropped or added); where a voiced stretch showed no boundary, its phones were spaced by eye;
4. two clips' pictures were drawn again from the edited labels and looked at once more.
5. tenth session: the Dutch labels checked against numbers (10 ms loudness and 400-1200 Hz / 1.2-3 kHz / < 400 Hz
   band levels) where the aligners disagreed with them; two spaced-by-eye stretches were re-timed where the
   numbers showed a vowel or a nasal murmur elsewhere (each clip's ``"relabelled"`` note says what and why).
6. thirteenth session, ``--split dev`` (``benchmarks/data/lip_labels_dev.json``, levels a-m, for choosing constants):
   steps 1-2, then one look per clip and the loudness / band numbers at every bilabial and pause edge; boundaries
   moved only where a landmark clearly disagreed (7 in 4 clips); then zoomed pictures (0.5 s windows) of all ten
   clips: inner boundaries within ~10-20 ms of visible landmarks, four moved 20-40 ms. Lighter
   than the test split's check: where no landmark shows (vowel-to-vowel, nasal-to-vowel, the low-passed or
   reverberant voices) the drafted boundaries stand, so there the dev labels are the system's own aligner's.
7. fourteenth session, six longer dev lines (3.3-4.5 s, long voiced stretches; ``CLIPS["dev"]``'s last six): steps
   1-2, then pictures of one second each (two 0.5 s rows: a colour spectrogram to 6 kHz and the 10 ms loudness with
   the < 400 Hz, 400-1200 Hz and 1.2-3 kHz levels) of every spoken second; boundaries moved only where a landmark
   clearly disagreed (5 phone starts, 35-85 ms), and three drafted 20 ms pauses with no quiet frame in them removed.
   Most visible landmarks lay within ~15-20 ms of the drafted boundaries.

The seed comes from the system under test's own aligner, so the checked boundaries can lean towards it where a
picture does not show a landmark (vowel-to-vowel and nasal-to-vowel transitions inside a voiced stretch).

Usage:  python benchmarks/lip_labels.py [--split test|dev] --draft    (rewrites the file: only for a fresh start)
        python benchmarks/lip_labels.py [--split test|dev] --picture 0 --out clip0.png [--labels FILE] [--mouth]
            [--tts]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fillets import ROOT  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
LABELS = {"test": DATA / "lip_labels_checked.json", "dev": DATA / "lip_labels_dev.json"}
RATE = 16000
# (sound file under ROOT / "sound", language, transcript) per split.
# test: levels n-z, 1.4-2.6 s, two or more bilabial letters, chosen once from `benchmarks/fillets.py`'s listing in
# its order (a reverberant party1 line, pt1-m-nemuzu, was looked at and replaced by nowall/m-otazka4: no boundary
# was visible in its second half).
# dev (thirteenth session; for choosing constants on real speech): levels a-m, the same length and letters, a fish's
# line (m- or v- in the name), the first such line of each level in the listing's order, five levels per language.
CLIPS = {
    "test": (
        ("nowall/cs/m-zeme.ogg", "cs", "Nebo spíš Země."),
        ("nowall/cs/m-predmet.ogg", "cs", "je jen předmět."),
        ("nowall/cs/v-krehci.ogg", "cs", "A já jsem tak křehčí než obvykle."),
        ("nowall/cs/m-otazka4.ogg", "cs", "Já myslela, že jsme ve vesmíru."),
        ("party2/cs/pt2-m-piknik3.ogg", "cs", "Měli tu takový piknik u dna."),
        ("nowall/nl/m-otazka2.ogg", "nl", "En waarom bewegen de sterren?"),
        ("pavement/nl/dir-m-rada3.ogg", "nl", "Mijn geduld is op."),
        ("propulsion/nl/poh-m-dobre.ogg", "nl", "Goed, die nemen we mee."),
        ("society/nl/mik-m-nezlob.ogg", "nl", "Maak je maar niet boos."),
        ("start/nl/1st-m-pockej.ogg", "nl", "Wacht even! Ik ga met je mee."),
    ),
    "dev": (
        ("atlantis/cs/sp-v-trapne.ogg", "cs", "Trapné přehlédnutí."),
        ("aztec/cs/bot-v-uveznen0.ogg", "cs", "Je uvězněný mezi amforami."),
        ("barrel/cs/bar-m-videt1.ogg", "cs", "To by měli vidět lidi z Temelína."),
        ("bathroom/cs/br-m-bydli.ogg", "cs", "Myslíš, že tu někdo bydlí?"),
        ("bathyscaph/cs/bat-m-mikro.ogg", "cs", "Pěkný mikroskop."),
        ("atlantis/nl/sp-m-costim.ogg", "nl", "Wat moeten we ermee?"),
        ("barrel/nl/bar-m-no.ogg", "nl", "Nou ja, misschien heb je wel gelijk."),
        ("bathroom/nl/br-v-dost.ogg", "nl", "Hou alsjeblieft op!"),
        ("bathyscaph/nl/bat-m-mikro.ogg", "nl", "Mooie microscoop."),
        ("broom/nl/kos-v-koste0.ogg", "nl", "Gelukkig hebben we deze bezem."),
        # fourteenth session: longer lines, with long voiced stretches, for the aligner's boundaries (levels a-m not
        # used above, a fish's line, 3.0-4.5 s, one sentence, no digits, the first such line of each level in the
        # listing's order)
        ("airplane/cs/let-v-vrak1.ogg", "cs", "To je vrak dopravního letadla Atlantobus."),
        ("alibaba/cs/kni-v-prolezt.ogg", "cs", "Zdá se, že budu muset prolézt tím strašným bludištěm."),
        ("briefcase/cs/kuf-m-ven.ogg", "cs", "Naším prvním úkolem bude dostat se ven z místnosti."),
        ("airplane/nl/let-v-vrak1.ogg", "nl", "Dat is het wrak van het passagiersvliegtuig Atlantobus."),
        ("alibaba/nl/kni-v-prolezt.ogg", "nl", "Het lijkt erop dat ik door dat vreselijke doolhof heen moet."),
        ("briefcase/nl/kuf-v-noco.ogg", "nl", "Je weet dat we er niks tegen kunnen beginnen."),
    ),
}


def _pcm(relative: str) -> np.ndarray:
    from talkavatar.audio.load import load_pcm

    return load_pcm(ROOT / "sound" / relative)


def draft(split: str) -> dict:
    """Starting labels of the ``split``'s clips: eSpeak NG phones CTC-aligned on hama's posteriors (step 1)."""
    from talkavatar.audio.ctc_align import align_ipa
    from talkavatar.audio.g2p import ipa_words

    clips = []
    for relative, language, text in CLIPS[split]:
        pcm = _pcm(relative)
        segments = align_ipa(pcm, ipa_words(text, language)) or []
        seconds = round(len(pcm) / RATE, 3)
        phones = [[s.phone if s.phone != "SIL" else "", round(s.start, 3), round(s.end, 3)] for s in segments]
        if phones:
            phones[-1][2] = seconds             # the aligner stops at its last whole 20 ms frame
        clips.append({"path": relative, "language": language, "text": text, "seconds": seconds, "phones": phones,
                      "checked": None})
        print(f"{relative}: {len(segments)} segments", file=sys.stderr)
    return {"source": "Debian fillets-ng-data-cs / fillets-ng-data-nl (Fish Fillets NG voice recordings, "
                      "under /usr/share/games/fillets-ng/sound) and fillets-ng-data (dialogue texts)",
            "licence": "GPL-2 (Debian copyright file of fillets-ng-data-cs/-nl)",
            "method": __doc__.split("\n\n")[1], "clips": clips}


def mouth_tracks(clip: dict, fps: float = 100.0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """drive-audio's jawOpen and mouthClose ``(times [T], [T, 2])`` on a clip, without and with its transcript."""
    from talkavatar.audio.drive import drive_audio
    from talkavatar.motion.names import ARKIT_INDEX

    channels = [ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]]
    tracks = {}
    for name, text in (("auto", None), ("transcript", clip["text"])):
        result = drive_audio(ROOT / "sound" / clip["path"], transcript=text, language=clip["language"], fps=fps,
                             gestures=False)
        w = result.motion.arkit_weights
        tracks[name] = (np.arange(len(w)) / fps, w[:, channels])
    return tracks


def picture(clip: dict, out: Path, window_s: float = 1.0, mouth: dict | None = None,
            other: list | None = None) -> None:
    """Waveform + spectrogram of one clip with its labels, one row pair per ``window_s`` of audio (step 2);
    ``mouth``: :func:`mouth_tracks` drawn over the waveform (jawOpen solid, mouthClose dotted; right axis);
    ``other``: a second labelling ``[[ipa, start_s, end_s], ...]`` drawn in blue in the spectrogram's lower half."""
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pcm = _pcm(clip["path"]).astype(np.float32) / 32768.0
    seconds = len(pcm) / RATE
    hop = RATE // 200
    spec = librosa.amplitude_to_db(np.abs(librosa.stft(pcm, n_fft=256, hop_length=hop)), ref=np.max)
    rows = int(np.ceil(seconds / window_s))
    fig, axes = plt.subplots(2 * rows, 1, figsize=(20, 5.2 * rows),
                             gridspec_kw={"height_ratios": [1, 2.6] * rows})
    for r in range(rows):
        a, b = r * window_s, min((r + 1) * window_s, seconds)
        wave, sg = axes[2 * r], axes[2 * r + 1]
        t = np.arange(int(a * RATE), int(b * RATE))
        wave.plot(t / RATE, pcm[t], lw=0.4, color="k")
        if mouth:
            twin = wave.twinx()
            for (name, (times, w)), colour in zip(mouth.items(), ("tab:blue", "tab:orange")):
                twin.plot(times, w[:, 0], color=colour, lw=1.5, label=f"jawOpen ({name})")
                twin.plot(times, w[:, 1], color=colour, lw=1.0, ls=":")
            twin.set_ylim(0, 0.7)
            twin.legend(loc="upper right", fontsize=8)
        sg.imshow(spec, origin="lower", aspect="auto", cmap="gray_r", vmin=-62,
                  extent=[-0.5 * hop / RATE, spec.shape[1] * hop / RATE, 0, RATE / 2])
        for ax in (wave, sg):
            ax.set_xlim(a, a + window_s)
            ax.set_xticks(np.arange(a, a + window_s + 1e-9, 0.05))
            ax.set_xticks(np.arange(a, a + window_s + 1e-9, 0.01), minor=True)
            ax.grid(axis="x", which="minor", alpha=0.15)
            ax.grid(axis="x", which="major", alpha=0.4)
        for k, (name, s, e) in enumerate(clip["phones"]):
            if e < a or s > b:
                continue
            for ax in (wave, sg):
                ax.axvline(s, color="red", lw=1.0)
            sg.text(0.5 * (max(s, a) + min(e, b)), 7300, f"{name or '_'}\n{k}", color="red", ha="center", va="top",
                    fontsize=11, clip_on=True)
        for name, s, e in other or ():
            if e < a or s > b:
                continue
            sg.plot([s, s], [0, 3000], color="tab:blue", lw=1.0)
            sg.text(0.5 * (max(s, a) + min(e, b)), 2900, name or "_", color="tab:blue", ha="center", va="top",
                    fontsize=10, clip_on=True)
        sg.set_ylabel("Hz")
    axes[0].set_title(f"{clip['language']}: {clip['text']}  ({clip['path']})")
    fig.tight_layout()
    fig.savefig(out, dpi=70)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=sorted(CLIPS), help="which clips (and labels file)")
    parser.add_argument("--draft", action="store_true", help="write fresh CTC-aligned labels (overwrites)")
    parser.add_argument("--picture", type=int, help="draw clip N of the labels file")
    parser.add_argument("--out", type=Path, default=Path("lip_labels.png"))
    parser.add_argument("--labels", type=Path, help="labels file (default: the split's)")
    parser.add_argument("--mouth", action="store_true", help="draw drive-audio's jaw over the waveform (auto, "
                        "with transcript)")
    parser.add_argument("--tts", action="store_true", help="draw the TTS+DTW aligner's phones too (blue, below): "
                        "a second seed independent of hama, where the two disagree a boundary needs a closer look")
    args = parser.parse_args()
    labels = args.labels or LABELS[args.split]
    if args.draft:
        labels.write_text(json.dumps(draft(args.split), ensure_ascii=False, indent=1))
        print(f"{labels}: {len(CLIPS[args.split])} clips (draft)")
    elif args.picture is not None:
        clip = json.loads(labels.read_text())["clips"][args.picture]
        other = None
        if args.tts:
            from benchmarks.fillets_labels import dtw_labels

            other = dtw_labels(_pcm(clip["path"]), clip["text"], clip["language"])
        picture(clip, args.out, mouth=mouth_tracks(clip) if args.mouth else None, other=other)
        print(args.out)
    else:
        parser.error("--draft or --picture N")


if __name__ == "__main__":
    main()
