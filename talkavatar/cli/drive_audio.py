"""`talkavatar drive-audio`: Turn speech into talking motion: lips, face, head, blinks and gestures."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "drive-audio"
HELP = "Turn speech into talking motion: lips, face, head, blinks and gestures."
EPILOG = "Examples:  talkavatar drive-audio speech.wav ; talkavatar drive-audio speech.wav --format arkit-csv -o face.csv"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
