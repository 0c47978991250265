"""Shell completion scripts (Typer's shims), as printed by ``_TALKAVATAR_COMPLETE=source_<shell> talkavatar``."""

from __future__ import annotations

import os
import subprocess
import sys

SHELLS = {"bash": "talkavatar.bash", "zsh": "_talkavatar", "fish": "talkavatar.fish"}


def build(shell: str) -> str:
    env = {**os.environ, "_TALKAVATAR_COMPLETE": f"source_{shell}"}
    result = subprocess.run([sys.executable, "-m", "talkavatar"], env=env, capture_output=True, text=True,
                            check=True)
    return result.stdout if result.stdout.endswith("\n") else result.stdout + "\n"
