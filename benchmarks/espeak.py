"""Synthetic speech with exact phoneme timings from libespeak-ng (Debian ``libespeak-ng1``), via ctypes.

An engine-independent lip-sync reference: eSpeak reports each phoneme's onset in the audio it synthesises.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing

import numpy as np

# eSpeak NG (en-us) phoneme mnemonics -> the six evaluation classes.
ESPEAK_CLASS: dict[str, str] = {
    **dict.fromkeys(["p", "b", "m"], "bilabial"), **dict.fromkeys(["f", "v"], "labiodental"),
    **dict.fromkeys(["w", "u:", "U", "U@", "oU", "O:", "O", "O2", "O@", "OI", "o@", "3:", "3", "r", "r-", "@r"],
                    "rounded"),
    **dict.fromkeys(["a", "a#", "aa", "A:", "A@", "0", "V", "@", "@2", "@5", "E", "e@", "aI", "aU", "a2"], "open"),
    **dict.fromkeys(["t", "d", "n", "l", "s", "z", "S", "Z", "tS", "dZ", "k", "g", "N", "h", "T", "D", "j", "I",
                     "I2", "I#", "i:", "i", "i@", "i@3", "eI", "@L", "t#", "n-", "l/2"], "spread"),
    **dict.fromkeys(["_", "_:", "_!", "_^_"], "silence"),
}


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))
_PHONEME_EVENT, _LIST_END = 7, 0


def synthesize(text: str, voice: str = "en-us",
               ipa: bool = False) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
    """``(int16 audio [n], rate, [(phoneme, start_s, end_s), ...])`` for ``text``; phonemes in eSpeak's own
    mnemonics, or in IPA with ``ipa`` (truncated to 8 bytes of UTF-8 by the event structure).

    Each call synthesises in a fresh child process: libespeak-ng carries state from one synthesis to the next
    (the same sentence read twice in one process gave different audio, and ``espeak_Terminate`` then
    re-initialising hangs), so in-process audio depended on what had been read before it.
    """
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_synthesize, (text, voice, ipa))


def _synthesize(text: str, voice: str, ipa: bool) -> tuple[np.ndarray, int, list[tuple[str, float, float]]]:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    lib = ctypes.CDLL(name)
    chunks: list[np.ndarray] = []
    onsets: list[tuple[int, str]] = []

    @_CALLBACK
    def callback(wav, count, events):
        if count > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        i = 0
        while events[i].type != _LIST_END:
            if events[i].type == _PHONEME_EVENT:
                onsets.append((events[i].sample, events[i].id.string.decode(errors="replace")))
            i += 1
        return 0

    rate = lib.espeak_Initialize(2, 500, None, 3 if ipa else 1)      # synchronous, phoneme events (IPA) on
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_SetVoiceByName(voice.encode())
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    phones = []
    for k, (sample, name) in enumerate(onsets):
        end = onsets[k + 1][0] if k + 1 < len(onsets) else len(audio)
        if end > sample:
            phones.append((name, sample / rate, end / rate))
    return audio.astype(np.int16), rate, phones


SENTENCES = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "Please remember to buy bread, milk and a few ripe peaches on your way home.",
    "Every morning she walks along the river before the city wakes up.",
    "We moved the meeting to Thursday because half of the team was away.",
    "Could you open the window a little? It is very warm in here.",
    "My brother bought a blue umbrella, but he never remembers to bring it.",
    "The museum will show old maps, photographs and a few very rare books.",
    "Five hundred people voted for the new park near the harbour.",
    "If it rains tomorrow, we will have the party in the big barn.",
    "Good food and good friends make a long winter feel much shorter.",
)
"""Held-out text, written for this check (not tuned against)."""
