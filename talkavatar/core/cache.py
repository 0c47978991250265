"""Where talkavatar keeps its caches across processes: ``$TALKAVATAR_CACHE_DIR``, default ``~/.cache/talkavatar``
(the Anny body-model data, the UV bindings of UV layouts, what made each output of render/drive-audio/export)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "TALKAVATAR_CACHE_DIR"


def cache_root() -> Path:
    """``$TALKAVATAR_CACHE_DIR``, else ``~/.cache/talkavatar`` (not created here)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "talkavatar")
