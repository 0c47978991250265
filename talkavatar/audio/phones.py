"""Phone timings: the segment type, and forced alignment of a transcript with pocketsphinx (bundled en-us model).

Segments are in seconds with CMU/ARPAbet phone names (``SIL`` for silence, ``+NSN+`` style names for noises).
Recognition without a transcript lives in :mod:`talkavatar.audio.phone_loop`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pocketsphinx

from talkavatar.audio.load import SAMPLE_RATE


FRAME_RATE = 100  # pocketsphinx frames per second


@dataclass(frozen=True)
class PhoneSegment:
    phone: str
    start: float
    end: float

    @property
    def centre(self) -> float:
        return 0.5 * (self.start + self.end)


def transcript_words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters, digits, apostrophes) in order."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


class PhoneAligner:
    """Forced alignment of a transcript to audio (pocketsphinx's word + phone alignment)."""

    def __init__(self):
        ps = pocketsphinx
        self.decoder = ps.Decoder(loglevel="FATAL")

    def known_words(self, words: list[str]) -> tuple[list[str], list[str]]:
        """``(in_dictionary, missing)`` words."""
        known, missing = [], []
        for w in words:
            (known if self.decoder.lookup_word(w) is not None else missing).append(w)
        return known, missing

    def align(self, pcm: np.ndarray, words: list[str]) -> list[PhoneSegment] | None:
        """Phone segments of ``words`` spoken in ``pcm``, or None when alignment fails."""
        if not words:
            return None
        raw = pcm.tobytes()
        try:
            self.decoder.set_align_text(" ".join(words))
            for second_pass in (False, True):
                if second_pass:
                    self.decoder.set_alignment()
                self.decoder.start_utt()
                self.decoder.process_raw(raw, full_utt=True)
                self.decoder.end_utt()
            alignment = self.decoder.get_alignment()
        except (RuntimeError, ValueError):
            return None
        if alignment is None:
            return None
        out = []
        for word in alignment:
            for phone in word:
                out.append(PhoneSegment(phone.name, phone.start / FRAME_RATE,
                                        (phone.start + phone.duration) / FRAME_RATE))
        if not out:
            return None
        # Trailing audio the aligner did not cover is silence.
        end = len(pcm) / SAMPLE_RATE
        if out[-1].end < end:
            out.append(PhoneSegment("SIL", out[-1].end, end))
        return out
