"""``--language``: which lip-sync path runs (English recogniser/aligner, or the language-independent one).

- ``en`` (or ``en-...``): pocketsphinx's en-us model (our phone-loop recogniser; its forced aligner with
  ``--transcript``). The fast path: ~200x real time per CPU second.
- ``any``: the language-independent recogniser, without a probe (no transcript).
- any other eSpeak NG language code (``de``, ``cs``, ``cmn``, ``ja``, ``ru``, ...): hama's IPA phone recogniser;
  with ``--transcript``, eSpeak NG's phones of the text aligned on it. About 10x real time per CPU second.
- ``auto``: with a transcript, its writing system tells (English words -> ``en``; Cyrillic, Greek, Arabic, Han,
  kana, Hangul, Devanagari, ... -> that script's main language; letters only some Latin languages use -> that
  language; where they do not tell, the one of :data:`SPOKEN_CANDIDATES` whose dictionary knows most of its
  words, the audio deciding ties). Without one, the first :data:`PROBE_SECONDS` of speech go through the
  language-independent recogniser, and speech it is sure of takes the English path (:func:`sounds_english`:
  hama's training speech is mostly English, and on other languages its frame posteriors are far less certain).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np


PROBE_SECONDS = 8.0
# Mean entropy (nats) of the recogniser's token posterior over the probe's non-blank frames below which speech is
# taken as English. Development clips (pocketsphinx-testdata cards/goforward/something; 20 lines each of the
# Fish Fillets cs/nl dev levels): English 0.25-0.53, Czech 1.04-1.63, Dutch 0.68-1.87. Sending other speech to
# the English recogniser costs more than the reverse (benchmarks/RESULTS.md, issue 25), so the cut sits low.
ENGLISH_ENTROPY = 0.6

# Scripts (by Unicode character name prefix) -> eSpeak NG language.
SCRIPTS = {"CYRILLIC": "ru", "GREEK": "el", "ARABIC": "ar", "HEBREW": "he", "DEVANAGARI": "hi", "BENGALI": "bn",
           "TAMIL": "ta", "TELUGU": "te", "THAI": "th", "GEORGIAN": "ka", "ARMENIAN": "hy", "HANGUL": "ko",
           "HIRAGANA": "ja", "KATAKANA": "ja", "CJK UNIFIED": "cmn", "GUJARATI": "gu", "KANNADA": "kn",
           "MALAYALAM": "ml", "GURMUKHI": "pa", "SINHALA": "si", "ETHIOPIC": "am", "MYANMAR": "my"}
# Letters that (among the common Latin-script languages) point to one language, checked in this order.
LATIN_LETTERS = (("vi", "ơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ"), ("cs", "ěřůťď"), ("sk", "ĺľŕô"),
                 ("pl", "ąęłńśźż"), ("ro", "ășțâ"), ("tr", "ğış"), ("hu", "őű"), ("pt", "ãõ"), ("es", "ñ¿¡"),
                 ("de", "ßäöü"), ("fr", "œçèêëîïûùÿ"), ("sv", "å"), ("da", "æø"), ("it", "ìò"), ("nl", "ĳ"))


# A Latin-script transcript whose letters do not tell its language is read as the one of these (eSpeak NG codes)
# whose dictionary knows most of its words, the audio deciding ties (ctc_align.spoken_language): the languages of
# LATIN_LETTERS. Not English:
# a transcript gets here only when the English dictionary lacks a fifth of its words, which its aligner would skip.
SPOKEN_CANDIDATES = tuple(language for language, _ in LATIN_LETTERS)


def is_english(language: str) -> bool:
    return language == "en" or language.startswith("en-")


def posterior_entropy(scores: np.ndarray, blank: int) -> float:
    """Mean entropy (nats) of the token posteriors ``exp(scores [F, V])`` over frames whose best token is not
    ``blank``; ``inf`` when there are none."""
    speech = scores.argmax(axis=1) != blank
    if not speech.any():
        return float("inf")
    lp = scores[speech]
    return float(-(np.exp(lp) * lp).sum(axis=1).mean())


def sounds_english(entropy: float) -> bool:
    return entropy < ENGLISH_ENTROPY


def transcript_language(text: str, english_words: float) -> str | None:
    """eSpeak NG language of a transcript from its letters, or None when they do not tell.

    ``english_words``: the share of its words the English pronouncing dictionary knows.
    """
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha() or ch.isascii():
            continue
        name = unicodedata.name(ch, "")
        for prefix, language in SCRIPTS.items():
            if name.startswith(prefix):
                counts[language] = counts.get(language, 0) + 1
                break
    letters = sum(ch.isalpha() for ch in text)
    if counts and max(counts.values()) >= 0.3 * letters:
        script = max(counts, key=counts.get)
        if script == "cmn" and counts.get("ja"):
            return "ja"                              # kanji with kana: Japanese
        return script
    lower = text.lower()
    for language, marks in LATIN_LETTERS:
        if any(ch in lower for ch in marks):
            return language
    if english_words >= 0.8 and re.search(r"[a-z]", lower):
        return "en"
    return None


def probe_window(pcm: np.ndarray, rate: int) -> np.ndarray:
    """The first :data:`PROBE_SECONDS` of ``pcm`` after leading silence."""
    frame = rate // 100
    energy = (pcm[: len(pcm) // frame * frame].astype(np.float32).reshape(-1, frame) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > 0.01 * energy.max()) if len(energy) else np.zeros(0, int)
    start = int(loud[0]) * frame if len(loud) else 0
    return pcm[start:start + int(PROBE_SECONDS * rate)]
