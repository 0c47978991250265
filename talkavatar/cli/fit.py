"""`talkavatar fit`: Learn the Gaussian avatar from the photo and its pseudo-labels (runs track and pseudo when needed)."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "fit"
HELP = "Learn the Gaussian avatar from the photo and its pseudo-labels (runs track and pseudo when needed)."
EPILOG = "Examples:  talkavatar fit photo.jpg ; talkavatar fit photo.jpg --preset tiny"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
