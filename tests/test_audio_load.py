"""Audio loading: every container/codec, resampling, stereo, bad files, bounded memory on long files."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from talkavatar.audio.load import SAMPLE_RATE, iter_pcm_blocks, load_pcm
from talkavatar.audio.prosody import ProsodyStream
from talkavatar.errors import InvalidInput
from tests.audio_fixtures import ffmpeg_convert, speech_like, write_wav


@pytest.fixture(scope="module")
def source_wav(tmp_path_factory):
    return write_wav(tmp_path_factory.mktemp("src") / "speech.wav", speech_like(3.0, 16000, seed=1))


@pytest.mark.parametrize("suffix,args", [
    (".wav", ()), (".flac", ()), (".mp3", ("-c:a", "libmp3lame")), (".ogg", ("-c:a", "libvorbis")),
    (".m4a", ("-c:a", "aac")),
])
def test_each_format_decodes_to_the_same_signal(tmp_path, source_wav, suffix, args):
    try:
        path = ffmpeg_convert(source_wav, tmp_path / f"speech{suffix}", *args)
    except Exception:
        if suffix in (".mp3", ".ogg"):   # encoders the bundled ffmpeg may lack; opus-in-ogg is the fallback
            path = ffmpeg_convert(source_wav, tmp_path / f"speech{suffix}", "-c:a", "libopus")
        else:
            raise
    ref = load_pcm(source_wav).astype(np.float64)
    got = load_pcm(path).astype(np.float64)
    assert abs(len(got) - len(ref)) < 0.1 * SAMPLE_RATE          # codec padding is small
    # Lossy codecs shift and colour the signal a little: compare loudness envelopes (50 ms frames).
    n = min(len(got), len(ref)) // 800 * 800
    env_ref = np.sqrt((ref[:n].reshape(-1, 800) ** 2).mean(1))
    best = max(np.corrcoef(env_ref, np.sqrt((np.roll(got, -s)[:n].reshape(-1, 800) ** 2).mean(1)))[0, 1]
               for s in range(0, 2400, 160))
    assert best > 0.95


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_sample_rate_is_resampled_to_16k(tmp_path, rate):
    seconds = 2.0
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    pcm = load_pcm(write_wav(tmp_path / f"tone{rate}.wav", tone, rate))
    assert abs(len(pcm) - seconds * SAMPLE_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(pcm) - 440.0) < 2.0


def test_stereo_is_downmixed(tmp_path):
    mono = speech_like(1.5, 16000, seed=2)
    stereo = np.stack([mono, np.zeros_like(mono)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 16000, subtype="PCM_16")
    pcm = load_pcm(path).astype(np.float64)
    expected = np.round(mono * 32767) / 2
    assert len(pcm) == len(mono)
    assert np.abs(pcm - expected).max() <= 2.0


def test_zero_byte_file_is_invalid_input(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match="empty"):
        load_pcm(empty)


def test_non_audio_file_is_invalid_input(tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(InvalidInput, match="not a readable audio file"):
        load_pcm(text)


def test_missing_file_is_invalid_input(tmp_path):
    with pytest.raises(InvalidInput, match="no such"):
        load_pcm(tmp_path / "nope.wav")


def test_ten_minutes_stream_in_bounded_memory(tmp_path):
    """Decoding and prosody of 10 min of audio never hold the whole file (38 MB as float32)."""
    rate = 16000
    piece = (speech_like(20.0, rate, seed=3) * 32767).astype(np.int16)
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", rate, 1, "PCM_16") as f:
        for _ in range(30):
            f.write(piece)
    tracemalloc.start()
    stream = ProsodyStream()
    samples = 0
    for block in iter_pcm_blocks(path):
        samples += len(block)
        stream.feed(block)
    prosody = stream.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert samples == 600 * rate
    assert prosody.frames == 600 * 100
    assert peak < 20e6, f"peak {peak / 1e6:.1f} MB (the whole file as float32 would be 38 MB)"
