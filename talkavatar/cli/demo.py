"""`talkavatar demo`: Run the whole pipeline on the bundled sample photo and speech."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "demo"
HELP = "Run the whole pipeline on the bundled sample photo and speech."
EPILOG = "Examples:  talkavatar demo ; talkavatar demo --preset tiny -o demo/"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
