"""`talkavatar drive-audio`: Turn speech into talking motion: lips, face, head, blinks and gestures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.cli.common import ConfigOpt, JsonOpt, emit, log, report_errors, warn
from talkavatar.config import help_for, resolve

NAME = "drive-audio"
HELP = "Turn speech into talking motion: lips, face, head, blinks and gestures."
EPILOG = "Examples:  talkavatar drive-audio speech.wav ; talkavatar drive-audio speech.wav --format arkit-csv -o face.csv"
NO_ARGS_IS_HELP = False
CONFIG = DriveAudioConfig


@report_errors
def command(
    audio: Annotated[Path, typer.Argument(help="Speech recording: wav, flac, mp3, ogg, m4a (any rate, mono/stereo).",
                                          show_default=False)],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Output file. (default: <audio stem>.motion.safetensors, or .csv for arkit-csv)",
        show_default=False)] = None,
    transcript: Annotated[Optional[str], typer.Option(
        "--transcript", help="What is said (TEXT or a text FILE): forced alignment instead of phone recognition.",
        show_default=False)] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help=help_for(DriveAudioConfig, "fps"),
                                                 show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help=help_for(DriveAudioConfig, "seed"),
                                                show_default=False)] = None,
    style: Annotated[Optional[str], typer.Option("--style", help=help_for(DriveAudioConfig, "style"),
                                                 show_default=False)] = None,
    gestures: Annotated[Optional[bool], typer.Option("--gestures/--no-gestures",
                                                     help=help_for(DriveAudioConfig, "gestures"),
                                                     show_default=False)] = None,
    format: Annotated[Optional[str], typer.Option("--format", help=help_for(DriveAudioConfig, "format"),
                                                  show_default=False)] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    cfg = resolve(DriveAudioConfig, NAME, config, {"fps": fps, "seed": seed, "style": style,
                                                   "gestures": gestures, "format": format})
    from talkavatar import api
    from talkavatar.audio.stage import transcript_text

    result = api.drive_audio(audio, output, cfg, transcript=transcript_text(transcript), log=log, warn=warn)
    emit(result.as_dict(), as_json, human=str(result.output))
