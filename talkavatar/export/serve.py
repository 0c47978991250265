"""Serve a web player folder on localhost (``talkavatar view``): a plain static file server, nothing else."""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from talkavatar.errors import InvalidInput

MARKER = "avatar.json"  # a web player folder has it (talkavatar.export.web writes it); this module needs no torch

TYPES = {".js": "text/javascript", ".json": "application/json", ".bin": "application/octet-stream",
         ".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4"}


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def player_server(directory: Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server (not yet serving) for the player in ``directory``; ``port`` 0 picks a free one."""
    directory = Path(directory)
    if not (directory / MARKER).is_file():
        raise InvalidInput(f"{directory} is not a talkavatar web player (no {MARKER})",
                           tip="make one with `talkavatar export --format web -o DIR`, or pass a bundle")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        raise InvalidInput(f"cannot listen on {host}:{port} ({e.strerror or e})",
                           tip="pick another --port (0: any free port)") from None


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/index.html"
