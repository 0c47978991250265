"""The audio muxed beside the frames, and how it is kept in sync.

Sync rule: the video's first frame is shown at t = 0 and so is the first audio sample of the clip (``start``
seconds into the file, cut by input seeking, which decodes up to the exact sample). The audio lasts ``seconds``
(the clip's duration) and the video ``frames / fps`` with ``frames = round(seconds * fps)``, so the two end
within half a frame of each other. ffmpeg's MP4 muxer writes an edit list that hides the AAC encoder's priming
samples, so players start the audio at 0 as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg



@dataclass(frozen=True)
class AudioTrack:
    """``seconds`` of ``path`` from ``start`` seconds in."""

    path: Path
    start: float
    seconds: float

    def ffmpeg_stream(self):
        """The ffmpeg-python audio stream of this cut."""
        options = {"t": f"{self.seconds:.6f}"}
        if self.start > 0:
            options["ss"] = f"{self.start:.6f}"
        return ffmpeg.input(str(self.path), **options).audio
