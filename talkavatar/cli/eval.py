"""`talkavatar eval`: Measure an avatar: self-reenactment, identity, control accuracy and lip sync."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "eval"
HELP = "Measure an avatar: self-reenactment, identity, control accuracy and lip sync."
EPILOG = "Examples:  talkavatar eval --video person.mp4 --json"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
