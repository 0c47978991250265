"""The drive-audio stage's settings (one frozen dataclass; CLI options are named like its fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from talkavatar.config import setting

STYLES = ("calm", "lively")
FORMATS = ("motion", "arkit-csv")
LANGUAGE_PATTERN = r"auto|any|[a-z]{2,3}([-_][A-Za-z0-9]+)*"     # eSpeak NG codes: de, cmn, en-gb, pt-br, ...


@dataclass(frozen=True)
class DriveAudioConfig:
    fps: float = setting(30.0, "Frames per second of the motion.")
    seed: int = setting(0, "Random seed for blinks, head sway and gesture choice (same seed, same motion).")
    style: str = setting("calm", "Speaking style, calm or lively: gesture amplitude and frequency, head motion.")
    gestures: bool = setting(True, "Co-speech gestures; --no-gestures keeps face, head and idle body only.")
    format: str = setting("motion", "Output format: motion (.motion.safetensors) or arkit-csv (Live Link Face CSV).")
    language: str = setting("auto", "Language of the speech: auto (English or not, from the audio or the "
                                    "transcript's letters), en (the fast English recogniser), any (the "
                                    "language-independent recogniser), or an eSpeak NG code (de, fr, es, cs, cmn, "
                                    "yue, ja, ru, hi, ...; needed with --transcript in that language).")

    def __post_init__(self):
        if not (isinstance(self.fps, (int, float)) and 1.0 <= float(self.fps) <= 240.0):
            raise ValueError(f"fps must be between 1 and 240, got {self.fps!r}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not (isinstance(self.language, str) and re.fullmatch(LANGUAGE_PATTERN, self.language)):
            raise ValueError(f"language must be auto, any or a language code such as en, de, cmn; "
                             f"got {self.language!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
