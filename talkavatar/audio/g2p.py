"""Grapheme to phoneme: a transcript in any of eSpeak NG's ~130 languages -> IPA phones, word by word.

Runs the ``espeak-ng`` program (Debian/Ubuntu ``espeak-ng``; GPL-3, a separate process, so nothing is linked)
with ``--ipa``. eSpeak switches to English for words it takes as English (``(en) ... (de)``); those markers are
dropped and the words kept. Language codes are eSpeak's (``de``, ``fr``, ``cmn``, ``yue``, ``vi``, ``ru``, ``hi``,
...; ``espeak-ng --voices`` lists them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache

from talkavatar.audio.config import LANGUAGE_PATTERN
from talkavatar.errors import MissingDependency, UsageError

_SWITCH = re.compile(r"\([a-z][a-z0-9-]*\)")


def espeak_exe() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingDependency("espeak-ng is not installed (needed to align a transcript in a language other "
                                "than English)", tip="apt-get install espeak-ng, or leave out --transcript")
    return exe


@lru_cache(maxsize=64)
def check_language(language: str) -> str:
    """``language`` if eSpeak NG has a voice for it, else :class:`UsageError` (exit 2)."""
    if language in ("auto", "any") or not re.fullmatch(LANGUAGE_PATTERN, language):
        raise UsageError(f"--language {language!r} is not a language code", tip="e.g. de, fr, es, cmn, ja, ru")
    probe = subprocess.run([espeak_exe(), "-q", "--ipa", "-v", language, "a"], capture_output=True, text=True)
    if probe.returncode != 0 or "Failed" in probe.stderr or "Error" in probe.stderr:
        raise UsageError(f"eSpeak NG has no voice for language {language!r}",
                         tip="`espeak-ng --voices` lists the codes")
    return language


def ipa_words(text: str, language: str) -> list[list[str]]:
    """IPA phones of each word of ``text`` read in ``language`` (stress and tone marks kept on the phones)."""
    check_language(language)
    run = subprocess.run([espeak_exe(), "-q", "--ipa", "--sep= ", "-v", language, "--stdin"],
                         input=text, capture_output=True, text=True, encoding="utf-8")
    if run.returncode != 0:
        raise UsageError(f"espeak-ng could not read the transcript ({run.stderr.strip()[:200]})")
    words: list[list[str]] = []
    for line in run.stdout.splitlines():
        for word in re.split(r" {2,}", _SWITCH.sub(" ", line)):
            phones = word.split()
            if phones:
                words.append(phones)
    return words


def dictionary_words(text: str, language: str) -> int:
    """How many words of ``text`` eSpeak NG finds in ``language``'s own pronouncing dictionary (its ``-X`` trace
    marks each with ``Found:`` or ``Flags:``; words it spells by its letter rules are not counted). Function
    words are in every language's dictionary, so the count tells which language a text is written in."""
    check_language(language)
    run = subprocess.run([espeak_exe(), "-q", "-X", "-v", language, "--stdin"], input=text, capture_output=True,
                         text=True, encoding="utf-8")
    return len(re.findall(r"^(?:Found|Flags): ", run.stdout, re.M))
