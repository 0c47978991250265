"""Errors that end a command, each with its documented exit status and an optional next step for the user.

Exit statuses (also in ``man/talkavatar.1``): 0 ok, 1 stage failed, 2 usage, 3 invalid/stale/too-new bundle or
unreadable input, 4 missing optional dependency or hardware.
"""

from __future__ import annotations


class TalkavatarError(Exception):
    """Base class: ``message`` is one line; ``tip`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, tip: str | None = None):
        super().__init__(message)
        self.message = message
        self.tip = tip


class StageFailed(TalkavatarError):
    """A stage ran on valid input and could not finish (no person detected, optimisation diverged, …)."""

    exit_code = 1


class UsageError(TalkavatarError):
    """The command line is wrong or ambiguous (no bundle found, conflicting options)."""

    exit_code = 2


class InvalidInput(TalkavatarError):
    """A bundle is invalid, stale or too new, or an input file cannot be read."""

    exit_code = 3


class MissingDependency(TalkavatarError):
    """An optional package, model file or hardware (CUDA) that the request needs is absent."""

    exit_code = 4
