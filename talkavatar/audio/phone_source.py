"""Where drive-audio's phones come from: recognition or transcript alignment, English or any language.

:class:`PhoneSource` takes the audio block by block (``feed``) and returns timed phones (``finish``) from one of
four paths (see :mod:`talkavatar.audio.language` for how ``--language`` picks one):

======================  ============================================  ==========================================
                        no transcript                                 transcript
======================  ============================================  ==========================================
English (``en``)        phone loop on pocketsphinx's en-us model      pocketsphinx forced alignment (ARPAbet)
any other language      hama's IPA recogniser                         eSpeak NG phones, CTC-aligned on hama
======================  ============================================  ==========================================

Recognition streams (memory bounded by a block); alignment keeps the whole recording. With ``auto`` and no
transcript, audio is held until :data:`PROBE_HOLD_SECONDS` are in (or the end), the probe decides, and the held
audio is then recognised.
"""

from __future__ import annotations

import shutil

import numpy as np

from talkavatar.audio import language as lang
from talkavatar.audio.ctc_align import align_ipa, spoken_language
from talkavatar.audio.g2p import check_language, ipa_words
from talkavatar.audio.load import SAMPLE_RATE
from talkavatar.audio.phone_loop import PhoneRecognizer
from talkavatar.audio.phones import PhoneAligner, PhoneSegment, transcript_words
from talkavatar.audio.universal import blank_id, decode_block, log_probs
from talkavatar.errors import UsageError

PROBE_HOLD_SECONDS = 20.0
ENGLISH_RECOGNISER, UNIVERSAL_RECOGNISER = "pocketsphinx-en-us", "hama-ipa"


class PhoneSource:
    """Feed int16 16 kHz blocks, then ``finish()``; ``language``, ``recogniser``, ``lip_sync`` and ``warnings``
    say what ran (``language`` is ``"any"`` when the language-independent recogniser ran without a known language)."""

    def __init__(self, language: str = "auto", transcript: str | None = None):
        self.warnings: list[str] = []
        self.held: list[np.ndarray] = []
        self.recognizer: PhoneRecognizer | None = None
        self.words: list[str] = []              # English transcript words the dictionary knows
        self.ipa: list[list[str]] = []          # another language's transcript, as IPA phones per word
        self.undecided = ""                     # a transcript whose letters did not tell its language
        self.known: list[str] = []              # its words the English dictionary knows
        self.lip_sync = "recognition"
        self.language = language
        if language == "any" and transcript and transcript.strip():
            raise UsageError("--transcript needs the language it is written in",
                             tip="pass --language CODE (e.g. de, cmn), or --language auto")
        if language not in ("auto", "any") and not lang.is_english(language) and shutil.which("espeak-ng"):
            check_language(language)            # a typo is an error even where no transcript needs eSpeak
        if transcript and transcript.strip():
            self._prepare_transcript(transcript)
        if not self.aligning and self.language != "auto":
            self._start_recognizer()

    @property
    def aligning(self) -> bool:
        return bool(self.words or self.ipa or self.undecided)

    @property
    def recogniser(self) -> str:
        return ENGLISH_RECOGNISER if lang.is_english(self.language) else UNIVERSAL_RECOGNISER

    def _prepare_transcript(self, text: str) -> None:
        aligner = PhoneAligner() if self.language in ("auto", "en") or lang.is_english(self.language) else None
        words = transcript_words(text)
        if aligner is not None:
            known, missing = aligner.known_words(words)
            if self.language == "auto":
                self.language = lang.transcript_language(text, len(known) / max(len(words), 1)) or "auto"
                if self.language == "auto":             # the audio tells (_align), among Latin-script languages
                    self.undecided, self.known = text, known
                    return
            if lang.is_english(self.language):
                self.aligner, self.words = aligner, known
                if missing:
                    self.warnings.append(f"{len(missing)} transcript word(s) not in the pronouncing dictionary "
                                         "were skipped: " + ", ".join(sorted(set(missing))[:8]))
                return

        self.ipa = ipa_words(text, self.language)

    def _start_recognizer(self) -> None:
        if lang.is_english(self.language):
            self.recognizer = PhoneRecognizer()
        else:
            self.recognizer = PhoneRecognizer(decode=decode_block)
        for block in self.held:
            self.recognizer.feed(block)
        self.held = []

    def _probe(self) -> None:
        """Decide between the English and the language-independent recogniser on the held audio."""
        if not self.held:                       # no audio at all: nothing to tell, the cheap path
            self.language = "en"
            self._start_recognizer()
            return
        window = lang.probe_window(np.concatenate(self.held), SAMPLE_RATE)
        english = lang.sounds_english(lang.posterior_entropy(log_probs(window), blank_id()))
        self.language = "en" if english else "any"
        self._start_recognizer()

    def feed(self, block: np.ndarray) -> None:
        if self.recognizer is not None:
            self.recognizer.feed(block)
            return
        self.held.append(block)
        if not self.aligning and sum(map(len, self.held)) >= PROBE_HOLD_SECONDS * SAMPLE_RATE:
            self._probe()

    def finish(self) -> list[PhoneSegment]:
        if self.aligning:
            segments = self._align()
            if segments is not None:
                self.lip_sync = "alignment"
                return segments
            self.warnings.append("the transcript could not be aligned to the audio; recognised phones instead")
            self._probe() if self.language == "auto" else self._start_recognizer()
        elif self.recognizer is None:
            self._probe()
        return self.recognizer.finish()

    def _align(self) -> list[PhoneSegment] | None:
        pcm = np.concatenate(self.held) if self.held else np.zeros(0, np.int16)
        scores = None
        if self.undecided:
            scores = log_probs(pcm)
            self.language = spoken_language(scores, self.undecided, lang.SPOKEN_CANDIDATES) or "auto"
            if self.language == "auto":
                return None
            self.warnings.append(f"the transcript's letters did not tell its language; read as {self.language}, "
                                 "whose dictionary knows most of its words (pass --language to choose)")
            if lang.is_english(self.language):
                self.aligner, self.words = PhoneAligner(), self.known
            else:
                self.ipa = ipa_words(self.undecided, self.language)
        if self.words:
            return self.aligner.align(pcm, self.words)
        return align_ipa(pcm, self.ipa, scores, self.language)
