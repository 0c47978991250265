"""What every command shares: global flags, option aliases, bundle resolution, error reporting, output.

stdout carries results (paths, or JSON with ``--json``); everything else (progress, logs, errors) goes to stderr.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from talkavatar.errors import TalkavatarError, UsageError

BUNDLE_ENV = "TALKAVATAR_BUNDLE"


@dataclass
class GlobalFlags:
    quiet: bool = False
    verbose: bool = False
    debug: bool = False


flags = GlobalFlags()
stderr = Console(stderr=True, highlight=False)

BundleOpt = Annotated[Optional[Path], typer.Option(
    "--bundle", "-b", help=f"Avatar bundle directory. (default: ${BUNDLE_ENV}, else the only *.avatar/ here)",
    show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Redo the stage even if its inputs have not changed.")]
ConfigOpt = Annotated[Optional[Path], typer.Option(
    "--config", help="TOML file whose [<command>] table sets defaults; flags override it.", show_default=False)]
DeviceOpt = Annotated[Optional[str], typer.Option(
    "--device", help="Compute device: auto, cpu, cuda or cuda:N. (default: auto)", show_default=False)]


def log(message: str) -> None:
    """A progress/log line on stderr, unless --quiet."""
    if not flags.quiet:
        stderr.print(message)


def warn(message: str) -> None:
    if not flags.quiet:
        stderr.print(f"[yellow]warning:[/yellow] {message}")


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


def report_errors(command: Callable) -> Callable:
    """Turn :class:`TalkavatarError` into a one-line message (+ ``tip:``) and its exit status.

    With ``--debug`` the traceback is shown instead. Ctrl-C exits 130.
    """
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except TalkavatarError as e:
            if flags.debug:
                raise
            stderr.print(f"[red]error:[/red] {e.message}", soft_wrap=True)
            if e.tip:
                stderr.print(f"[dim]tip:[/dim] {e.tip}", soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            if flags.debug:
                raise
            stderr.print("interrupted")
            raise typer.Exit(130) from None
        except MemoryError:
            if flags.debug:
                raise
            stderr.print("[red]error:[/red] out of memory", soft_wrap=True)
            stderr.print("[dim]tip:[/dim] try a smaller preset, resolution or --max-frames")
            raise typer.Exit(1) from None
    return wrapper


def is_interactive() -> bool:
    return sys.stderr.isatty() and not flags.quiet
