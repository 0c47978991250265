"""The ``talkavatar`` command line: a thin Typer layer over the stage functions.

Each subcommand lives in its own module and imports its stage lazily, so ``talkavatar --help`` loads no torch.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from talkavatar.version import __version__
from talkavatar.cli import demo, drive_audio, eval, fit, pseudo, render, track
from talkavatar.cli.common import flags
from talkavatar.config import NO_WAIT_ENV

app = typer.Typer(
    name="talkavatar",
    help="Turn one photo of a person into a whole-body 3D talking avatar, and make it speak any audio.",
    epilog="Examples:  talkavatar fit photo.jpg ; talkavatar render --audio speech.wav ; talkavatar demo",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: [brackets] in it stay, flags show no <bool> metavar
    context_settings={"help_option_names": ["-h", "--help"]},
)

for module in (track, pseudo, fit, drive_audio, render, eval, demo):
    app.command(module.NAME, help=module.HELP, epilog=module.EPILOG, no_args_is_help=module.NO_ARGS_IS_HELP)(
        module.command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"talkavatar {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log output on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    no_wait: Annotated[bool, typer.Option(
        "--no-wait", help=f"Fail at once when another talkavatar process is writing the bundle, instead of waiting "
                          f"for it. (also: ${NO_WAIT_ENV}=1)")] = False,
) -> None:
    flags.quiet, flags.verbose, flags.debug = quiet, verbose, debug
    if no_wait:
        os.environ[NO_WAIT_ENV] = "1"  # read by the bundle lock, here and in any child process


def main() -> None:
    """Console-script entry point."""
    app(prog_name="talkavatar")
