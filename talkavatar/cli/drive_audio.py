"""`talkavatar drive-audio`: Turn speech into talking motion: lips, face, head, blinks and gestures."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.cli.common import ConfigOpt, JsonOpt, emit, log, report_errors, warn
from talkavatar.cli.options import Settings, with_settings
from talkavatar.errors import InvalidInput, UsageError

NAME = "drive-audio"
HELP = "Turn speech into talking motion: lips, face, head, blinks and gestures."
EPILOG = "Examples:  talkavatar drive-audio speech.wav ; talkavatar drive-audio speech.wav --format arkit-csv -o face.csv"
NO_ARGS_IS_HELP = False

SUFFIX = {"motion": ".motion.safetensors", "arkit-csv": ".csv"}


def _transcript_text(value: str | None) -> str | None:
    """``--transcript`` is the text itself, or the path of a text file holding it."""
    if value is None:
        return None
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:       # e.g. a sentence too long to be a file name
        is_file = False
    if is_file:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInput(f"{path}: cannot read transcript ({e})") from None
    return value


@report_errors
@with_settings(cfg=Settings(DriveAudioConfig, NAME))
def command(
    audio: Annotated[Path, typer.Argument(help="Speech recording: wav, flac, mp3, ogg, m4a (any rate, mono/stereo).",
                                          show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Output file. (default: <audio stem>.motion.safetensors, or .csv for arkit-csv)",
        show_default=False)] = None,
    transcript: Annotated[Optional[str], typer.Option(
        "--transcript", help="What is said (TEXT or a text FILE): forced alignment instead of phone recognition.",
        show_default=False)] = None,
    *,
    cfg: DriveAudioConfig,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    text = _transcript_text(transcript)
    out = output if output is not None else Path(audio.name.split(".")[0] + SUFFIX[cfg.format])
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such directory for the output", tip="create it or pick another -o path")

    from talkavatar.audio.drive import drive_audio
    from talkavatar.motion import save_arkit_csv, save_motion

    started = time.perf_counter()
    log(f"drive-audio: {audio} ({'alignment with transcript' if text else 'phone recognition'})")
    result = drive_audio(audio, transcript=text, fps=cfg.fps, seed=cfg.seed, style=cfg.style,
                         gestures=cfg.gestures)
    for message in result.warnings:
        warn(message)
    t = time.perf_counter()
    if cfg.format == "arkit-csv":
        save_arkit_csv(out, result.motion)
    else:
        save_motion(out, result.motion)
    timings = {**result.timings, "write": time.perf_counter() - t}
    total = time.perf_counter() - started
    record = {
        "output": str(out), "format": cfg.format, "frames": result.motion.frames, "fps": cfg.fps,
        "seconds": round(result.seconds, 3), "lip_sync": result.lip_sync, "phones": len(result.phones),
        "accents": len(result.accents), "gestures": [p.clip.name for p in result.gestures],
        "timings_s": {k: round(v, 4) for k, v in timings.items()}, "total_s": round(total, 4),
        "realtime_factor": round(result.seconds / total, 1) if total > 0 else None,
        "warnings": result.warnings,
    }
    log(f"{result.seconds:.1f} s of audio -> {result.motion.frames} frames in {total:.2f} s "
        f"({record['realtime_factor']}x real time), {len(result.gestures)} gestures")
    emit(record, as_json, human=str(out))
