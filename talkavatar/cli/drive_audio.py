"""`talkavatar drive-audio`: Turn speech into talking motion: lips, face, head, blinks and gestures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.audio.config import DriveAudioConfig
from talkavatar.cli.common import ConfigOpt, ForceOpt, JsonOpt, emit, log, report_errors, warn
from talkavatar.cli.options import Settings, with_settings

NAME = "drive-audio"
HELP = "Turn speech into talking motion: lips, face, head, blinks and gestures."
EPILOG = ("Examples:  talkavatar drive-audio speech.wav ; "
          "talkavatar drive-audio speech.wav --format arkit-csv -o face.csv ; "
          "talkavatar drive-audio rede.ogg --language de --transcript rede.txt")
NO_ARGS_IS_HELP = False


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
    force: ForceOpt = False,
) -> None:
    from talkavatar import api
    from talkavatar.audio.stage import transcript_text

    result = api.drive_audio(audio, output, cfg, transcript=transcript_text(transcript), force=force, log=log,
                             warn=warn)
    emit(result.as_dict(), as_json, human=str(result.output))
