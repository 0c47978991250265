"""`talkavatar view`: Play the avatar in your browser: serves a web player on localhost and prints its URL."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from talkavatar.cli.common import BundleOpt, log, report_errors, resolve_bundle, warn
from talkavatar.cli.export import AudioOpt, MotionOpt, TranscriptOpt
from talkavatar.config import resolve
from talkavatar.errors import InvalidInput
from talkavatar.export.config import ExportConfig

NAME = "view"
HELP = "Play the avatar in your browser: serves a web player on localhost and prints its URL."
EPILOG = ("Examples:  talkavatar view player/ ; talkavatar view -b photo.avatar --audio speech.wav ; "
          "talkavatar view photo.avatar --port 0 --open")
NO_ARGS_IS_HELP = False


@report_errors
def command(
    path: Annotated[Optional[Path], typer.Argument(
        help="A web player folder (from `talkavatar export --format web`) or an avatar bundle. (default: -b)",
        show_default=False)] = None,
    bundle: BundleOpt = None,
    audio: AudioOpt = None,
    motion: MotionOpt = None,
    transcript: TranscriptOpt = None,
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the URL in the default browser.")] = False,
) -> None:
    from talkavatar.export.serve import MARKER, player_server, url_of

    if path is not None and (path / MARKER).is_file():
        directory, scratch = path, None
    elif path is not None and not (path / "bundle.json").is_file():
        raise InvalidInput(f"{path} is neither a web player folder (no {MARKER}) nor an avatar bundle",
                           tip="pass a folder from `talkavatar export --format web -o DIR`, or a bundle")
    else:
        from talkavatar.audio.stage import transcript_text
        from talkavatar.pipeline.export import export_input

        settings = resolve(ExportConfig, "export", None, {"format": "web"})
        scratch = Path(tempfile.mkdtemp(prefix="talkavatar-view-"))
        directory = scratch / "player"
        export_input(path or resolve_bundle(bundle), settings, directory, audio=audio, motion=motion,
                     transcript=transcript_text(transcript), log=log, warn=warn)
    try:
        server = player_server(directory, port)
        url = url_of(server)
        typer.echo(url)
        log("serving the player; Ctrl-C stops")
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        try:
            server.serve_forever()
        finally:
            server.server_close()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
