"""Audio loading: any container/codec ffmpeg reads (wav, flac, mp3, ogg, m4a, ...), any rate, mono or stereo.

Files libsndfile reads at :data:`SAMPLE_RATE` already (wav, flac, ogg/vorbis...) are read in-process with
``soundfile`` (channels averaged, like ffmpeg's downmix); everything else streams through the ffmpeg binary
(``imageio_ffmpeg`` bundles one), which also downmixes to mono and resamples. Audio arrives in fixed-size blocks
so that memory stays bounded for long files. Samples are 16-bit signed PCM ``int16`` arrays ``[n]``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from talkavatar.errors import InvalidInput
from talkavatar.ffmpeg import ffmpeg_exe

SAMPLE_RATE = 16_000
BLOCK_SECONDS = 10.0


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise InvalidInput(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise InvalidInput(f"{path}: empty file (0 bytes)", tip="pass a speech recording: wav, flac, mp3, ogg or m4a")


def iter_pcm_blocks(path: Path, block_seconds: float = BLOCK_SECONDS,
                    sample_rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Decode ``path`` to mono ``int16`` PCM at ``sample_rate``, yielding blocks ``[<= block_seconds * rate]``.

    Raises :class:`InvalidInput` (exit 3) for missing, empty or non-audio files.
    """
    path = Path(path)
    _check_readable(path)
    native = _soundfile_blocks(path, block_seconds, sample_rate)
    if native is not None:
        yield from native
        return
    cmd = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1",
           "-ar", str(sample_rate), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    block_bytes = 2 * max(1, int(block_seconds * sample_rate))
    got_any = False
    try:
        while True:
            data = proc.stdout.read(block_bytes)
            if not data:
                break
            got_any = True
            yield np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        code = proc.wait()
    if code != 0 or not got_any:
        reason = err.splitlines()[-1] if err else "no audio stream"
        raise InvalidInput(f"{path}: not a readable audio file ({reason})",
                           tip="pass a speech recording: wav, flac, mp3, ogg or m4a")


def _soundfile_blocks(path: Path, block_seconds: float, sample_rate: int) -> Iterator[np.ndarray] | None:
    """Blocks read by libsndfile when it knows the format and the rate needs no conversion, else None."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, TypeError):
        return None
    if info.samplerate != sample_rate or info.frames <= 0:
        return None

    def blocks() -> Iterator[np.ndarray]:
        size = max(1, int(block_seconds * sample_rate))
        try:
            for block in sf.blocks(str(path), blocksize=size, dtype="int16", always_2d=True):
                if block.shape[1] == 1:
                    yield block[:, 0].copy()
                else:
                    yield (block.astype(np.int32).sum(axis=1) // block.shape[1]).astype(np.int16)
        except (RuntimeError, sf.LibsndfileError) as e:
            raise InvalidInput(f"{path}: not a readable audio file ({e})",
                               tip="pass a speech recording: wav, flac, mp3, ogg or m4a") from None

    return blocks()


def load_pcm(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole file as mono ``int16`` PCM ``[n]`` at ``sample_rate`` (for short clips and tests)."""
    blocks = list(iter_pcm_blocks(path, sample_rate=sample_rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.int16)


