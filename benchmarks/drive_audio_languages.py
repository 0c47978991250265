"""drive-audio in many languages (issue 25): lip sync scored at reference phone timings.

Data (see each module for provenance and licence):
- synthetic speech with exact phone timings: eSpeak NG reads ``benchmarks/languages.py``'s sentences in 11
  languages (tonal: vi, yue; non-Latin scripts: yue, ru, hi, el, ja) and reports each phone's time (IPA events);
- real recorded speech: Fish Fillets NG's Czech and Dutch voice lines (``benchmarks/fillets.py``) with the
  stored labels of ``benchmarks/fillets_labels.py`` (set ``real``: 30 lines per language, TTS + DTW, timing
  approximate) and of ``benchmarks/lip_labels.py`` (set ``checked``: 5-18 short lines per language and split,
  several speakers; set at acoustic landmarks seen in spectrogram and level pictures independently of the aligner
  (the first ten test lines, once its checked draft, relabelled so in the nineteenth session); nobody listened);
- real English: the LibriVox clips of pocketsphinx-testdata, references by pocketsphinx forced alignment (as in
  ``benchmarks/drive_audio_eval.py``).

Measures, per language and system (``--language`` value, with or without transcript):
- viseme-class accuracy at phone centres (the issue's measure): the output mouth at the frame nearest each
  reference phone's centre, classified by the nearest viseme shape, against the phone's class (five classes
  besides silence); two ways:
  *phones* (the headline): every reference event that is a phone. Not scored there: silences of any length (the
  pauses of 100 ms (MIN_SILENCE_S) or more are scored below, and by "silences closed") and events that are not
  phones: eSpeak NG's 12-55 ms word-gap events (70 in the test sentences, 123 in dev; half of them hold not even
  15 ms of silence in the audio, and a stop closure holds as much) and its separate ``ʲ`` events after a
  palatalised consonant (6 in test, 15 in dev; a diacritic: scored as "silence", it would ask a palatalised
  consonant's lips to close);
  *all events* (as the first five passes scored it): every reference event, word gaps and ``ʲ`` as silences;
- pauses: reference silences of at least 100 ms inside or around speech, scored at their centre as
  silence;
- bilabials closed: reference p/b/m (and ARPAbet P/B/M) during which some frame's mouth is closed (classified
  bilabial or silence);
- silences closed: frames with jawOpen < 0.1 inside reference silences longer than 200 ms;
- aperture r: Pearson correlation over all frames between the output jawOpen and the jawOpen of the reference
  phone's viseme shape;
- auto's choice: how often ``auto`` picked the English path.

Systems: ``auto``, ``en``, ``any`` (``--language`` values, no transcript), ``own`` (the clip's language, no
transcript), ``transcript`` (the clip's language and its text), and two ceilings that run no recogniser (:data:`CEILINGS`): ``exact`` (the reference events themselves
through the mouth model) and ``exact-nogap`` (the same with the reference's short silences and diacritic events
joined to the phone before them).

Usage:  python benchmarks/drive_audio_languages.py [--split test|dev] [--sets espeak,real,checked,english]
        [--systems auto,en,any,transcript,exact,exact-nogap] [--languages en-us,de,...] [--by-speaker]
        [--labels FILE] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drive_audio_eval import silences  # noqa: E402
from talkavatar.audio.drive import drive_audio  # noqa: E402
from talkavatar.audio.visemes import VISEME_SHAPES, classify_mouth, fill_gaps, phone_class, phone_viseme  # noqa: E402
from talkavatar.motion.names import ARKIT_INDEX  # noqa: E402

FPS = 30.0
JAW = ARKIT_INDEX["jawOpen"]
MIN_SILENCE_S = 0.1
LABELS = Path(__file__).resolve().parent / "data" / "fillets_labels.json"


class Tally:
    """Counts for one (language, system) cell."""

    def __init__(self):
        self.hits = self.phones = self.event_hits = self.events = self.pause_hits = self.pauses = 0
        self.closed = self.bilabials = self.quiet = self.silent = 0
        self.jaw_out: list[np.ndarray] = []
        self.jaw_ref: list[np.ndarray] = []
        self.english = self.runs = 0
        self.cpu = self.seconds = 0.0

    def add(self, result, reference: list[tuple[str, float, float]]) -> None:
        w = result.motion.arkit_weights
        ref = fill_gaps([_seg(*r) for r in reference], result.seconds)
        classes = classify_mouth(w)
        for seg in ref:
            want = phone_class(seg.phone)
            hit = classes[min(int(round(seg.centre * FPS)), len(w) - 1)] == want
            self.event_hits += hit
            self.events += 1
            if want != "silence":
                self.hits += hit
                self.phones += 1
            elif seg.end - seg.start >= MIN_SILENCE_S:
                self.pause_hits += hit
                self.pauses += 1
            if want == "bilabial":
                ks = range(int(seg.start * FPS), min(int(np.ceil(seg.end * FPS)) + 1, len(w)))
                self.closed += any(classes[j] in ("bilabial", "silence") for j in ks)
                self.bilabials += 1
        for a, b in silences(ref):
            ks = np.arange(int(np.ceil(a * FPS)), min(int(np.floor(b * FPS)) + 1, len(w)))
            self.quiet += int((w[ks, JAW] < 0.1).sum())
            self.silent += len(ks)
        times = np.arange(len(w)) / FPS
        starts = np.array([s.start for s in ref])
        idx = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(ref) - 1)
        self.jaw_ref.append(np.array([VISEME_SHAPES[phone_viseme(ref[i].phone)][JAW] for i in idx]))
        self.jaw_out.append(w[:, JAW])
        self.english += result.language == "en"
        self.runs += 1
        self.seconds += result.seconds

    def row(self) -> dict:
        out, ref = np.concatenate(self.jaw_out), np.concatenate(self.jaw_ref)
        r = float(np.corrcoef(out, ref)[0, 1]) if out.std() > 0 and ref.std() > 0 else float("nan")
        return {"phone_accuracy": self.hits / max(self.phones, 1), "phones": self.phones,
                "all_event_accuracy": self.event_hits / max(self.events, 1), "events": self.events,
                "pause_accuracy": self.pause_hits / max(self.pauses, 1), "pauses": self.pauses,
                "bilabials_closed": self.closed / max(self.bilabials, 1), "bilabials": self.bilabials,
                "silences_closed": self.quiet / max(self.silent, 1), "silence_frames": self.silent,
                "aperture_r": r, "auto_chose_english": self.english / max(self.runs, 1), "clips": self.runs,
                "audio_s": round(self.seconds, 1), "cpu_s": round(self.cpu, 2)}


def phone_events(reference: list[tuple[str, float, float]], seconds: float) -> list:
    """The reference segments the headline score counts: the phones (no silence, no diacritic-only event)."""
    return [s for s in fill_gaps([_seg(*r) for r in reference], seconds) if phone_class(s.phone) != "silence"]


def _seg(name: str, start: float, end: float):
    from talkavatar.audio.phones import PhoneSegment

    return PhoneSegment(name or "SIL", start, end)


SYSTEMS = {  # name -> (--language value or None for the clip's own language, with transcript)
    "auto": ("auto", False), "en": ("en", False), "any": ("any", False), "transcript": (None, True),
    "auto-t": ("auto", True), "own": (None, False),
}
# Ceilings, not drive-audio runs: the reference phones themselves through the mouth model (visemes.mouth_weights):
# "exact" with every reference event, "exact-nogap" with reference silences shorter than MIN_SILENCE_S (eSpeak's
# word gaps) and diacritic-only events joined to the phone before them, as a perfect aligner that does not invent
# 12-55 ms pauses would give them.
CEILINGS = ("exact", "exact-nogap")


def run_clip(tallies: dict, cell_name: str | list[str], language: str, wav: Path, text: str, reference: list,
             systems: list[str]) -> None:
    """Run each system on one clip (``language``: its eSpeak code) and add it to the ``cell_name`` tallies (or to
    each of a list of cells)."""
    for system in systems:
        cpu = time.process_time()
        if system in CEILINGS:
            result = reference_mouth(wav, reference, gaps=system == "exact")
        else:
            value, with_text = SYSTEMS[system]
            result = drive_audio(wav, transcript=text if with_text else None, language=value or language, fps=FPS,
                                 seed=0)
        cpu = time.process_time() - cpu
        for name in [cell_name] if isinstance(cell_name, str) else cell_name:
            cell = tallies.setdefault((name, system), Tally())
            cell.cpu += cpu
            cell.add(result, reference)


def reference_mouth(wav: Path, reference: list[tuple[str, float, float]], gaps: bool) -> SimpleNamespace:
    """What :meth:`Tally.add` reads of a drive-audio result, for the reference phones fed to the mouth model."""
    from talkavatar.audio.load import load_pcm
    from talkavatar.audio.prosody import prosody_of
    from talkavatar.audio.visemes import mouth_weights

    pcm = load_pcm(wav)
    seconds = len(pcm) / 16000.0
    segments = [_seg(*r) for r in reference] if gaps else _without_gaps(reference, seconds)
    _, weights = mouth_weights(segments, prosody_of(pcm), seconds, FPS, aligned=True)
    return SimpleNamespace(motion=SimpleNamespace(arkit_weights=weights), seconds=seconds, language="reference")


def _without_gaps(reference: list[tuple[str, float, float]], seconds: float) -> list:
    """Reference segments with short silences and diacritic-only events joined to the phone before them."""
    from talkavatar.audio.ipa import base_phone

    out: list = []
    for seg in fill_gaps([_seg(*r) for r in reference], seconds):
        short_silence = phone_class(seg.phone) == "silence" and seg.end - seg.start < MIN_SILENCE_S
        if out and out[-1].phone != "SIL" and (short_silence or not base_phone(seg.phone)):
            out[-1] = _seg(out[-1].phone, out[-1].start, seg.end)
        else:
            out.append(seg)
    return out


def espeak_clips(split: str, only: list[str] | None = None):
    """Yield ``(language, wav, text, reference)`` per sentence of ``benchmarks/languages.py``'s ``split``, read by
    eSpeak NG into a temporary wav (0.4 s of silence at both ends) with its phone events ``[(phone, start, end)]``
    (valid until the next item)."""
    import soundfile as sf

    from benchmarks.espeak import synthesize
    from benchmarks.languages import SENTENCES

    with tempfile.TemporaryDirectory() as tmp:
        for language, sets in SENTENCES.items():
            if only and language not in only:
                continue
            for k, text in enumerate(sets[split]):
                audio, rate, phones = synthesize(text, language, ipa=True)
                pad = np.zeros(int(0.4 * rate), np.int16)          # room for closed-mouth silence at both ends
                wav = Path(tmp) / f"{language}{k}.wav"
                sf.write(wav, np.concatenate([pad, audio, pad]), rate)
                yield language, wav, text, [(p, s + 0.4, e + 0.4) for p, s, e in phones]
                print(f"espeak {language} {k}", file=sys.stderr)


def espeak_set(tallies: dict, split: str, systems: list[str], only: list[str] | None = None) -> None:
    for language, wav, text, reference in espeak_clips(split, only):
        code = "en" if language == "en-us" else language
        run_clip(tallies, f"espeak:{language}", language, wav, text, reference,
                 [s for s in systems if not (code == "en" and s == "en")])


def real_set(tallies: dict, systems: list[str]) -> None:
    labels = json.loads(LABELS.read_text())
    for clip in labels["clips"]:
        run_clip(tallies, f"real:{clip['language']}", clip["language"], Path(clip["path"]), clip["text"],
                 [tuple(p) for p in clip["phones"]], systems)
        print(f"real {clip['language']} {Path(clip['path']).name}", file=sys.stderr)


def checked_set(tallies: dict, split: str, systems: list[str], by_speaker: bool = False,
                labels: Path | None = None) -> None:
    """The checked real lines of ``split`` (or of the ``labels`` file), one cell per language and, with
    ``by_speaker``, also one per language and speaker (``checked:nl/big-fish``)."""
    from benchmarks.fillets import ROOT
    from benchmarks.lip_labels import LABELS as CHECKED
    from benchmarks.lip_labels import speaker

    for clip in json.loads((labels or CHECKED[split]).read_text())["clips"]:
        cells = [f"checked:{clip['language']}"] + ([f"checked:{clip['language']}/{speaker(clip['path'])}"]
                                                   if by_speaker else [])
        run_clip(tallies, cells, clip["language"], ROOT / "sound" / clip["path"], clip["text"],
                 [tuple(p) for p in clip["phones"]], systems)
        print(f"checked {clip['language']} {clip['path']}", file=sys.stderr)


def english_set(tallies: dict, systems: list[str]) -> None:
    from benchmarks.drive_audio_eval import reference_phones
    from benchmarks.librivox import clips

    for wav, text in clips():
        reference = [(s.phone, s.start, s.end) for s in reference_phones(wav, text)]
        run_clip(tallies, "real:en", "en", wav, text, reference, systems)


def pooled(rows: dict) -> dict:
    """Per system, the eSpeak languages other than English pooled (counts summed): ``espeak:pooled SYSTEM``."""
    out = {}
    for system in {name.split(" ")[1] for name in rows}:
        cells = [r for name, r in rows.items() if name.startswith("espeak:") and not name.startswith("espeak:en")
                 and name.split(" ")[1] == system]
        if len(cells) < 2:
            continue
        total = {}
        for rate, count in (("phone_accuracy", "phones"), ("all_event_accuracy", "events"),
                            ("pause_accuracy", "pauses"), ("bilabials_closed", "bilabials"),
                            ("silences_closed", "silence_frames")):
            n = sum(c[count] for c in cells)
            total[rate], total[count] = sum(c[rate] * c[count] for c in cells) / max(n, 1), n
        runs = sum(c["clips"] for c in cells)
        total.update(aperture_r=float(np.mean([c["aperture_r"] for c in cells])), clips=runs,
                     auto_chose_english=sum(c["auto_chose_english"] * c["clips"] for c in cells) / max(runs, 1),
                     audio_s=round(sum(c["audio_s"] for c in cells), 1), cpu_s=round(sum(c["cpu_s"] for c in cells), 2))
        out[f"espeak:pooled {system}"] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=("dev", "test"))
    parser.add_argument("--sets", default="espeak,real,english")
    parser.add_argument("--systems", default="auto,en,any,transcript")
    parser.add_argument("--languages", help="comma-separated eSpeak languages of the espeak set (default: all)")
    parser.add_argument("--by-speaker", action="store_true", help="checked set: a cell per language and speaker too")
    parser.add_argument("--labels", type=Path, help="checked set: this labels file instead of the split's (e.g. an "
                        "earlier version: git show REV:benchmarks/data/lip_labels_checked.json)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    systems = args.systems.split(",")
    tallies: dict = {}
    sets = args.sets.split(",")
    if "espeak" in sets:
        espeak_set(tallies, args.split, systems, args.languages.split(",") if args.languages else None)
    if "real" in sets:
        real_set(tallies, systems)
    if "checked" in sets:
        checked_set(tallies, args.split, systems, args.by_speaker, args.labels)
    if "english" in sets:
        english_set(tallies, systems)
    rows = {f"{lang} {system}": t.row() for (lang, system), t in tallies.items()}
    rows.update(pooled(rows))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print("| language | system | viseme classes at phones | all events | pauses | bilabials closed | "
          "silences closed | aperture r | auto->en | audio s | CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        lang, system = name.split(" ")
        print(f"| {lang} | {system} | {100 * r['phone_accuracy']:.1f} % ({r['phones']}) | "
              f"{100 * r['all_event_accuracy']:.1f} % ({r['events']}) | {100 * r['pause_accuracy']:.1f} % "
              f"({r['pauses']}) | {100 * r['bilabials_closed']:.1f} % ({r['bilabials']}) | "
              f"{100 * r['silences_closed']:.1f} % ({r['silence_frames']}) | {r['aperture_r']:.2f} | "
              f"{r['auto_chose_english']:.2f} | {r['audio_s']} | {r['cpu_s']} |")


if __name__ == "__main__":
    main()
