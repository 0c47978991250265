"""The LibriVox clips of Debian's ``pocketsphinx-testdata`` (real read speech with transcripts), for benchmarks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def clips() -> list[tuple[Path, str]]:
    """``(wav path, transcript)`` pairs; raises SystemExit with the apt hint when the package is absent."""
    listing = LIBRIVOX / "transcription"
    if not listing.is_file():
        raise SystemExit("needs Debian pocketsphinx-testdata: apt-get install -y pocketsphinx-testdata")
    out = []
    for line in listing.read_text().splitlines():
        text, _, fid = line.rpartition("(")
        text = text.replace("<s>", "").replace("</s>", "").strip()
        out.append((LIBRIVOX / f"{fid.strip(' )')}.wav", text))
    return out


def concatenated(path: Path, seconds: float = 60.0, gap_s: float = 0.4) -> Path:
    """Write the clips one after another (with ``gap_s`` of silence) until ``seconds`` long, as 16 kHz wav."""
    parts, total = [], 0
    rate = 16000
    while total < seconds * rate:
        for wav, _ in clips():
            audio, rate = sf.read(wav, dtype="int16")
            parts += [audio, np.zeros(int(gap_s * rate), np.int16)]
            total += len(audio) + int(gap_s * rate)
    sf.write(path, np.concatenate(parts)[: int(seconds * rate)], rate)
    return path
