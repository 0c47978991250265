"""Real recorded speech in Czech and Dutch with transcripts: the spoken dialogues of Fish Fillets NG.

Debian ``fillets-ng-data`` (dialogue texts, ``script/<level>/dialogs_<lang>.lua``) with ``fillets-ng-data-cs``
and ``fillets-ng-data-nl`` (the voice recordings, ``sound/<level>/<lang>/<id>.ogg``). Licence: GPL-2 (Debian
copyright file; upstream fillets.sourceforge.net, ALTAR interactive and the translators). Acted dialogue by
professional (cs) and volunteer (nl) voice actors, 22 kHz Ogg Vorbis, mostly 1-10 s lines.

Levels are split once by name: levels whose name starts with a-m are the development set (used to choose
constants), n-z the test set (reported).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path("/usr/share/games/fillets-ng")
LANGUAGES = ("cs", "nl")
_ENTRY = re.compile(r'dialogId\("([^"]+)",\s*"[^"]*",\s*"(?:[^"\\]|\\.)*"\)\s*dialogStr\("((?:[^"\\]|\\.)*)"\)')


def lines(language: str, split: str = "test") -> list[tuple[Path, str]]:
    """``(ogg path, transcript)`` of every recorded line in ``language`` (cs, nl) of the ``split`` (dev, test)."""
    if not (ROOT / "script").is_dir() or not (ROOT / "sound").is_dir():
        raise SystemExit("needs Debian fillets-ng-data, fillets-ng-data-cs and fillets-ng-data-nl: "
                         "apt-get install -y fillets-ng-data fillets-ng-data-cs fillets-ng-data-nl")
    out = []
    for script in sorted((ROOT / "script").glob(f"*/dialogs_{language}.lua")):
        level = script.parent.name
        if (level[0] <= "m") != (split == "dev"):
            continue
        for ident, text in _ENTRY.findall(script.read_text(encoding="utf-8", errors="replace")):
            ogg = ROOT / "sound" / level / language / f"{ident}.ogg"
            text = text.replace('\\"', '"').strip()
            if ogg.is_file() and re.search(r"\w", text):
                out.append((ogg, text))
    return out
