"""`talkavatar pseudo`: Make pseudo-labels: the person rendered in other poses, expressions and views (writes pseudo/)."""

from __future__ import annotations

from talkavatar.cli.common import report_errors
from talkavatar.errors import NotBuiltYet

NAME = "pseudo"
HELP = "Make pseudo-labels: the person rendered in other poses, expressions and views (writes pseudo/)."
EPILOG = "Examples:  talkavatar pseudo -b photo.avatar --frames 120"
NO_ARGS_IS_HELP = False


@report_errors
def command() -> None:
    raise NotBuiltYet(NAME)
