"""The video writer: raw frames piped into ffmpeg, which encodes and muxes them (never all frames in memory).

Formats:

* ``mp4``: H.264 (libx264, yuv420p, BT.709 tags) + AAC, ``+faststart`` (the index at the front, for streaming);
* ``webm``: VP9 (libvpx-vp9; yuva420p with alpha for a transparent background) + Opus;
* ``png``: a folder of ``frame_000000.png`` ... (RGBA when transparent, else RGB), plus ``audio.wav`` when there is
  audio.

ffmpeg is driven through ``ffmpeg-python`` (graph building) and run as a child process reading ``pipe:0``. Output
is atomic: ffmpeg writes a hidden temporary next to the target, renamed over it only once ffmpeg succeeded; on any
failure the temporary is removed, so no partial file is left behind. The temporary's name carries the writer's
pid; one left by a killed writer (SIGKILL, power loss) is removed by the next render to the same output.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import ffmpeg

from talkavatar.bundle.atomic import default_mode
from talkavatar.errors import StageFailed
from talkavatar.ffmpeg import ffmpeg_exe
from talkavatar.render.audio_track import AudioTrack

X264_PRESET = "superfast"  # ~2x veryfast's speed; 1080x1920 encodes must keep up with the GPU
X264_CRF = 18
VP9_CRF = 30
AAC_BITRATE = "192k"
OPUS_BITRATE = "128k"
AUDIO_RATE = 48_000  # what every player and Opus take; the input's rate (often 16 kHz speech) is resampled
BT709 = {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"}


def remove_stale_partials(directory: Path, prefix: str) -> list[Path]:
    """Remove ``directory/<prefix><pid>-*`` left by killed writers (their pid is gone; unnamed ones too); returns
    what it removed. A live writer's partial file stays."""
    removed = []
    for path in directory.glob(glob.escape(prefix) + "*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def rational(fps: float) -> str:
    """``fps`` as an exact ffmpeg rational (29.97 -> 30000/1001)."""
    f = Fraction(fps).limit_denominator(1001)
    return f"{f.numerator}/{f.denominator}"


def input_pixel_format(format: str, transparent: bool) -> str:
    """The raw pixel format the sink takes on stdin for ``format``."""
    if transparent:
        return "rgba"
    return "rgb24" if format == "png" else "yuv420p"


class VideoSink:
    """An ffmpeg child encoding frames written to it into ``path`` (see the module docstring).

    Usage: ``with VideoSink(...) as sink: sink.write(frame_bytes)``; leaving the block normally finishes the
    file, leaving it with an exception removes everything the sink wrote.
    """

    def __init__(self, path: Path, *, format: str, width: int, height: int, fps: float,
                 transparent: bool = False, audio: AudioTrack | None = None, crf: int | None = None):
        self.path = Path(path)
        self.crf = crf  # constant rate factor (None: X264_CRF / VP9_CRF)
        self.format = format
        self.width, self.height, self.fps = width, height, fps
        self.pixel_format = input_pixel_format(format, transparent)
        self.transparent = transparent
        self.audio = audio
        self.frames = 0
        self.proc: subprocess.Popen | None = None
        self.tmp = self._make_temporary()

    # ---- setup -----------------------------------------------------------------------------------------------
    def _make_temporary(self) -> Path:
        parent = self.path.parent
        prefix = f".{self.path.name}.partial-"
        try:
            parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(parent, prefix)
            if self.format == "png":
                return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
            fd, name = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", suffix=f".{self.format}", dir=parent)
            os.close(fd)
            return Path(name)
        except OSError as e:
            raise StageFailed(f"cannot write {self.path} ({e.strerror or e})",
                              tip="choose an output path in a writable directory (-o)") from None

    def command(self) -> list[str]:
        """The ffmpeg command line (built with ffmpeg-python)."""
        tags = BT709 if self.pixel_format == "yuv420p" else {}  # our frames are BT.709 Y'CbCr: say so
        video = ffmpeg.input("pipe:", format="rawvideo", pix_fmt=self.pixel_format,
                             s=f"{self.width}x{self.height}", framerate=rational(self.fps), **tags)
        if self.format == "png":
            outputs = [ffmpeg.output(video, str(self.tmp / "frame_%06d.png"), vcodec="png", start_number=0,
                                     pix_fmt="rgba" if self.transparent else "rgb24")]
            if self.audio is not None:
                outputs.append(ffmpeg.output(self.audio.ffmpeg_stream(), str(self.tmp / "audio.wav"),
                                             acodec="pcm_s16le"))
            graph = ffmpeg.merge_outputs(*outputs)
        elif self.format == "mp4":
            streams = [video] + ([self.audio.ffmpeg_stream()] if self.audio else [])
            options = dict(vcodec="libx264", pix_fmt="yuv420p", preset=X264_PRESET,
                           crf=X264_CRF if self.crf is None else self.crf, movflags="+faststart", format="mp4")
            if self.audio:
                options.update(acodec="aac", audio_bitrate=AAC_BITRATE, ar=AUDIO_RATE)
            graph = ffmpeg.output(*streams, str(self.tmp), **options)
        elif self.format == "webm":
            streams = [video] + ([self.audio.ffmpeg_stream()] if self.audio else [])
            options = dict(vcodec="libvpx-vp9", pix_fmt="yuva420p" if self.transparent else "yuv420p",
                           crf=VP9_CRF if self.crf is None else self.crf, video_bitrate="0", deadline="realtime",
                           **{"cpu-used": 8, "row-mt": 1}, format="webm")
            if self.audio:
                options.update(acodec="libopus", audio_bitrate=OPUS_BITRATE, ar=AUDIO_RATE)
            graph = ffmpeg.output(*streams, str(self.tmp), **options)
        else:
            raise ValueError(f"unknown format {self.format!r}")
        return [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *ffmpeg.get_args(graph)]

    # ---- writing ---------------------------------------------------------------------------------------------
    def __enter__(self) -> "VideoSink":
        self._log = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                         stderr=self._log)
        except BaseException:
            self._cleanup()
            raise
        return self

    def write(self, frames: bytes | memoryview, count: int = 1) -> None:
        """Send ``count`` frames of raw pixels (``pixel_format``, packed) to the encoder."""
        try:
            self.proc.stdin.write(frames)
        except (BrokenPipeError, OSError):
            self.proc.wait()
            raise StageFailed(f"ffmpeg stopped while encoding {self.path}: {self._error_text()}") from None
        self.frames += count

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None:
            self.abort()
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        code = self.proc.wait()
        if code != 0:
            message = self._error_text()
            self.abort()
            raise StageFailed(f"ffmpeg could not encode {self.path}: {message}")
        self._commit()

    def abort(self) -> None:
        """Stop ffmpeg and remove the temporary output."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._cleanup()

    def _error_text(self) -> str:
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.returncode}"

    def _cleanup(self) -> None:
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def _commit(self) -> None:
        try:
            os.chmod(self.tmp, default_mode(self.tmp.is_dir()))  # mkstemp/mkdtemp made it private
            if self.tmp.is_dir():
                old = None
                if self.path.is_dir():
                    old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
                    os.rename(self.path, old)
                os.rename(self.tmp, self.path)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.tmp, self.path)
        except OSError as e:
            self._cleanup()
            raise StageFailed(f"cannot write {self.path} ({e.strerror or e})") from None
        self._log.close()
