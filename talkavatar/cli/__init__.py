"""The ``talkavatar`` command line: a thin Typer layer over the stage functions.

Each subcommand lives in its own module and imports its stage lazily, so ``talkavatar --help`` loads no torch.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import Annotated, Optional

import typer

from talkavatar.version import __version__
from talkavatar.cli import batch, demo, drive_audio, eval, export, fit, pseudo, render, track, view
from talkavatar.cli.common import flags
from talkavatar.config import NO_WAIT_ENV
from talkavatar.core.threads import explicit_threads, prepare_environment, register, usable_cores

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

for module in (track, pseudo, fit, drive_audio, render, export, view, eval, demo, batch):
    app.command(module.NAME, help=module.HELP, epilog=module.EPILOG, no_args_is_help=module.NO_ARGS_IS_HELP)(
        module.command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"talkavatar {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log output on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output on stderr.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    no_wait: Annotated[bool, typer.Option(
        "--no-wait", help=f"Fail at once when another talkavatar process is writing the bundle, instead of waiting "
                          f"for it. (also: ${NO_WAIT_ENV}=1)")] = False,
    threads: Annotated[Optional[int], typer.Option(
        "--threads", min=1, help="CPU threads for torch and BLAS. (default: $TALKAVATAR_THREADS, else "
                                 "$OMP_NUM_THREADS, else the cores this process may use, shared with the other "
                                 "talkavatar commands running on the machine)", show_default=False)] = None,
) -> None:
    flags.quiet, flags.verbose, flags.debug = quiet, verbose, debug
    if no_wait:
        os.environ[NO_WAIT_ENV] = "1"  # read by the bundle lock, here and in any child process
    try:
        explicit = explicit_threads(threads)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--threads") from None
    # A command run from a shell shares the cores with the others (batch gives each job its share itself).
    if explicit is None and flags.standalone and ctx.invoked_subcommand != "batch":
        register()
    prepare_environment(explicit or usable_cores())  # before any stage imports torch


def main() -> None:
    """Console-script entry point."""
    flags.standalone = True
    try:
        app(prog_name="talkavatar")
    except SystemExit as done:
        _exit(done)


def _exit(done: SystemExit) -> None:
    """End the process as the interpreter would (other threads joined, atexit handlers run, output flushed), then
    skip the rest of its finalization: tearing down torch, CUDA and thousands of modules took 1.6-2.0 s after
    `talkavatar fit PHOTO` had written its last file (benchmarks/photo_speed.py's exit column). Under a profiler
    or tracer (cProfile, coverage), which write their results at the interpreter's exit, the ordinary exit."""
    if _observed() or not hasattr(threading, "_shutdown"):
        raise done
    threading._shutdown()  # what Py_Finalize does first: wait for the non-daemon threads (pools' workers)
    atexit._run_exitfuncs()
    code = done.code
    if code is not None and not isinstance(code, int):  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken pipe: the ordinary exit reports it
        raise done from None
    os._exit(code or 0)


def _observed() -> bool:
    """Whether a profiler, tracer or coverage tool watches this process: by ``sys.setprofile`` / ``sys.settrace``, or
    (Python 3.12+, where cProfile itself does: python/cpython#130377) by ``sys.monitoring``."""
    monitoring = getattr(sys, "monitoring", None)
    tools = () if monitoring is None else (monitoring.DEBUGGER_ID, monitoring.COVERAGE_ID, monitoring.PROFILER_ID)
    return sys.getprofile() is not None or sys.gettrace() is not None or \
        any(monitoring.get_tool(tool) is not None for tool in tools)
