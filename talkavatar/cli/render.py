"""`talkavatar render`: Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "render"
HELP = "Render the avatar speaking an audio file or performing a motion, to MP4, WebM or PNGs."
EPILOG = "Examples:  talkavatar render --audio speech.wav ; talkavatar render -b photo.avatar --motion talk.motion.safetensors -o talk.mp4"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
