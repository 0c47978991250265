"""`talkavatar track`: Fit the body model to a photo or video of a person (writes source/ and track/)."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "track"
HELP = "Fit the body model to a photo or video of a person (writes source/ and track/)."
EPILOG = "Examples:  talkavatar track photo.jpg ; talkavatar track clip.mp4 --max-frames 60 --json"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
