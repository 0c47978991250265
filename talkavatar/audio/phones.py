"""Phone timings from speech with pocketsphinx (bundled en-us model): all-phone recognition or forced alignment.

Both return :class:`PhoneSegment` lists in seconds with CMU/ARPAbet phone names (``SIL`` for silence, ``+NSN+``
style names for noises). Recognition streams: long audio is cut into utterances at the quietest 10 ms frame near
``UTTERANCE_SECONDS`` so memory does not grow with the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from talkavatar.audio.load import SAMPLE_RATE
from talkavatar.errors import MissingDependency

FRAME_RATE = 100  # pocketsphinx frames per second
UTTERANCE_SECONDS = 12.0
# Tuned on nothing but defaults' failure modes: a lower language weight and insertion penalty than the word
# decoder's let the phone loop follow the acoustics; beams stay wide (narrow ones lose the search on long audio).
ALLPHONE_OPTIONS = {"lw": 2.0, "pip": 0.3, "beam": 1e-20, "pbeam": 1e-20}


@dataclass(frozen=True)
class PhoneSegment:
    phone: str
    start: float
    end: float

    @property
    def centre(self) -> float:
        return 0.5 * (self.start + self.end)


def _pocketsphinx():
    try:
        import pocketsphinx
    except ImportError:
        raise MissingDependency("pocketsphinx is not installed (needed for lip sync)",
                                tip="pip install pocketsphinx==5.1.1") from None
    return pocketsphinx


def _segments(decoder, offset_s: float) -> list[PhoneSegment]:
    out = []
    for seg in decoder.seg():
        out.append(PhoneSegment(seg.word, offset_s + seg.start_frame / FRAME_RATE,
                                offset_s + (seg.end_frame + 1) / FRAME_RATE))
    return out


def _allphone_decoder():
    ps = _pocketsphinx()
    model = ps.get_model_path()
    return ps.Decoder(allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"), loglevel="FATAL",
                      **ALLPHONE_OPTIONS)


_worker_decoder = None


def _decode_utterance(pcm: np.ndarray, offset_s: float, decoder=None) -> list[PhoneSegment]:
    """All-phone segments of one utterance; the cepstral mean restarts from the model's prior every time, so the
    result does not depend on which decoder (process) ran the previous utterance."""
    global _worker_decoder
    if decoder is None:                       # in a worker process: one decoder per process
        if _worker_decoder is None:
            _worker_decoder = _PriorDecoder()
        decoder = _worker_decoder
    decoder.reset_cmn()
    if len(pcm) < SAMPLE_RATE // 20:
        return [PhoneSegment("SIL", offset_s, offset_s + len(pcm) / SAMPLE_RATE)] if len(pcm) else []
    decoder.decoder.start_utt()
    decoder.decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.decoder.end_utt()
    return _segments(decoder.decoder, offset_s)


class _PriorDecoder:
    """An all-phone decoder that remembers the model's prior cepstral mean to restart from."""

    def __init__(self):
        self.decoder = _allphone_decoder()
        self.prior = self.decoder.get_cmn()

    def reset_cmn(self) -> None:
        self.decoder.set_cmn(self.prior)


class PhoneRecognizer:
    """Streaming all-phone recognition: ``feed`` int16 blocks, then ``finish`` for the segments.

    Audio is cut into utterances of about ``utterance_seconds`` at quiet frames. With ``workers > 1`` the
    utterances of long files are decoded in that many forked worker processes (short files stay in-process);
    the output is the same either way.
    """

    def __init__(self, utterance_seconds: float = UTTERANCE_SECONDS, workers: int = 1):
        self.utterance_samples = int(utterance_seconds * SAMPLE_RATE)
        self.slack_samples = int(0.25 * utterance_seconds * SAMPLE_RATE)
        self.workers = max(1, int(workers))
        self.buffer = np.zeros(0, np.int16)
        self.offset_samples = 0
        self.pending: list = []            # futures or finished segment lists, in order
        self.pool = None
        self.decoder = None

    def _local_decoder(self) -> "_PriorDecoder":
        if self.decoder is None:
            self.decoder = _PriorDecoder()
        return self.decoder

    def _submit(self, pcm: np.ndarray, final: bool) -> None:
        offset = self.offset_samples / SAMPLE_RATE
        self.offset_samples += len(pcm)
        if self.workers > 1 and not (final and not self.pending):
            if self.pool is None:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
            # Bound memory: at most two utterances queued per worker.
            while sum(1 for f in self.pending if hasattr(f, "result") and not f.done()) >= 2 * self.workers:
                next(f for f in self.pending if hasattr(f, "result") and not f.done()).result()
            self.pending.append(self.pool.submit(_decode_utterance, pcm, offset))
        else:
            self.pending.append(_decode_utterance(pcm, offset, self._local_decoder()))

    def feed(self, pcm: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, pcm])
        while len(self.buffer) >= self.utterance_samples + self.slack_samples:
            cut = quietest_cut(self.buffer, self.utterance_samples, self.utterance_samples + self.slack_samples)
            self._submit(self.buffer[:cut], final=False)
            self.buffer = self.buffer[cut:]

    def finish(self) -> list[PhoneSegment]:
        self._submit(self.buffer, final=True)
        self.buffer = np.zeros(0, np.int16)
        try:
            out: list[PhoneSegment] = []
            for item in self.pending:
                out.extend(item.result() if hasattr(item, "result") else item)
            return out
        finally:
            if self.pool is not None:
                self.pool.shutdown()
                self.pool = None
            self.pending = []


def quietest_cut(pcm: np.ndarray, lo: int, hi: int) -> int:
    """Sample index in ``[lo, hi)`` at the start of the quietest 10 ms frame (a cut between words)."""
    hop = SAMPLE_RATE // FRAME_RATE
    frames = pcm[lo:hi][: (hi - lo) // hop * hop].astype(np.float32).reshape(-1, hop)
    return lo + int(np.argmin((frames ** 2).sum(axis=1))) * hop


def recognize_phones(pcm: np.ndarray, workers: int = 1) -> list[PhoneSegment]:
    """All-phone recognition of mono int16 ``pcm [n]`` at 16 kHz."""
    rec = PhoneRecognizer(workers=workers)
    rec.feed(pcm)
    return rec.finish()


def transcript_words(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters, digits, apostrophes) in order."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("’", "'"))


class PhoneAligner:
    """Forced alignment of a transcript to audio (pocketsphinx's word + phone alignment)."""

    def __init__(self):
        ps = _pocketsphinx()
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
