"""IPA phones -> the viseme names of :mod:`talkavatar.audio.visemes` (any language).

Lip shapes depend on where and how a sound is made, which IPA spells out: a phone is reduced to its base symbol
(stress, length, tone, and diacritics such as aspiration, palatalisation or nasalisation dropped; they change the
lips little), then looked up here. Affricates and diphthongs are looked up whole first (``tʃ``, ``ts``, ``pf``,
``aɪ``, ``oʊ``) and otherwise by their first symbol, the one the lips shape first. The classes follow the ARPAbet
table of the English path (``EY`` -> ``I``, ``OW`` -> ``O``, ``R`` -> ``RR``), so both paths agree on English.
"""

from __future__ import annotations

import unicodedata

_BASE: dict[str, str] = {
    **dict.fromkeys("pbmɓʙ", "PP"),
    **dict.fromkeys("fvɱʋɸβ", "FF"),
    **dict.fromkeys("θð", "TH"),
    **dict.fromkeys("tdʈɖɗcɟ", "DD"),
    **dict.fromkeys("nlɲɳɫɭʎɾɽɺɬɮʟr", "nn"),
    **dict.fromkeys("kgɡŋhɦxɣχʁqɢʀɴħʕʔɰçʝɧ", "kk"),
    **dict.fromkeys("ʃʒɕʑʂʐ", "CH"),
    **dict.fromkeys("sz", "SS"),
    **dict.fromkeys("ɹɻɝɚ", "RR"),
    **dict.fromkeys("uʊwyʏʉɥ", "U"),
    **dict.fromkeys("oɔɒøœɵɞ", "O"),
    **dict.fromkeys("aɑæäɐɶ", "aa"),
    **dict.fromkeys("eɛəʌɜɘɤ", "E"),
    **dict.fromkeys("iɪjɨɯᵻ", "I"),
}
_WHOLE: dict[str, str] = {
    "tʃ": "CH", "dʒ": "CH", "tɕ": "CH", "dʑ": "CH", "tʂ": "CH", "dʐ": "CH", "ts": "SS", "dz": "SS", "pf": "PP",
    "aɪ": "aa", "aʊ": "aa", "aj": "aa", "aw": "aa", "eɪ": "I", "ej": "I", "oʊ": "O", "əʊ": "O", "ɔɪ": "O",
    "ɔj": "O",
    # eSpeak NG writes Cantonese vowels in Jyutping: ei is [ei] (as eɪ); eo [ɵ], eoi [ɵy], oe [œ] are rounded.
    "ei": "I", "eo": "O", "oe": "O",
}
# Marks that do not change the base phone: stress, length, tone letters and digits, ties, modifier letters.
_DROP = set("ˈˌːˑ˘‿͜͡˥˦˧˨˩꜔¹²³⁴⁵⁰⁻0123456789ʰʱʲʷˠˤˀ˞ᵝᵊ̃.-_|%,~")


def base_phone(phone: str) -> str:
    """``phone`` without stress, length, tone, ties and diacritics (``"ˈaː"`` -> ``"a"``, ``"t͡ʃʰ"`` -> ``"tʃ"``)."""
    decomposed = unicodedata.normalize("NFD", phone)
    kept = "".join(c for c in decomposed if c not in _DROP and unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", kept).replace("g", "ɡ")


def ipa_viseme(phone: str) -> str:
    """Viseme of an IPA phone; empty, unknown or silence phones map to ``sil``."""
    base = base_phone(phone)
    if not base:
        return "sil"
    for n in (3, 2):
        if base[:n] in _WHOLE:
            return _WHOLE[base[:n]]
    return _BASE.get(base[0], "sil")
