"""What every command shares: global flags, option aliases, bundle resolution, error reporting, output.

stdout carries results (paths, or JSON with ``--json``); everything else (progress, logs, errors) goes to stderr.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.text import Text

from talkavatar.errors import TalkavatarError, UsageError

BUNDLE_ENV = "TALKAVATAR_BUNDLE"


@dataclass
class GlobalFlags:
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    standalone: bool = False  # run as the `talkavatar` program (not a CliRunner in tests)


flags = GlobalFlags()
# soft_wrap: a long line stays one line (a log file or CI keeps it whole; a terminal wraps it at its own edge).
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

BundleOpt = Annotated[Optional[Path], typer.Option(
    "--bundle", "-b", help=f"Avatar bundle directory. (default: ${BUNDLE_ENV}, else the only *.avatar/ here)",
    show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo the stage even if its inputs have not changed.")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="TOML file whose [<command>] table sets defaults; flags override it.", show_default=False)]
DeviceOpt = Annotated[Optional[str], typer.Option(
    "--device", help="Compute device: auto, cpu, cuda or cuda:N. (default: auto)", show_default=False)]


def _line(label: str | None, style: str, message: str) -> Text:
    """``label: message`` with only the label styled: the message is plain text, never markup, so user text in
    square brackets (``photo[red].jpg``, ``pip install 'talkavatar[eval]'``) reaches the terminal as it is."""
    return Text.assemble((f"{label}: ", style), message) if label else Text(message, style=style)


def log(message: str) -> None:
    """A progress/log line on stderr, unless --quiet."""
    if not flags.quiet:
        stderr.print(_line(None, "", message))


def warn(message: str) -> None:
    if not flags.quiet:
        stderr.print(_line("warning", "yellow", message))


def error(message: str, tip: str | None = None) -> None:
    """The one-line error (and its ``tip:``) a failed command ends with; shown even with --quiet."""
    stderr.print(_line("error", "red", message))
    if tip:
        stderr.print(_line("tip", "dim", tip))


def resolve_bundle(path: Path | None, must_exist: bool = True) -> Path:
    """``--bundle``, else ``$TALKAVATAR_BUNDLE``, else the only ``*.avatar/`` directory in the working directory."""
    if path is None and os.environ.get(BUNDLE_ENV):
        path = Path(os.environ[BUNDLE_ENV])
    if path is not None:
        return path
    found = sorted(p for p in Path.cwd().glob("*.avatar") if p.is_dir())
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError("no avatar bundle given and none (*.avatar/) in this directory",
                         tip="pass -b/--bundle PATH, set $TALKAVATAR_BUNDLE, or make one with `talkavatar fit PHOTO`")
    names = ", ".join(p.name for p in found)
    raise UsageError(f"several avatar bundles here ({names}); which one?", tip="pass -b/--bundle PATH")


def emit(result: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print a command's result: JSON with ``--json``, else ``human`` (or ``key: value`` lines)."""
    if as_json:
        typer.echo(json.dumps(result, indent=2, default=str))
    elif human is not None:
        typer.echo(human)
    else:
        for key, value in result.items():
            typer.echo(f"{key}: {value}")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (a fit saves its checkpoint); exit status 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """While a command runs, SIGTERM (timeout, CI cancel, docker stop) and SIGHUP (closed terminal) raise
    :class:`Terminated` in the main thread, so they stop the work the way Ctrl-C does."""
    def handler(signum, frame):
        raise Terminated(signum)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


# OSErrors that mean "this input or output path is wrong" (exit 3) rather than "the machine failed" (exit 1).
_PATH_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENOENT,
                errno.ENAMETOOLONG}


def _os_error(e: OSError) -> int:
    where = e.filename if e.filename is not None else ""
    error(f"{where}: {e.strerror or e}" if where else f"{e.strerror or e}",
          tip="choose a path you can write to (-o/--bundle)" if e.errno in _PATH_ERRNOS else None)
    return 3 if e.errno in _PATH_ERRNOS else 1


def report_errors(command: Callable) -> Callable:
    """Turn :class:`TalkavatarError` into a one-line message (+ ``tip:``) and its exit status; an OSError (a disk
    that filled up or went read-only mid-run) into one line too. Ctrl-C exits 130, SIGTERM 143, SIGHUP 129.

    With ``--debug`` the traceback is shown instead.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        quiet = flags.quiet or not flags.verbose
        _quiet_third_parties(quiet)
        try:
            with _signals_as_interrupts(), _native_stderr_hidden(quiet and not flags.debug):
                return command(*args, **kwargs)
        except TalkavatarError as e:
            if flags.debug:
                raise
            error(e.message, e.tip)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt as e:
            if flags.debug:
                raise
            signum = e.signum if isinstance(e, Terminated) else signal.SIGINT
            stderr.print(_line(None, "", f"interrupted ({signal.Signals(signum).name})"))
            raise typer.Exit(128 + signum) from None
        except MemoryError:
            if flags.debug:
                raise
            error("out of memory", tip="try a smaller preset, resolution or --max-frames")
            raise typer.Exit(1) from None
        except OSError as e:
            if flags.debug:
                raise
            raise typer.Exit(_os_error(e)) from None
    return wrapper


@contextmanager
def _native_stderr_hidden(hide: bool) -> Iterator[None]:
    """While ``hide``: what native libraries write straight to file descriptor 2 (MediaPipe's glog/absl lines,
    TFLite's "Created TensorFlow Lite XNNPACK delegate") goes to a scratch file, while Python's ``sys.stderr`` (our
    logs, progress, errors) keeps the real stderr. Shown with ``--verbose`` or ``--debug``."""
    try:
        real = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (CliRunner): nothing native can reach it
        real = -1
    if not hide or real != 2:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    with tempfile.TemporaryFile() as scratch:
        os.dup2(scratch.fileno(), 2)
        sys.stderr = os.fdopen(saved, "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace",
                               closefd=False)
        try:
            yield
        finally:
            sys.stderr.flush()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)


def _quiet_third_parties(quiet: bool) -> None:
    """Progress follows ``-q``; Python warnings from torch and friends show only with ``--verbose`` (native log
    lines: :func:`_native_stderr_hidden`)."""
    from talkavatar import progress

    progress.settings.enabled = not flags.quiet
    if quiet:
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)


def shows_progress() -> bool:
    """Whether stages report progress: a bar on a terminal, plain lines otherwise (:mod:`talkavatar.progress`)."""
    return not flags.quiet
