"""Regenerate ``man/`` and ``completions/`` from the code: ``python -m talkavatar.docs [REPO_ROOT]``."""

import sys
from pathlib import Path

from talkavatar.docs import artifacts

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
for rel, text in artifacts().items():
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(path)
